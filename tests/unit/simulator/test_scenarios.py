"""Named simulator scenarios: each one has the intended effect on the batch recomputation."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engagement.domain import COMPONENTS, classify, size_band
from engagement.events import (
    KafkaRecord,
    OrgProfile,
    decode_activity,
    decode_org_profile,
)
from engagement.settings import Settings
from engagement_scorer.batch import recompute, timezones_from
from engagement_simulator.scenarios import (
    SCENARIOS,
    AdoptionDrop,
    CommunityVsIntranet,
    Growth,
    OnboardingWave,
    apply_scenario,
    behaviour_level,
    records_until,
)
from engagement_simulator.traffic import SimulatedLog, generate

END = datetime(2025, 3, 14, 15, 30, tzinfo=UTC)
FAR = datetime(9999, 1, 1, tzinfo=UTC)
# Seed 8: four intranet organisations, one per level (org-02 behaves like Informing).
SEED, ORGS, DAYS = 8, 4, 45

Scores = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def base() -> SimulatedLog:
    return generate(SEED, ORGS, DAYS, END, accounts_per_org=(40, 90))


def scores(log: SimulatedLog, records: list[KafkaRecord] | None = None) -> Scores:
    result = recompute(
        log.activity if records is None else records,
        Settings().scoring_rules(),
        timezones_from(log.profiles),
    )
    assert not result.rejected, result.rejected
    return result.scores


@pytest.fixture(scope="module")
def base_scores(base: SimulatedLog) -> Scores:
    return scores(base)


@pytest.fixture(scope="module")
def scenario_logs(base: SimulatedLog) -> dict[str, SimulatedLog]:
    return {name: apply_scenario(name, base) for name in SCENARIOS}


@pytest.fixture(scope="module")
def scenario_scores(scenario_logs: dict[str, SimulatedLog]) -> dict[str, Scores]:
    return {name: scores(log) for name, log in scenario_logs.items()}


def value(payload: dict[str, Any], component: str) -> float:
    found = payload["components"][component]["value"]
    assert found is not None, (payload["org_id"], component)
    return float(found)


def values(payload: dict[str, Any]) -> dict[str, float | None]:
    return {c: payload["components"][c]["value"] for c in COMPONENTS}


def level(payload: dict[str, Any]) -> str | None:
    return classify(values(payload)).level


def event_id(record: KafkaRecord) -> str:
    return decode_activity(record.key, record.value, record.headers, now=FAR).id


def frozen(record: KafkaRecord) -> tuple[bytes | None, bytes, tuple[tuple[str, bytes], ...]]:
    return record.key, record.value, tuple(record.headers)


def profile_of(log: SimulatedLog, org_id: str) -> OrgProfile:
    for record in log.profiles:
        data = decode_org_profile(record.key, record.value, record.headers, now=FAR).data
        assert isinstance(data, OrgProfile)
        if data.org_id == org_id:
            return data
    raise KeyError(org_id)


# ------------------------------------------------------------------------------------------------
# the registry and the shape of the output
# ------------------------------------------------------------------------------------------------


def test_the_cli_names() -> None:
    assert set(SCENARIOS) == {"adoption-drop", "growth", "onboarding-wave", "community-vs-intranet"}
    for name, scenario in SCENARIOS.items():
        assert scenario.name == name
        assert scenario.summary


def test_unknown_or_too_short_is_refused(base: SimulatedLog) -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        apply_scenario("nope", base)
    short = generate(SEED, 2, 10, END, accounts_per_org=(10, 20))
    with pytest.raises(ValueError, match="--days 40"):
        apply_scenario("adoption-drop", short)
    with pytest.raises(ValueError, match="--orgs 4"):
        apply_scenario("growth", generate(SEED, 2, 20, END, accounts_per_org=(10, 20)))


def test_scenarios_are_deterministic_valid_and_in_event_time_order(
    base: SimulatedLog, scenario_logs: dict[str, SimulatedLog]
) -> None:
    for name, log in scenario_logs.items():
        again = apply_scenario(name, base)
        assert (again.activity, again.profiles, again.org_ids) == (
            log.activity,
            log.profiles,
            log.org_ids,
        ), name
        # decoding validates every record against the contract
        events = [decode_activity(r.key, r.value, r.headers, now=FAR) for r in log.activity]
        ids = Counter(e.id for e in events)
        assert max(ids.values()) == 1, f"{name}: an event id is used twice"
        times = [e.time for e in events]
        assert times == sorted(times), f"{name}: records out of event-time order"
        for record, event in zip(log.activity, events, strict=True):
            org_id = getattr(event.data, "org_id", None)
            assert org_id in log.org_ids
            assert record.key == org_id.encode()


def test_duplicates_stay_duplicates() -> None:
    messy = generate(12, 4, 20, END, duplicates=0.1, accounts_per_org=(20, 40))
    for name in ("growth", "community-vs-intranet"):
        log = apply_scenario(name, messy)
        added = Counter(map(frozen, log.activity)) - Counter(map(frozen, messy.activity))
        assert added, name
        by_id: dict[str, set[Any]] = {}
        for record in added:
            by_id.setdefault(event_id(KafkaRecord(*record[:2], list(record[2]))), set()).add(record)
        # an id is never reused for other content: re-sent records are byte-identical copies
        assert all(len(records) == 1 for records in by_id.values()), name
        if name == "community-vs-intranet":  # a twin's record is re-sent like its original
            assert any(count > 1 for count in added.values()), "duplicates were lost"


# ------------------------------------------------------------------------------------------------
# effects on the batch figures
# ------------------------------------------------------------------------------------------------


def test_adoption_drop(
    base: SimulatedLog,
    base_scores: Scores,
    scenario_logs: dict[str, SimulatedLog],
    scenario_scores: dict[str, Scores],
) -> None:
    drop = AdoptionDrop()
    after, log = scenario_scores["adoption-drop"], scenario_logs["adoption-drop"]
    targets = drop.targets(base)
    assert targets == base.org_ids[::2]
    week_earlier = scores(log, records_until(log, END - timedelta(days=7)))
    falls = []
    for org in base.org_ids:
        if org not in targets:
            assert after[org] == base_scores[org], "other organisations are untouched"
            continue
        # Users who went silent leave Visit, Interact and View once the window has passed them.
        for component in ("visit", "view"):
            assert value(after[org], component) < value(base_scores[org], component), component
        if value(base_scores[org], "interact") >= 10:  # (a handful of interactors is noise)
            assert value(after[org], "interact") < value(base_scores[org], "interact")
        assert value(after[org], "visit") < 0.7 * value(base_scores[org], "visit")
        assert after[org]["engagement_score"] < base_scores[org]["engagement_score"] - 5
        falls.append(week_earlier[org]["engagement_score"] - after[org]["engagement_score"])
    # ... and the score falls against 7 days earlier: the score_drop alert's condition (10 points)
    assert all(f > 0 for f in falls)
    assert max(falls) >= Settings().score_drop_points, falls


def test_growth_moves_informing_to_engaging(
    base: SimulatedLog, base_scores: Scores, scenario_scores: dict[str, Scores]
) -> None:
    after = scenario_scores["growth"]
    targets = Growth().targets(base)
    assert targets == [o for o in base.org_ids if behaviour_level(base, o) == "informing"]
    assert targets
    for org in base.org_ids:
        if org not in targets:
            assert after[org] == base_scores[org]
            continue
        before = base_scores[org]
        assert level(before) == "informing"
        assert level(after[org]) == "engaging"
        assert value(after[org], "interact") > value(before, "interact") + 20
        assert value(after[org], "contribute") > value(before, "contribute") + 8
        for component in ("reach", "visit", "view"):  # only interactions and pages are added
            assert after[org]["components"][component] == before["components"][component]


def test_onboarding_wave_lowers_reach_exactly(
    base: SimulatedLog,
    base_scores: Scores,
    scenario_logs: dict[str, SimulatedLog],
    scenario_scores: dict[str, Scores],
) -> None:
    wave = OnboardingWave()
    after = scenario_scores["onboarding-wave"]
    sizes = wave.wave(base)
    assert set(sizes) == set(base.org_ids[::2])
    for org in base.org_ids:
        if org not in sizes:
            assert after[org] == base_scores[org]
            continue
        n = sizes[org]
        logins = sum(wave.logs_in(org, f"acc-wave-{i + 1:04d}") for i in range(n))
        assert 0 < logins < n
        before = base_scores[org]["components"]["reach"]
        reach = after[org]["components"]["reach"]
        assert reach["denominator"] == before["denominator"] + n
        assert reach["numerator"] == before["numerator"] + logins
        assert reach["value"] < 95.0 <= before["value"] or reach["value"] < before["value"] - 15
        # The newcomers who logged in are counted as visitors: Visit does not fall.
        assert value(after[org], "visit") >= value(base_scores[org], "visit")


def test_community_twins(
    base: SimulatedLog,
    base_scores: Scores,
    scenario_logs: dict[str, SimulatedLog],
    scenario_scores: dict[str, Scores],
) -> None:
    log, after = scenario_logs["community-vs-intranet"], scenario_scores["community-vs-intranet"]
    targets = CommunityVsIntranet().targets(base)
    assert targets == base.org_ids  # seed 8 has intranet platforms only
    assert log.org_ids == [*base.org_ids, *(f"{o}-community" for o in targets)]
    for org in targets:
        twin = f"{org}-community"
        assert after[org] == base_scores[org], "the originals are untouched"
        original, copy = profile_of(log, org), profile_of(log, twin)
        assert copy.platform_type == "community"
        assert original.platform_type == "intranet"
        # Same sector and size band: peers apart only by the platform type.
        assert (copy.sector, size_band(copy.employees)) == (
            original.sector,
            size_band(original.employees),
        )
        for component in COMPONENTS:
            assert value(after[twin], component) < value(base_scores[org], component), (
                twin,
                component,
            )
        assert after[twin]["engagement_score"] < base_scores[org]["engagement_score"] - 8
