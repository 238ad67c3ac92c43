"""Adoption alerts as episodes: each fires once when its condition starts and resolves once
when it clears, so a consumer (pager, mail, dashboard) sees two transitions per episode and
never a repeat of the same news on every update.

The rules are pure: an ``AlertTracker`` holds one organisation's small state (open episodes, a
bounded per-day score history, recent operating levels) and turns ``OrgSnapshot`` values at
event time ``at`` into transitions. Nothing here reads a clock.

Alerts (product definition, section 4):

- ``component_below_threshold``: Reach below 95; Interact below 50 when the target level is
  Engaging or Co-creating (the public model's reference thresholds). One episode per component.
- ``score_drop``: the Engagement Score at least 10 points below its value 7 local days earlier.
- ``level_regression``: the operating level below a level it held within the last 30 days.
- ``below_target``: the operating level below the target level continuously for 14 days.

Threshold-like alerts resolve only once clear by ``hysteresis_points`` (default 1 point) so a
value hovering at a threshold does not fire an episode per update **(ours)**. An unknown value
(None) changes nothing: an open episode stays open, none starts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .levels import LEVELS, level_rank
from .rules import COMPONENTS

__all__ = [
    "ALERTS",
    "AlertRules",
    "AlertTracker",
    "AlertTransition",
    "OrgSnapshot",
    "Severity",
    "Status",
]

DAY = 86_400

#: Alert names, in the order ``AlertTracker.evaluate`` reports them.
ALERTS: tuple[str, ...] = (
    "component_below_threshold",
    "score_drop",
    "level_regression",
    "below_target",
)

Status = Literal["firing", "resolved"]
Severity = Literal["warning", "critical"]

_LABELS = {
    "reach": "Reach",
    "visit": "Visit",
    "view": "View",
    "interact": "Interact",
    "contribute": "Contribute",
    "initiation": "Initiation",
    "informing": "Informing",
    "engaging": "Engaging",
    "co_creating": "Co-creating",
}


@dataclass(frozen=True, slots=True)
class AlertRules:
    """Alert thresholds.

    ``reach_threshold`` / ``interact_threshold``: reference values of the public model; Interact
    only applies when the target level is in ``interact_target_levels``.
    ``score_drop_points`` over ``score_drop_days`` local days. ``below_target_seconds``: how long
    the operating level must stay below target. ``regression_window_seconds``: how long a level
    once held stays the reference for ``level_regression``. ``hysteresis_points``: how far past a
    threshold a value must come back before its episode resolves. Severity is ``critical`` when a
    component is more than ``critical_gap_points`` below its threshold, when the score dropped by
    ``score_drop_critical_points`` or more, or when the level fell by two levels or more.
    """

    reach_threshold: float = 95.0
    interact_threshold: float = 50.0
    interact_target_levels: frozenset[str] = frozenset({"engaging", "co_creating"})
    score_drop_points: float = 10.0
    score_drop_critical_points: float = 20.0
    score_drop_days: int = 7
    below_target_seconds: int = 14 * DAY
    regression_window_seconds: int = 30 * DAY
    hysteresis_points: float = 1.0
    critical_gap_points: float = 20.0

    def __post_init__(self) -> None:
        unknown = set(self.interact_target_levels) - set(LEVELS)
        if unknown:
            raise ValueError(f"unknown levels in interact_target_levels: {sorted(unknown)}")
        if self.score_drop_points <= 0:
            raise ValueError("score_drop_points must be positive")
        if self.score_drop_days < 1:
            raise ValueError("score_drop_days must be at least 1")
        if self.below_target_seconds < 0 or self.regression_window_seconds < 0:
            raise ValueError("durations must not be negative")
        if self.hysteresis_points < 0:
            raise ValueError("hysteresis_points must not be negative")

    def thresholds(self, target_level: str | None) -> dict[str, float]:
        """The component thresholds that apply for an organisation with this target."""
        applicable = {"reach": self.reach_threshold}
        if target_level in self.interact_target_levels:
            applicable["interact"] = self.interact_threshold
        return applicable


@dataclass(frozen=True, slots=True)
class OrgSnapshot:
    """What the alerts look at: one organisation's current figures and levels.

    ``values``: the five component values (None: no value). ``operating_level``: the level the
    ``LevelTracker`` announced (None before the first). ``local_day``: the tenant-local day
    ordinal of the evaluation time.
    """

    values: Mapping[str, float | None]
    score: float | None
    operating_level: str | None
    target_level: str | None
    local_day: int


@dataclass(frozen=True, slots=True)
class AlertTransition:
    """One alert episode starting (``firing``) or ending (``resolved``).

    ``value`` / ``threshold``: for ``component_below_threshold`` the component value and its
    threshold; for ``score_drop`` the drop in points and the alerting drop; for the two level
    alerts the level ranks (1 initiation .. 4 co_creating) of the operating level and of the
    level compared with. ``text`` says the same in a sentence. ``episode_id`` is
    ``alert/component-or-dash/start`` (start: when the episode fired), shared by both
    transitions of an episode; adapters prefix it with the organisation.
    """

    alert: str
    status: Status
    severity: Severity
    component: str | None
    value: float | None
    threshold: float | None
    text: str
    at: int
    episode_id: str


@dataclass(slots=True)
class _Episode:
    started: int
    severity: Severity


@dataclass(slots=True)
class _Check:
    """The outcome of one rule: ``active`` True/False, or None when it cannot be told."""

    active: bool | None
    severity: Severity = "warning"
    value: float | None = None
    threshold: float | None = None
    firing_text: str = ""
    resolved_text: str = ""


_Key = tuple[str, str | None]


def _fmt(x: float) -> str:
    return f"{round(x, 1):g}"


def _label(name: str | None) -> str:
    return "none" if name is None else _LABELS.get(name, name)


class AlertTracker:
    """One organisation's alert episodes. Not thread-safe; one writer.

    State, all bounded: open episodes (at most one per alert and component), the last score of
    each of the latest ``score_drop_days + 3`` local days, the last time each level was the
    operating level (four entries), and since when the level is below target.
    """

    __slots__ = ("below_since", "last_at", "level_seen", "open", "rules", "scores")

    def __init__(self, rules: AlertRules | None = None) -> None:
        self.rules = rules if rules is not None else AlertRules()
        self.open: dict[_Key, _Episode] = {}
        self.scores: dict[int, float] = {}  # local day -> last score seen that day
        self.level_seen: dict[str, int] = {}  # level -> last time it was the operating level
        self.below_since: int | None = None
        self.last_at: int | None = None

    # ---- evaluation ----------------------------------------------------------------------

    def evaluate(self, snapshot: OrgSnapshot, at: int) -> list[AlertTransition]:
        """Transitions caused by ``snapshot`` at event time ``at`` (older snapshots: none)."""
        if self.last_at is not None and at < self.last_at:
            return []
        self.last_at = at
        out: list[AlertTransition] = []
        thresholds = self.rules.thresholds(snapshot.target_level)
        for name in COMPONENTS:
            key: _Key = ("component_below_threshold", name)
            if name in thresholds:
                check = self._component_check(name, snapshot, thresholds[name])
            elif key in self.open:
                check = _Check(
                    False,
                    value=snapshot.values.get(name),
                    resolved_text=f"{_label(name)} no longer has a threshold for target level "
                    f"{_label(snapshot.target_level)}.",
                )
            else:
                continue
            self._step(key, check, at, out)
        self._step(("score_drop", None), self._score_check(snapshot), at, out)
        self._step(("level_regression", None), self._regression_check(snapshot, at), at, out)
        self._step(("below_target", None), self._target_check(snapshot, at), at, out)
        return out

    def _step(self, key: _Key, check: _Check, at: int, out: list[AlertTransition]) -> None:
        episode = self.open.get(key)
        if check.active is True and episode is None:
            episode = self.open[key] = _Episode(at, check.severity)
            out.append(self._transition(key, "firing", episode, check, check.firing_text, at))
        elif check.active is False and episode is not None:
            del self.open[key]
            out.append(self._transition(key, "resolved", episode, check, check.resolved_text, at))

    @staticmethod
    def _transition(
        key: _Key, status: Status, episode: _Episode, check: _Check, text: str, at: int
    ) -> AlertTransition:
        alert, component = key
        return AlertTransition(
            alert=alert,
            status=status,
            severity=episode.severity,
            component=component,
            value=check.value,
            threshold=check.threshold,
            text=text,
            at=at,
            episode_id=f"{alert}/{component or '-'}/{episode.started}",
        )

    def _component_check(self, name: str, snapshot: OrgSnapshot, threshold: float) -> _Check:
        value = snapshot.values.get(name)
        label = _label(name)
        check = _Check(None, value=value, threshold=threshold)
        if value is None or math.isnan(value):
            return check
        why = f"the reference threshold of {_fmt(threshold)}"
        if name == "interact":
            why = (
                f"{_fmt(threshold)}, the reference for target level {_label(snapshot.target_level)}"
            )
        if value < threshold:
            check.active = True
            if value < threshold - self.rules.critical_gap_points:
                check.severity = "critical"
            check.firing_text = f"{label} is {_fmt(value)}, below {why}."
        elif value >= threshold + self.rules.hysteresis_points:
            check.active = False
            check.resolved_text = f"{label} is back at {_fmt(value)}, at or above {why}."
        return check

    def _score_check(self, snapshot: OrgSnapshot) -> _Check:
        rules, today, score = self.rules, snapshot.local_day, snapshot.score
        if score is not None and not math.isnan(score):
            self.scores[today] = score
        oldest = today - rules.score_drop_days - 2
        for day in [d for d in self.scores if d < oldest]:
            del self.scores[day]
        earlier_days = [d for d in self.scores if d <= today - rules.score_drop_days]
        check = _Check(None, threshold=rules.score_drop_points)
        if score is None or math.isnan(score) or not earlier_days:
            return check
        earlier = self.scores[max(earlier_days)]
        drop = round(earlier - score, 1)
        check.value = drop
        days = rules.score_drop_days
        if drop >= rules.score_drop_points:
            check.active = True
            if drop >= rules.score_drop_critical_points:
                check.severity = "critical"
            check.firing_text = (
                f"Engagement Score fell {_fmt(drop)} points in {days} days, from "
                f"{_fmt(earlier)} to {_fmt(score)} (alert at a drop of "
                f"{_fmt(rules.score_drop_points)})."
            )
        elif drop < rules.score_drop_points - rules.hysteresis_points:
            check.active = False
            check.resolved_text = (
                f"Engagement Score recovered to {_fmt(score)} against {_fmt(earlier)} "
                f"{days} days earlier (alert at a drop of {_fmt(rules.score_drop_points)})."
            )
        return check

    def _regression_check(self, snapshot: OrgSnapshot, at: int) -> _Check:
        current = snapshot.operating_level
        window = self.rules.regression_window_seconds
        for level in [lvl for lvl, seen in self.level_seen.items() if seen < at - window]:
            del self.level_seen[level]
        if current is None:
            return _Check(None)
        self.level_seen[current] = at
        rank = level_rank(current)
        higher = [lvl for lvl in self.level_seen if level_rank(lvl) > rank]
        if not higher:
            check = _Check(False, value=float(rank))
            check.resolved_text = (
                f"Operating level {_label(current)} is no longer below a level held in the "
                f"last {_fmt(window / DAY)} days."
            )
            return check
        reference = max(higher, key=level_rank)
        ref_rank = level_rank(reference)
        check = _Check(True, value=float(rank), threshold=float(ref_rank))
        if ref_rank - rank >= 2:
            check.severity = "critical"
        check.firing_text = (
            f"Operating level fell from {_label(reference)} ({ref_rank}) to "
            f"{_label(current)} ({rank})."
        )
        return check

    def _target_check(self, snapshot: OrgSnapshot, at: int) -> _Check:
        current, target = snapshot.operating_level, snapshot.target_level
        if current is None or target is None or level_rank(current) >= level_rank(target):
            self.below_since = None
            check = _Check(False)
            if current is not None and target is not None:
                check.value, check.threshold = float(level_rank(current)), float(level_rank(target))
                check.resolved_text = (
                    f"Operating level {_label(current)} meets the target level {_label(target)}."
                )
            else:
                check.resolved_text = "No operating level below a target level any more."
            return check
        if self.below_since is None:
            self.below_since = at
        rank, target_rank = level_rank(current), level_rank(target)
        check = _Check(None, value=float(rank), threshold=float(target_rank))
        duration = at - self.below_since
        if duration >= self.rules.below_target_seconds:
            check.active = True
            check.firing_text = (
                f"Operating at {_label(current)} ({rank}), below the target level "
                f"{_label(target)} ({target_rank}), for {_fmt(duration / DAY)} days."
            )
        return check

    # ---- persistence ---------------------------------------------------------------------

    def to_record(self) -> dict[str, object]:
        """The state as a JSON-able dict (lists, strings, numbers, None)."""
        return {
            "last_at": self.last_at,
            "open": [
                [alert, component, ep.started, ep.severity]
                for (alert, component), ep in sorted(
                    self.open.items(), key=lambda item: (item[0][0], item[0][1] or "")
                )
            ],
            "scores": [[day, score] for day, score in sorted(self.scores.items())],
            "level_seen": [[level, at] for level, at in sorted(self.level_seen.items())],
            "below_since": self.below_since,
        }

    @classmethod
    def from_record(
        cls, record: Mapping[str, object], rules: AlertRules | None = None
    ) -> AlertTracker:
        tracker = cls(rules)
        tracker.last_at = _opt_int(record.get("last_at"))
        tracker.below_since = _opt_int(record.get("below_since"))
        for alert, component, started, severity in _rows(record.get("open")):
            if alert not in ALERTS or severity not in ("warning", "critical"):
                raise ValueError(f"bad open episode {alert!r} {severity!r}")
            comp = None if component is None else str(component)
            sev: Severity = "critical" if severity == "critical" else "warning"
            tracker.open[(str(alert), comp)] = _Episode(_int(started), sev)
        for day, score in _rows(record.get("scores")):
            if not isinstance(score, int | float):
                raise ValueError(f"bad score {score!r}")
            tracker.scores[_int(day)] = float(score)
        for level, at in _rows(record.get("level_seen")):
            level_rank(str(level))
            tracker.level_seen[str(level)] = _int(at)
        return tracker


def _rows(value: object) -> list[list[object]]:
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected a list, got {value!r}")
    return [list(row) for row in value]


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, got {value!r}")
    return value


def _opt_int(value: object) -> int | None:
    return None if value is None else _int(value)
