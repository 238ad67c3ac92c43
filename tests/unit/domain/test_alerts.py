"""Alert episodes: fire once, resolve once, with the numbers behind them."""

from __future__ import annotations

import json
from collections.abc import Iterable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement.domain.alerts import (
    ALERTS,
    AlertRules,
    AlertTracker,
    AlertTransition,
    OrgSnapshot,
)
from engagement.domain.levels import LEVELS
from engagement.domain.rules import COMPONENTS

DAY = 86_400
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY0 = 739_617  # its day ordinal
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

HEALTHY: dict[str, float | None] = {
    "reach": 97.0,
    "visit": 70.0,
    "view": 55.0,
    "interact": 55.0,
    "contribute": 15.0,
}


def snap(
    day: int,
    score: float | None = 60.0,
    operating: str | None = "engaging",
    target: str | None = "engaging",
    **values: float | None,
) -> OrgSnapshot:
    return OrgSnapshot(
        values=HEALTHY | values,
        score=score,
        operating_level=operating,
        target_level=target,
        local_day=DAY0 + day,
    )


def at_day(day: float) -> int:
    return T0 + int(day * DAY)


def feed(
    tracker: AlertTracker, snapshots: Iterable[tuple[int, OrgSnapshot]]
) -> list[AlertTransition]:
    out: list[AlertTransition] = []
    for at, snapshot in snapshots:
        out.extend(tracker.evaluate(snapshot, at))
    return out


def test_healthy_org_raises_nothing() -> None:
    tracker = AlertTracker()
    assert feed(tracker, ((at_day(d), snap(d)) for d in range(60))) == []
    assert tracker.open == {}


def test_reach_dip_fires_once_and_resolves_once_with_the_same_episode() -> None:
    tracker = AlertTracker()
    reach = [97.0] * 5 + [90.0, 93.5, 91.2, 94.9, 92.0, 90.0] + [97.0] * 5
    out = feed(tracker, ((at_day(d), snap(d, reach=r)) for d, r in enumerate(reach)))
    assert [t.status for t in out] == ["firing", "resolved"]
    firing, resolved = out
    assert firing.alert == "component_below_threshold"
    assert firing.component == "reach"
    assert (firing.value, firing.threshold, firing.at) == (90.0, 95.0, at_day(5))
    assert firing.severity == "warning"
    assert "Reach is 90, below the reference threshold of 95" in firing.text
    assert (resolved.value, resolved.at) == (97.0, at_day(11))
    assert (
        resolved.episode_id == firing.episode_id == f"component_below_threshold/reach/{at_day(5)}"
    )
    assert "97" in resolved.text


def test_a_value_hovering_at_the_threshold_does_not_flap() -> None:
    tracker = AlertTracker()
    reach = [94.8, 95.2, 94.9, 95.4, 95.0, 94.7, 95.9, 96.0]
    out = feed(tracker, ((at_day(d), snap(d, reach=r)) for d, r in enumerate(reach)))
    assert [(t.status, t.at) for t in out] == [("firing", at_day(0)), ("resolved", at_day(7))]


def test_a_new_dip_is_a_new_episode() -> None:
    tracker = AlertTracker()
    reach = [90.0, 97.0, 90.0, 97.0]
    out = feed(tracker, ((at_day(d), snap(d, reach=r)) for d, r in enumerate(reach)))
    assert [t.status for t in out] == ["firing", "resolved", "firing", "resolved"]
    assert out[0].episode_id == out[1].episode_id != out[2].episode_id == out[3].episode_id


def test_far_below_threshold_is_critical() -> None:
    out = AlertTracker().evaluate(snap(0, reach=60.0), at_day(0))
    assert [(t.component, t.severity) for t in out] == [("reach", "critical")]


def test_interact_threshold_applies_only_for_connecting_targets() -> None:
    tracker = AlertTracker()
    assert tracker.evaluate(snap(0, target="informing", interact=20.0), at_day(0)) == []
    assert tracker.evaluate(snap(1, target=None, interact=20.0), at_day(1)) == []
    out = tracker.evaluate(snap(2, target="co_creating", interact=20.0), at_day(2))
    assert [(t.alert, t.component, t.status) for t in out[:1]] == [
        ("component_below_threshold", "interact", "firing")
    ]
    assert out[0].threshold == 50.0
    assert "target level Co-creating" in out[0].text
    # Lowering the target removes the threshold: the episode resolves.
    out = tracker.evaluate(snap(3, target="informing", interact=20.0), at_day(3))
    interact = [t for t in out if t.component == "interact"]
    assert [t.status for t in interact] == ["resolved"]
    assert interact[0].episode_id == f"component_below_threshold/interact/{at_day(2)}"


