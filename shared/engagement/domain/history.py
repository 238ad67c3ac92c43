"""An organisation's history: its figures at the end of every local day and of every closed
month, as compact records, with the retention rule and the batch's way of producing them.

The rules (docs/scoring.md, "History"):

- **A day's figures** are the organisation's last published figures of that local day: the
  rolling-window figures with every event read before its stream time first passed the
  day's end. An event of a past day read later changes the following days' figures (it is in
  their windows), never the day already recorded, just as a closed month stays closed.
- **A month's figures** are its final, closed-month figures (``engagement.monthly``).
- **Level** is the best-fit level (``classify``, nearest default profile) of those figures: a
  function of the figures alone, so the batch and the stream agree. The announced level
  (with hysteresis) is on the level-change topic.
- **Retention**: a day is kept while it is among the last ``retention_days`` local days up
  to the latest recorded day; a closed month while its last day is among the last
  ``retention_days`` days up to the last day of the latest closed month.

A record is a plain list ``[as_of, n, d, n, d, n, d, n, d, n, d, score, level, confidence]``
(numerator and denominator of each component in ``COMPONENTS`` order).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .activity import Activity
from .calendar import month_key_of
from .figures import Component, Figures
from .levels import DEFAULT_PROFILES, LevelProfile, classify
from .org import OrgState, Outcome
from .rules import COMPONENTS, DEFAULT_TIMEZONE, ScoringRules

__all__ = [
    "DEFAULT_RETENTION_DAYS",
    "HistoryPoint",
    "HistoryReplay",
    "first_retained_day",
    "month_last_day",
    "point_of",
    "replay_with_history",
]

DEFAULT_RETENTION_DAYS = 400


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """The figures of one day or one closed month, with their best-fit level."""

    as_of: int
    components: Mapping[str, Component]
    score: float | None
    level: str | None
    confidence: float

    def values(self) -> dict[str, float | None]:
        return {name: self.components[name].value for name in COMPONENTS}

    def to_record(self) -> list[Any]:
        record: list[Any] = [self.as_of]
        for name in COMPONENTS:
            record += [self.components[name].numerator, self.components[name].denominator]
        return [*record, self.score, self.level, self.confidence]

    @classmethod
    def from_record(cls, record: list[Any]) -> HistoryPoint:
        if len(record) != 4 + 2 * len(COMPONENTS):
            raise ValueError(f"history record of {len(record)} fields")
        components = {
            name: Component(int(record[1 + 2 * i]), int(record[2 + 2 * i]))
            for i, name in enumerate(COMPONENTS)
        }
        score, level, confidence = record[-3:]
        return cls(
            as_of=int(record[0]),
            components=components,
            score=None if score is None else float(score),
            level=None if level is None else str(level),
            confidence=float(confidence),
        )

    def comparable(self) -> tuple[Any, ...]:
        """Everything but the moment: the exact figures and the level."""
        return tuple(self.to_record()[1:])


def point_of(
    as_of: int,
    components: Mapping[str, Component],
    score: float | None,
    profiles: Mapping[str, LevelProfile] = DEFAULT_PROFILES,
) -> HistoryPoint:
    """A history point from figures: the best-fit level is computed from their values."""
    values = {name: components[name].value for name in COMPONENTS}
    fit = classify(values, profiles)
    return HistoryPoint(
        as_of=as_of,
        components=dict(components),
        score=score,
        level=fit.level,
        confidence=round(fit.confidence, 2),
    )


def first_retained_day(latest_day: int, retention_days: int) -> int:
    """The oldest local day (ordinal) kept when ``latest_day`` is the newest recorded."""
    return latest_day - retention_days + 1


@dataclass(slots=True)
class HistoryReplay:
    """What ``replay_with_history`` produced, per organisation."""

    orgs: dict[str, OrgState] = field(default_factory=dict)
    outcomes: dict[Outcome, int] = field(default_factory=dict)
    closed_months: dict[str, list[Figures]] = field(default_factory=dict)
    #: org -> local day ordinal -> that day's point
    days: dict[str, dict[int, HistoryPoint]] = field(default_factory=dict)
    #: org -> month key -> the closed month's point
    months: dict[str, dict[int, HistoryPoint]] = field(default_factory=dict)


def _figures_point(figures: Figures) -> HistoryPoint:
    return point_of(figures.as_of, figures.components, figures.score)


def replay_with_history(
    activities: Iterable[Activity],
    rules: ScoringRules,
    timezones: Mapping[str, str] | None = None,
    retention_days: int = DEFAULT_RETENTION_DAYS,
    on_applied: Callable[[OrgState, Activity, Outcome], None] | None = None,
) -> HistoryReplay:
    """Apply activities in log order (as ``replay``) and record the history the stream
    records: before an event takes an organisation into a later local day, the day it leaves
    (its figures at its stream time); at the end, each organisation's current day; every
    closed month. Then the retention rule. ``on_applied(state, activity, outcome)`` is called
    after each activity (the batch's breakdowns)."""
    timezones = timezones or {}
    result = HistoryReplay()
    for activity in activities:
        org_id = activity.org_id
        state = result.orgs.get(org_id)
        if state is None:
            tz = timezones.get(org_id, DEFAULT_TIMEZONE)
            state = result.orgs[org_id] = OrgState(org_id, rules, tz)
        if state.leaves_day(activity.time):
            day = state.calendar.day(state.as_of)
            result.days.setdefault(org_id, {})[day] = _figures_point(state.figures())
        applied = state.apply(activity)
        result.outcomes[applied.outcome] = result.outcomes.get(applied.outcome, 0) + 1
        if on_applied is not None:
            on_applied(state, activity, applied.outcome)
        for month in applied.closed_months:
            result.closed_months.setdefault(org_id, []).append(month)
            months = result.months.setdefault(org_id, {})
            months[month_key_of(month.first_day)] = _figures_point(month)
            floor = first_retained_day(month.last_day, retention_days)
            for key in [k for k in months if month_last_day(k) < floor]:
                del months[key]
    for org_id, state in result.orgs.items():
        if state.first_month < 0:
            continue
        day = state.calendar.day(state.as_of)
        result.days.setdefault(org_id, {})[day] = _figures_point(state.figures())
    for org_id, days in result.days.items():
        floor = first_retained_day(max(days), retention_days)
        result.days[org_id] = {d: p for d, p in sorted(days.items()) if d >= floor}
    return result


def month_last_day(month_key: int) -> int:
    """The last local day (ordinal) of a month key."""
    following = month_key + 1
    return date(following // 12, following % 12 + 1, 1).toordinal() - 1
