"""Level inference (nearest profile, confidence) and the hysteresis of announced levels."""

from __future__ import annotations

import itertools
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement.domain.levels import (
    DEFAULT_PROFILES,
    LEVELS,
    Classification,
    LevelChange,
    LevelProfile,
    LevelTracker,
    classify,
    level_rank,
    nearest_level,
    target_gap,
)
from engagement.domain.rules import COMPONENTS

DAY = 86_400
HOUR = 3_600
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NOISE = 3.0  # points per component: "small" noise, well inside the profiles' separation


def profile_values(level: str) -> dict[str, float | None]:
    return dict(DEFAULT_PROFILES[level].values())


def noisy(level: str, rng: random.Random, noise: float = NOISE) -> dict[str, float | None]:
    return {
        name: round(min(100.0, max(0.0, v + rng.uniform(-noise, noise))), 1)
        for name, v in DEFAULT_PROFILES[level].values().items()
    }


noise_vectors = st.lists(
    st.floats(-NOISE, NOISE, allow_nan=False), min_size=len(COMPONENTS), max_size=len(COMPONENTS)
)


def apply_noise(level: str, noise: list[float]) -> dict[str, float | None]:
    base = DEFAULT_PROFILES[level].values()
    return {
        name: min(100.0, max(0.0, base[name] + delta))
        for name, delta in zip(COMPONENTS, noise, strict=True)
    }


# ---- profiles and classification -----------------------------------------------------------


def test_levels_are_ordered_and_profiles_cover_them() -> None:
    assert LEVELS == ("initiation", "informing", "engaging", "co_creating")
    assert list(DEFAULT_PROFILES) == list(LEVELS)
    assert [level_rank(level) for level in LEVELS] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="unknown level"):
        level_rank("expert")


def test_default_profiles_reproduce_the_dynamics() -> None:
    p = DEFAULT_PROFILES
    ini, inf, eng, co = p["initiation"], p["informing"], p["engaging"], p["co_creating"]
    assert ini.reach >= 80  # Reach high from the start
    assert ini.visit < min(inf.visit, eng.visit, co.visit)  # Visit low
    assert ini.view < min(inf.view, eng.view, co.view)  # View disappointing
    assert inf.view == max(x.view for x in p.values())  # Informing: View towards 100
    assert inf.visit > ini.visit
    assert inf.contribute <= 5  # one or two communicators
    assert eng.contribute > inf.contribute
    assert eng.interact > inf.interact
    assert eng.visit > inf.visit
    assert eng.view < inf.view
    assert co.contribute > eng.contribute
    assert co.visit >= 90
    assert co.view < eng.view


def test_profile_values_are_validated() -> None:
    with pytest.raises(ValueError, match="reach"):
        LevelProfile(reach=101, visit=1, view=1, interact=1, contribute=1)


@pytest.mark.parametrize("level", LEVELS)
def test_exact_profile_classifies_as_its_level_with_full_confidence(level: str) -> None:
    result = classify(profile_values(level))
    assert result.level == level
    assert result.confidence == 1.0
    assert result.distances[level] == 0.0
    assert result.margin == min(d for lvl, d in result.distances.items() if lvl != level)
    assert result.runner_up is not None
    assert result.runner_up != level
    assert result.deciding_components


@SETTINGS
@given(st.sampled_from(LEVELS), noise_vectors)
def test_profile_with_small_noise_classifies_as_its_level(level: str, noise: list[float]) -> None:
    result = classify(apply_noise(level, noise))
    assert result.level == level
    assert result.margin >= 5.0  # clear enough for the tracker's default margin
    assert result.confidence > 0.4


@SETTINGS
@given(st.sampled_from(LEVELS), st.sets(st.sampled_from(COMPONENTS), min_size=1))
def test_missing_components_are_left_out_not_zero(level: str, present: set[str]) -> None:
    values = {name: (v if name in present else None) for name, v in profile_values(level).items()}
    result = classify(values)
    assert result.distances[level] == 0.0
    # levels that agree on every present component tie; ties go to the lower level
    assert result.level is not None
    assert result.distances[result.level] == 0.0
    assert LEVELS.index(result.level) <= LEVELS.index(level)


def test_no_value_at_all_gives_no_level() -> None:
    result = classify(dict.fromkeys(COMPONENTS))
    assert result == Classification(level=None, confidence=0.0)
    assert result.distances == {}
    assert result.margin == 0.0
    assert result.deciding_components == ()
    assert classify({}).level is None


def test_confidence_is_zero_half_way_and_falls_towards_the_midpoint() -> None:
    inf, eng = DEFAULT_PROFILES["informing"].values(), DEFAULT_PROFILES["engaging"].values()

    def between(t: float) -> dict[str, float | None]:
        return {name: inf[name] + t * (eng[name] - inf[name]) for name in COMPONENTS}

    midpoint = classify(between(0.5))
    assert midpoint.confidence == pytest.approx(0.0, abs=1e-9)
    assert midpoint.margin == pytest.approx(0.0, abs=1e-9)
    confidences = [classify(between(t)).confidence for t in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)]
    assert confidences == sorted(confidences, reverse=True)
    assert confidences[0] == 1.0
    assert classify(between(0.45)).level == "informing"
    assert classify(between(0.55)).level == "engaging"


