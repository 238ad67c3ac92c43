"""The second stage on plain inputs: score events -> level changes, alerts, peer figures."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engagement.events import (
    Alert,
    LevelChanged,
    OrgProfile,
    ScoreUpdated,
    decode_output,
)
from engagement_scorer.assess import AssessingStage, Assessments, PeerFigures
from engagement_scorer.org_profile import PeerGroupKey
from engagement_scorer.publish import figures_digest, score_record

from .fakes import score, settings


class SecondStage:
    def __init__(self, **overrides: Any) -> None:
        self.settings = settings(**overrides)
        self.table: dict[str, Any] = {}
        self.profiles: dict[str, Any] = {}
        self.assessments = Assessments(self.settings, self.table)
        self.stage = AssessingStage(self.settings, self.assessments, self.profiles)

    def set_profile(self, org: str, **fields: Any) -> None:
        self.profiles[org] = OrgProfile(org_id=org, **fields).model_dump(mode="json")

    def feed(self, payload: ScoreUpdated) -> Any:
        rec = score_record(payload, "urn:test", figures_digest(payload))
        return self.stage.score_event(rec.key, rec.value, rec.headers)


def _decoded(assessed: Any, topic: str) -> list[Any]:
    return [
        decode_output(o.key, o.value, o.headers).data for o in assessed.outputs if o.topic == topic
    ]


def test_an_alert_fires_is_kept_while_firing_and_resolves() -> None:
    two = SecondStage()
    two.set_profile("o", target_level="engaging")
    fired = two.feed(score(datetime(2026, 3, 18, 9, tzinfo=UTC), interact=30))
    [alert] = _decoded(fired, two.settings.alerts_topic)
    assert isinstance(alert, Alert)
    assert (alert.alert, alert.component, alert.status) == (
        "component_below_threshold",
        "interact",
        "firing",
    )
    assert [a["component"] for a in two.assessments.firing("o")] == ["interact"]
    assert two.table["o"]["firing"]  # persisted with the assessment
    resolved = two.feed(score(datetime(2026, 3, 18, 10, tzinfo=UTC), interact=70))
    [back] = _decoded(resolved, two.settings.alerts_topic)
    assert back.status == "resolved"
    assert two.assessments.firing("o") == []


def test_a_sustained_best_fit_is_announced_as_a_level_change_once() -> None:
    two = SecondStage(level_sustain_seconds=3600)
    changes: list[LevelChanged] = []
    for hour in range(9, 13):
        assessed = two.feed(score(datetime(2026, 3, 18, hour, tzinfo=UTC), interact=30))
        changes += _decoded(assessed, two.settings.level_changes_topic)
    assert len(changes) == 1
    assert changes[0].from_level is None
    assert two.assessments.announced_level("o") == changes[0].to_level
    # a fresh worker reads the announced level back from the table
    assert Assessments(two.settings, two.table).announced_level("o") == changes[0].to_level


def test_an_unreadable_score_event_is_reported_not_assessed() -> None:
    two = SecondStage()
    assessed = two.stage.score_event(b"o", b"garbage", [])
    assert assessed.unreadable is not None
    assert assessed.outputs == []
    assert assessed.peers == []
    assert two.table == {}


def test_peer_figures_follow_the_organisation_to_its_new_group() -> None:
    two = SecondStage()
    two.feed(score(datetime(2026, 3, 18, 9, tzinfo=UTC), interact=30))  # no sector: no group
    two.set_profile("o", sector="government", employees=800)
    first = two.feed(score(datetime(2026, 3, 18, 10, tzinfo=UTC), interact=31))
    old = PeerGroupKey("government", "500-1999", "intranet")
    assert [(p.group, p.values is not None) for p in first.peers] == [(old, True)]
    two.set_profile("o", sector="healthcare", employees=800)
    moved = two.feed(score(datetime(2026, 3, 18, 11, tzinfo=UTC), interact=32))
    new = PeerGroupKey("healthcare", "500-1999", "intranet")
    assert moved.peers[0] == PeerFigures(old, "o")  # withdrawn from the old group first
    assert moved.peers[0].body() == {"org_id": "o"}
    assert moved.peers[1].group == new
    assert moved.peers[1].values is not None
    assert moved.peers[1].values["interact"] == 32.0
    assert two.table["o"]["group"] == new.encode()