def test_unknown_values_change_nothing() -> None:
    tracker = AlertTracker()
    assert [t.status for t in tracker.evaluate(snap(0, reach=80.0), at_day(0))] == ["firing"]
    assert tracker.evaluate(snap(1, reach=None, score=None), at_day(1)) == []
    assert [t.status for t in tracker.evaluate(snap(2, reach=99.0), at_day(2))] == ["resolved"]
    assert AlertTracker().evaluate(snap(0, reach=None), at_day(0)) == []


@pytest.mark.parametrize(
    ("later", "fires", "severity"),
    [
        (50.0, True, "warning"),
        (49.9, True, "warning"),
        (55.0, False, None),
        (50.1, False, None),
        (35.0, True, "critical"),
    ],
)
def test_score_drop_against_seven_days_earlier(
    later: float, fires: bool, severity: str | None
) -> None:
    tracker = AlertTracker()
    out = feed(tracker, ((at_day(d), snap(d, score=60.0)) for d in range(7)))
    out += tracker.evaluate(snap(7, score=later), at_day(7))
    if not fires:
        assert out == []
        return
    assert len(out) == 1
    alert = out[0]
    assert (alert.alert, alert.status, alert.severity) == ("score_drop", "firing", severity)
    assert alert.value == round(60.0 - later, 1)
    assert alert.threshold == 10.0
    assert f"from 60 to {later:g}" in alert.text


def test_score_drop_compares_with_the_day_seven_days_earlier_not_yesterday() -> None:
    tracker = AlertTracker()
    scores = [60.0, 58.0, 56.0, 54.0, 52.0, 51.0, 50.5, 50.0]  # steady slide, 10 in 7 days
    out = feed(tracker, ((at_day(d), snap(d, score=s)) for d, s in enumerate(scores)))
    assert [(t.alert, t.at) for t in out] == [("score_drop", at_day(7))]


def test_score_drop_resolves_when_the_score_recovers() -> None:
    tracker = AlertTracker()
    scores = [60.0] * 7 + [45.0] * 7 + [45.0, 45.0, 50.0]
    out = feed(tracker, ((at_day(d), snap(d, score=s)) for d, s in enumerate(scores)))
    assert [(t.status, t.at) for t in out] == [("firing", at_day(7)), ("resolved", at_day(14))]
    assert out[0].episode_id == out[1].episode_id
    assert out[1].value == 0.0  # 45 now vs 45 seven days earlier


def test_score_history_is_bounded() -> None:
    tracker = AlertTracker()
    for d in range(100):
        tracker.evaluate(snap(d, score=60.0), at_day(d))
        assert len(tracker.scores) <= 10


def test_level_regression_fires_and_resolves_when_the_level_returns() -> None:
    tracker = AlertTracker()
    levels = ["engaging"] * 3 + ["informing"] * 4 + ["engaging"] * 2
    out = feed(
        tracker,
        ((at_day(d), snap(d, operating=lvl, target=None)) for d, lvl in enumerate(levels)),
    )
    assert [(t.alert, t.status, t.at) for t in out] == [
        ("level_regression", "firing", at_day(3)),
        ("level_regression", "resolved", at_day(7)),
    ]
    assert (out[0].value, out[0].threshold) == (2.0, 3.0)
    assert "from Engaging (3) to Informing (2)" in out[0].text
    assert out[0].episode_id == out[1].episode_id


def test_level_regression_expires_after_the_window() -> None:
    tracker = AlertTracker(AlertRules(regression_window_seconds=30 * DAY))
    levels = ["co_creating"] * 2 + ["informing"] * 60
    out = feed(
        tracker,
        ((at_day(d), snap(d, operating=lvl, target=None)) for d, lvl in enumerate(levels)),
    )
    assert [(t.status, t.severity, t.at) for t in out] == [
        ("firing", "critical", at_day(2)),
        ("resolved", "critical", at_day(32)),
    ]


def test_a_rise_is_no_regression() -> None:
    tracker = AlertTracker()
    out = feed(
        tracker,
        ((at_day(d), snap(d, operating=lvl, target=None)) for d, lvl in enumerate(LEVELS)),
    )
    assert out == []


