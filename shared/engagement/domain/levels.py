"""The ambition level an organisation operates at, inferred from its five components.

The public model describes four levels only in words ("Reach high, Visit low, ..."), and says
itself that this is no exact mathematics. So the inference is deliberately simple and
explainable: the nearest of four numeric profiles, a confidence that says how clearly it is the
nearest, and the components that made the difference. Because one noisy update must never
re-label an organisation, announced levels go through ``LevelTracker``, which only announces a
level once it has been the clear best fit for a sustained period of event time (hysteresis).

Nothing here reads a clock: every time is an epoch-second parameter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from .rules import COMPONENTS

__all__ = [
    "DEFAULT_MIN_MARGIN",
    "DEFAULT_PROFILES",
    "DEFAULT_SUSTAIN_SECONDS",
    "LEVELS",
    "Classification",
    "LevelChange",
    "LevelProfile",
    "LevelTracker",
    "classify",
    "level_rank",
    "nearest_level",
    "target_gap",
]

#: The four ambition levels, lowest first (executing to strategic).
LEVELS: tuple[str, ...] = ("initiation", "informing", "engaging", "co_creating")

DAY = 86_400
DEFAULT_SUSTAIN_SECONDS = 7 * DAY
DEFAULT_MIN_MARGIN = 5.0

#: Share of the separation between best and runner-up that ``deciding_components`` explain.
_DECIDING_SHARE = 2.0 / 3.0


def level_rank(level: str) -> int:
    """1 for initiation up to 4 for co_creating; ValueError for an unknown level."""
    try:
        return LEVELS.index(level) + 1
    except ValueError:
        raise ValueError(f"unknown level {level!r}; expected one of {LEVELS}") from None


@dataclass(frozen=True, slots=True)
class LevelProfile:
    """The component values (percentages 0-100) typical of an organisation at one level."""

    reach: float
    visit: float
    view: float
    interact: float
    contribute: float

    def __post_init__(self) -> None:
        for name in COMPONENTS:
            value = getattr(self, name)
            if not 0.0 <= value <= 100.0:
                raise ValueError(f"profile value for {name} must lie in [0, 100], got {value}")

    def value(self, component: str) -> float:
        if component not in COMPONENTS:
            raise ValueError(f"unknown component {component!r}")
        return float(getattr(self, component))

    def values(self) -> dict[str, float]:
        return {name: self.value(name) for name in COMPONENTS}


#: Default profiles. **Product choice (ours)**: the public model publishes no numbers, only the
#: dynamics between levels; these numbers reproduce them and are configuration, not truth.
#:
#: ============  =====  =====  ====  ========  ==========
#: level         reach  visit  view  interact  contribute
#: ============  =====  =====  ====  ========  ==========
#: initiation       90     45    15        12           5
#: informing        95     75    60        12           5
#: engaging         95     88    40        40          17
#: co_creating      97     97    30        70          30
#: ============  =====  =====  ====  ========  ==========
#:
#: Initiation: Reach high, Visit low, View disappointing (not yet a routine). Informing: View
#: towards 100, Visit up, Contribute low (one or two communicators). Engaging: Contribute and
#: Interact up, Visit up, View down (not all content is for everyone). Co-creating:
#: Contribute up further, Visit towards 100, View lower still (personalisation). Reach rises
#: slowly but separates little: it is high at every level.
#: The numbers are calibrated on the simulator's organisations (which behave as the levels are
#: described), so that realistic data, not only the profiles themselves, classifies right.
#: The closest pair (engaging / co_creating) is about 15 points apart (RMS distance, below), so
#: noise of a few points per component never makes a profile look like its neighbour.
DEFAULT_PROFILES: dict[str, LevelProfile] = {
    "initiation": LevelProfile(reach=90, visit=45, view=15, interact=12, contribute=5),
    "informing": LevelProfile(reach=95, visit=75, view=60, interact=12, contribute=5),
    "engaging": LevelProfile(reach=95, visit=88, view=40, interact=40, contribute=17),
    "co_creating": LevelProfile(reach=97, visit=97, view=30, interact=70, contribute=30),
}


@dataclass(frozen=True, slots=True)
class Classification:
    """The nearest profile to one set of component values.

    ``distances``: per level, the weighted Euclidean distance in percentage points (see
    ``classify``). ``margin``: runner-up distance minus best distance, in points.
    ``confidence`` = margin / (best + runner-up distance): 1 on a profile, 0 exactly half-way
    between two. ``deciding_components``: the fewest components, largest share first, that
    together make at least two thirds of the separation between best and runner-up.
    ``level`` is None (confidence 0, no distances) when no component has a value.
    """

    level: str | None
    confidence: float
    distances: dict[str, float] = field(default_factory=dict)
    margin: float = 0.0
    deciding_components: tuple[str, ...] = ()
    runner_up: str | None = None


def _check_profiles(profiles: Mapping[str, LevelProfile]) -> None:
    unknown = set(profiles) - set(LEVELS)
    if unknown:
        raise ValueError(f"profiles for unknown levels: {sorted(unknown)}")
    if len(profiles) < 2:
        raise ValueError("at least two level profiles are needed to classify")


#: ``classify`` of the default profiles, by the values of the five components: one score is
#: classified three times (its enrichment, the second stage, its history point), and its
#: values often recur. Pure function, frozen result: the memo answers what it would compute.
_DEFAULT_MEMO: dict[tuple[float | None, ...], Classification] = {}
_MEMO_MAX = 10_000


def classify(
    values: Mapping[str, float | None],
    profiles: Mapping[str, LevelProfile] = DEFAULT_PROFILES,
    weights: Mapping[str, float] | None = None,
) -> Classification:
    """The level whose profile is nearest to ``values`` (``nearest_level``; remembered for the
    default profiles and weights)."""
    if profiles is not DEFAULT_PROFILES or weights is not None:
        return nearest_level(values, profiles, weights)
    key = tuple([values.get(name) for name in COMPONENTS])  # all ``nearest_level`` reads
    found = _DEFAULT_MEMO.get(key)
    if found is None:
        found = nearest_level(values, profiles, weights)  # raises before anything is kept
        if len(_DEFAULT_MEMO) >= _MEMO_MAX:
            _DEFAULT_MEMO.clear()
        _DEFAULT_MEMO[key] = found
    return found


def nearest_level(
    values: Mapping[str, float | None],
    profiles: Mapping[str, LevelProfile] = DEFAULT_PROFILES,
    weights: Mapping[str, float] | None = None,
) -> Classification:
    """The level whose profile is nearest to ``values``.

    Distance: sqrt(sum_c w_c (v_c - p_c)^2 / sum_c w_c) over the components that have a value
    (and a positive weight; default weights equal). Normalising by the weights present keeps the
    distance in percentage points, comparable whether or not some component has no value (a
    missing component is left out, never taken as 0). Ties go to the lower level.
    """
    _check_profiles(profiles)
    present: list[tuple[str, float, float]] = []
    for name in COMPONENTS:
        value = values.get(name)
        weight = 1.0 if weights is None else weights.get(name, 0.0)
        if value is None or weight <= 0:
            continue
        if math.isnan(value):
            raise ValueError(f"component {name} is NaN")
        present.append((name, float(value), weight))
    if not present:
        return Classification(level=None, confidence=0.0)
    weight_sum = sum(w for _, _, w in present)
    # each profile's values of the present components, read once (``LevelProfile.value``)
    at = {
        level: [float(getattr(profile, name)) for name, _, _ in present]
        for level, profile in profiles.items()
    }
    distances = {
        level: math.sqrt(
            sum(w * (v - p) ** 2 for (_, v, w), p in zip(present, at[level], strict=True))
            / weight_sum
        )
        for level in profiles
    }
    ranked = sorted(distances, key=lambda lvl: (distances[lvl], LEVELS.index(lvl)))
    best, runner_up = ranked[0], ranked[1]
    d_best, d_runner = distances[best], distances[runner_up]
    margin = d_runner - d_best
    confidence = 0.0 if d_best + d_runner == 0 else margin / (d_best + d_runner)
    # Each component's share of the separation (in squared distance) between best and runner-up.
    shares = []
    for (name, v, w), p_runner, p_best in zip(present, at[runner_up], at[best], strict=True):
        share = w * ((v - p_runner) ** 2 - (v - p_best) ** 2)
        if share > 0:
            shares.append((share, name))
    shares.sort(key=lambda item: (-item[0], COMPONENTS.index(item[1])))
    total = sum(share for share, _ in shares)
    deciding: list[str] = []
    covered = 0.0
    for share, name in shares:
        if covered >= _DECIDING_SHARE * total:
            break
        deciding.append(name)
        covered += share
    return Classification(
        level=best,
        confidence=min(1.0, max(0.0, confidence)),
        distances=distances,
        margin=margin,
        deciding_components=tuple(deciding),
        runner_up=runner_up,
    )


def target_gap(
    values: Mapping[str, float | None],
    target_level: str,
    profiles: Mapping[str, LevelProfile] = DEFAULT_PROFILES,
) -> dict[str, float | None]:
    """Per component, value minus the target profile's value (negative: below the target).

    None where the component has no value. Rounded to one decimal like the published values.
    """
    if target_level not in profiles:
        raise ValueError(f"no profile for target level {target_level!r}")
    profile = profiles[target_level]
    gaps: dict[str, float | None] = {}
    for name in COMPONENTS:
        value = values.get(name)
        gaps[name] = None if value is None else round(value - profile.value(name), 1)
    return gaps


@dataclass(frozen=True, slots=True)
class LevelChange:
    """An announced level change. ``from_level`` is None for the first level ever announced;
    ``since`` is when the new level started to be the clear best fit; ``confidence`` and
    ``deciding_components`` are those of the classification that completed the period."""

    from_level: str | None
    to_level: str
    at: int
    confidence: float
    deciding_components: tuple[str, ...]
    since: int


class LevelTracker:
    """Hysteresis between classifications and announced levels, for one organisation.

    A level is announced only when it has been the best fit, with a margin of at least
    ``min_margin`` points, in every observation for at least ``sustain_seconds`` of event time
    (first to latest supporting observation; the fit is assumed to hold between observations).
    Any observation that does not support the candidate (another best fit, a margin too small,
    no value at all) restarts the period. So an organisation oscillating between two profiles
    more often than the sustain period never changes level, and neither does one whose noise
    stays well inside its profile. The first level is announced the same way (from None).

    Observations older than the latest one are ignored (late updates cannot undo the period).
    The state is four small values: ``to_record`` / ``from_record`` persist it as a JSON-able
    dict; the configuration (sustain, margin) is not part of it.
    """

    __slots__ = (
        "candidate",
        "candidate_since",
        "last_at",
        "level",
        "min_margin",
        "sustain_seconds",
    )

    def __init__(
        self,
        sustain_seconds: int = DEFAULT_SUSTAIN_SECONDS,
        min_margin: float = DEFAULT_MIN_MARGIN,
    ) -> None:
        if sustain_seconds < 0:
            raise ValueError("sustain_seconds must not be negative")
        if min_margin < 0:
            raise ValueError("min_margin must not be negative")
        self.sustain_seconds = sustain_seconds
        self.min_margin = min_margin
        self.level: str | None = None  # the announced (operating) level
        self.candidate: str | None = None  # a level challenging it, and since when
        self.candidate_since: int | None = None
        self.last_at: int | None = None

    def observe(self, classification: Classification, at: int) -> LevelChange | None:
        """Take one classification at event time ``at``; the change it completes, if any."""
        if self.last_at is not None and at < self.last_at:
            return None
        self.last_at = at
        supported = classification.level
        if supported is None or classification.margin < self.min_margin:
            self._drop_candidate()
            return None
        if supported == self.level:
            self._drop_candidate()
            return None
        if supported != self.candidate or self.candidate_since is None:
            self.candidate, self.candidate_since = supported, at
        since = self.candidate_since
        if at - since < self.sustain_seconds:
            return None
        change = LevelChange(
            from_level=self.level,
            to_level=supported,
            at=at,
            confidence=classification.confidence,
            deciding_components=classification.deciding_components,
            since=since,
        )
        self.level = supported
        self._drop_candidate()
        return change

    def _drop_candidate(self) -> None:
        self.candidate = None
        self.candidate_since = None

    def to_record(self) -> dict[str, str | int | None]:
        return {
            "level": self.level,
            "candidate": self.candidate,
            "candidate_since": self.candidate_since,
            "last_at": self.last_at,
        }

    @classmethod
    def from_record(
        cls,
        record: Mapping[str, str | int | None],
        sustain_seconds: int = DEFAULT_SUSTAIN_SECONDS,
        min_margin: float = DEFAULT_MIN_MARGIN,
    ) -> LevelTracker:
        tracker = cls(sustain_seconds, min_margin)
        tracker.level = _opt_level(record.get("level"))
        tracker.candidate = _opt_level(record.get("candidate"))
        tracker.candidate_since = _opt_int(record.get("candidate_since"))
        tracker.last_at = _opt_int(record.get("last_at"))
        if (tracker.candidate is None) != (tracker.candidate_since is None):
            tracker._drop_candidate()
        return tracker


def _opt_level(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a level name, got {value!r}")
    level_rank(value)
    return value


def _opt_int(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer time, got {value!r}")
    return value