def test_deciding_components_name_what_separates_best_from_runner_up() -> None:
    # At the initiation profile the runner-up is informing; View (15 vs 60) separates them.
    result = classify(profile_values("initiation"))
    assert result.runner_up == "informing"
    assert result.deciding_components == ("view",)
    # An engaging org still reading like an informing one: Interact is what decides.
    values = profile_values("engaging") | {"view": 58.0}
    result = classify(values)
    assert result.level == "engaging"
    assert result.runner_up == "informing"
    assert "interact" in result.deciding_components
    assert "reach" not in result.deciding_components  # equal in both profiles


def test_weights_leave_out_zero_weighted_components() -> None:
    values = profile_values("engaging") | {"view": 75.0}
    weights = dict.fromkeys(COMPONENTS, 1.0) | {"view": 0.0}
    result = classify(values, weights=weights)
    assert result.distances["engaging"] == 0.0
    assert "view" not in result.deciding_components


def test_custom_profiles_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown levels"):
        classify(profile_values("engaging"), {"expert": DEFAULT_PROFILES["engaging"]})
    with pytest.raises(ValueError, match="at least two"):
        classify(profile_values("engaging"), {"engaging": DEFAULT_PROFILES["engaging"]})
    two = {k: DEFAULT_PROFILES[k] for k in ("informing", "engaging")}
    assert classify(profile_values("initiation"), two).level == "informing"


def test_target_gap_is_value_minus_target_profile() -> None:
    values: dict[str, float | None] = {
        "reach": 96.3,
        "visit": 52.1,
        "view": 71.0,
        "interact": None,
        "contribute": 4.2,
    }
    target = DEFAULT_PROFILES["engaging"]
    assert target_gap(values, "engaging") == {
        name: None if v is None else round(v - target.value(name), 1) for name, v in values.items()
    }
    assert target_gap(values, "engaging")["visit"] == round(52.1 - target.visit, 1)
    with pytest.raises(ValueError, match="target"):
        target_gap(values, "expert")


# ---- hysteresis ----------------------------------------------------------------------------


def run(
    tracker: LevelTracker, series: list[tuple[int, dict[str, float | None]]]
) -> list[LevelChange]:
    changes = []
    for at, values in series:
        change = tracker.observe(classify(values), at)
        if change is not None:
            changes.append(change)
    return changes


def test_first_level_is_announced_after_the_sustain_period() -> None:
    tracker = LevelTracker()
    values = profile_values("engaging")
    for hour in range(7 * 24):
        assert tracker.observe(classify(values), T0 + hour * HOUR) is None
    change = tracker.observe(classify(values), T0 + 7 * DAY)
    assert change == LevelChange(
        from_level=None,
        to_level="engaging",
        at=T0 + 7 * DAY,
        confidence=1.0,
        deciding_components=classify(values).deciding_components,
        since=T0,
    )
    assert tracker.level == "engaging"
    assert tracker.observe(classify(values), T0 + 8 * DAY) is None


@SETTINGS
@given(
    st.sampled_from(LEVELS),
    st.lists(st.tuples(st.integers(1, 2 * DAY), noise_vectors), min_size=1, max_size=120),
)
def test_bounded_noise_never_changes_the_announced_level(
    level: str, steps: list[tuple[int, list[float]]]
) -> None:
    tracker = LevelTracker()
    at = T0
    series = []
    for gap, noise in steps:
        at += gap
        series.append((at, apply_noise(level, noise)))
    changes = run(tracker, series)
    assert len(changes) <= 1
    assert all(c.to_level == level and c.from_level is None for c in changes)
    if series[-1][0] - series[0][0] >= 7 * DAY:
        assert tracker.level == level


def test_sustained_move_from_informing_to_engaging_is_announced_once() -> None:
    rng = random.Random(7)
    tracker = LevelTracker()
    tracker.level = "informing"  # as if announced long ago
    switch = T0 + 30 * DAY
    series = [
        (T0 + i * 6 * HOUR, noisy("informing" if T0 + i * 6 * HOUR < switch else "engaging", rng))
        for i in range(4 * 90)
    ]
    changes = run(tracker, series)
    assert len(changes) == 1
    change = changes[0]
    assert (change.from_level, change.to_level) == ("informing", "engaging")
    assert change.since == switch
    assert change.at == switch + 7 * DAY
    assert change.confidence > 0.4
    assert tracker.level == "engaging"


@pytest.mark.parametrize("period_days", [1, 2, 3, 5, 6])
def test_org_oscillating_between_two_profiles_causes_no_flurry(period_days: int) -> None:
    rng = random.Random(period_days)
    tracker = LevelTracker()
    series = [(T0 + i * 6 * HOUR, noisy("informing", rng)) for i in range(4 * 10)]
    start = T0 + 10 * DAY
    for i in range(4 * 180):
        at = start + i * 6 * HOUR
        phase = (at - start) // (period_days * DAY)
        series.append((at, noisy("engaging" if phase % 2 else "informing", rng)))
    changes = run(tracker, series)
    assert [(c.from_level, c.to_level) for c in changes] == [(None, "informing")]