def test_below_target_needs_the_sustained_period() -> None:
    tracker = AlertTracker()
    snaps = [(at_day(d), snap(d, operating="informing", target="engaging")) for d in range(20)]
    snaps += [(at_day(20), snap(20, operating="engaging", target="engaging"))]
    out = [t for t in feed(tracker, snaps) if t.alert == "below_target"]
    assert [(t.status, t.at) for t in out] == [("firing", at_day(14)), ("resolved", at_day(20))]
    assert (out[0].value, out[0].threshold) == (2.0, 3.0)
    assert "below the target level Engaging (3), for 14 days" in out[0].text
    assert out[0].episode_id == out[1].episode_id


def test_below_target_interrupted_starts_over() -> None:
    tracker = AlertTracker()
    snaps = []
    for d in range(40):
        operating = "engaging" if d % 10 == 9 else "informing"
        snaps.append((at_day(d), snap(d, operating=operating, target="engaging")))
    assert [t for t in feed(tracker, snaps) if t.alert == "below_target"] == []


def test_older_snapshots_are_ignored() -> None:
    tracker = AlertTracker()
    tracker.evaluate(snap(5), at_day(5))
    assert tracker.evaluate(snap(4, reach=10.0), at_day(4)) == []
    assert tracker.open == {}


def test_rules_are_validated() -> None:
    with pytest.raises(ValueError, match="unknown levels"):
        AlertRules(interact_target_levels=frozenset({"expert"}))
    with pytest.raises(ValueError, match="score_drop_points"):
        AlertRules(score_drop_points=0)
    assert AlertRules().thresholds("engaging") == {"reach": 95.0, "interact": 50.0}
    assert AlertRules().thresholds("informing") == {"reach": 95.0}


# ---- properties over random histories ------------------------------------------------------

values_st = st.one_of(st.none(), st.sampled_from([20.0, 48.0, 52.0, 90.0, 94.5, 95.5, 97.0]))
level_st = st.one_of(st.none(), st.sampled_from(LEVELS))
step_st = st.tuples(
    st.integers(0, 3 * DAY),
    st.fixed_dictionaries({name: values_st for name in COMPONENTS}),
    st.one_of(st.none(), st.sampled_from([30.0, 45.0, 55.0, 60.0])),
    level_st,
    level_st,
)


Step = tuple[int, dict[str, float | None], float | None, str | None, str | None]


def history(steps: list[Step]) -> list[tuple[int, OrgSnapshot]]:
    out, at = [], T0
    for gap, values, score, operating, target in steps:
        at += gap
        out.append((at, OrgSnapshot(values, score, operating, target, DAY0 + (at - T0) // DAY)))
    return out


@SETTINGS
@given(st.lists(step_st, max_size=80))
def test_every_episode_fires_once_then_resolves_once(steps: list[Step]) -> None:
    tracker = AlertTracker()
    out = feed(tracker, history(steps))
    by_key: dict[tuple[str, str | None], list[AlertTransition]] = {}
    for t in out:
        assert t.alert in ALERTS
        by_key.setdefault((t.alert, t.component), []).append(t)
    for (alert, component), transitions in by_key.items():
        statuses = [t.status for t in transitions]
        assert statuses == ["firing", "resolved"] * (len(statuses) // 2) + (
            ["firing"] if len(statuses) % 2 else []
        )
        for firing, resolved in zip(transitions[::2], transitions[1::2], strict=False):
            assert firing.episode_id == resolved.episode_id
            assert firing.severity == resolved.severity
            assert firing.episode_id == f"{alert}/{component or '-'}/{firing.at}"
        still_open = len(statuses) % 2 == 1
        assert ((alert, component) in tracker.open) == still_open
    ids = [t.episode_id for t in out if t.status == "firing"]
    assert len(ids) == len(set(ids))
    assert len(tracker.scores) <= 10


@SETTINGS
@given(st.lists(step_st, max_size=60), st.data())
def test_persisted_state_continues_exactly(steps: list[Step], data: st.DataObject) -> None:
    snaps = history(steps)
    split = data.draw(st.integers(0, len(snaps)))
    straight = feed(AlertTracker(), snaps)
    first = AlertTracker()
    before = feed(first, snaps[:split])
    record = json.loads(json.dumps(first.to_record()))
    restored = AlertTracker.from_record(record)
    assert restored.to_record() == first.to_record()
    assert before + feed(restored, snaps[split:]) == straight