def test_oscillation_from_the_start_announces_nothing() -> None:
    tracker = LevelTracker()
    series = [
        (T0 + day * DAY, profile_values("engaging" if (day // 3) % 2 else "co_creating"))
        for day in range(200)
    ]
    assert run(tracker, series) == []
    assert tracker.level is None


def test_unclear_observations_restart_the_period() -> None:
    inf, eng = DEFAULT_PROFILES["informing"].values(), DEFAULT_PROFILES["engaging"].values()
    near_midpoint: dict[str, float | None] = {
        name: inf[name] + 0.52 * (eng[name] - inf[name]) for name in COMPONENTS
    }
    assert classify(near_midpoint).level == "engaging"
    assert classify(near_midpoint).margin < 5.0
    tracker = LevelTracker()
    tracker.level = "informing"
    series = []
    for day in range(60):
        values = near_midpoint if day % 6 == 5 else profile_values("engaging")
        series.append((T0 + day * DAY, values))
    assert run(tracker, series) == []
    assert tracker.level == "informing"
    # No value at all interrupts too.
    tracker = LevelTracker(sustain_seconds=2 * DAY)
    assert tracker.observe(classify(profile_values("engaging")), T0) is None
    assert tracker.observe(classify({}), T0 + DAY) is None
    assert tracker.observe(classify(profile_values("engaging")), T0 + 2 * DAY) is None
    change = tracker.observe(classify(profile_values("engaging")), T0 + 4 * DAY)
    assert change is not None
    assert change.since == T0 + 2 * DAY


def test_observations_older_than_the_latest_are_ignored() -> None:
    tracker = LevelTracker(sustain_seconds=DAY)
    assert tracker.observe(classify(profile_values("informing")), T0 + DAY) is None
    # a late observation of another level neither counts nor interrupts
    assert tracker.observe(classify(profile_values("co_creating")), T0) is None
    assert tracker.candidate == "informing"
    assert tracker.last_at == T0 + DAY
    change = tracker.observe(classify(profile_values("informing")), T0 + 2 * DAY)
    assert change is not None
    assert change.to_level == "informing"


def test_zero_sustain_announces_immediately() -> None:
    tracker = LevelTracker(sustain_seconds=0)
    change = tracker.observe(classify(profile_values("informing")), T0)
    assert change is not None
    assert change.at == change.since == T0


def test_tracker_configuration_is_validated() -> None:
    with pytest.raises(ValueError, match="sustain"):
        LevelTracker(sustain_seconds=-1)
    with pytest.raises(ValueError, match="margin"):
        LevelTracker(min_margin=-1.0)
    with pytest.raises(ValueError, match="level"):
        LevelTracker.from_record({"level": "expert"})


@SETTINGS
@given(
    st.lists(
        st.tuples(st.integers(0, 2 * DAY), st.sampled_from(LEVELS), noise_vectors),
        min_size=1,
        max_size=60,
    ),
    st.data(),
)
def test_persisted_state_continues_exactly(
    steps: list[tuple[int, str, list[float]]], data: st.DataObject
) -> None:
    series = []
    at = T0
    for gap, level, noise in steps:
        at += gap
        series.append((at, apply_noise(level, noise)))
    split = data.draw(st.integers(0, len(series)))
    straight = run(LevelTracker(sustain_seconds=3 * DAY), series)
    first = LevelTracker(sustain_seconds=3 * DAY)
    before = run(first, series[:split])
    record = json.loads(json.dumps(first.to_record()))
    restored = LevelTracker.from_record(record, sustain_seconds=3 * DAY)
    assert restored.to_record() == first.to_record()
    assert before + run(restored, series[split:]) == straight


def test_profiles_are_well_separated() -> None:
    # The documented claim: the closest pair is ~15 points apart (RMS), so +-3 noise is small.
    closest = min(
        classify(DEFAULT_PROFILES[a].values()).distances[b]
        for a, b in itertools.permutations(LEVELS, 2)
    )
    assert 13.0 <= closest <= 17.0


_VALUE = st.none() | st.floats(min_value=0, max_value=100) | st.sampled_from((0.0, -0.0, 50, 12))


@given(st.lists(st.tuples(*[_VALUE] * 5), min_size=1, max_size=30))
def test_the_remembered_classification_is_the_computed_one(rows: list[tuple]) -> None:
    """``classify`` remembers its answers for the default profiles: asked again (the same
    values, or equal ones such as 50 and 50.0), it answers what ``nearest_level`` computes."""
    for row in rows + rows[::-1]:
        values = dict(zip(COMPONENTS, row, strict=True))
        assert classify(values) == nearest_level(values)


def test_nan_is_refused_every_time_never_remembered() -> None:
    values = {"reach": float("nan"), "visit": 10.0}
    for _ in range(2):
        with pytest.raises(ValueError, match="NaN"):
            classify(values)
