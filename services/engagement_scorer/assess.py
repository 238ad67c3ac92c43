"""Second stage: levels with hysteresis, alerts and peer figures, from the score stream.

The scorer's own ``engagement.scores`` events are consumed again (keyed by org, so
co-partitioned with everything else): each one is classified against the level profiles, fed
to the organisation's ``LevelTracker`` and ``AlertTracker`` (persisted in the ``assessments``
table) and forwarded, re-keyed by peer group, to an internal topic where the benchmark stage
(``benchmarking``) keeps each group's order statistics.

Working from score events (debounced) rather than raw activity keeps this stage cheap, and
event time (each score's ``as_of``) drives every period, so replays decide the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from engagement.domain import (
    DEFAULT_PROFILES,
    AlertTracker,
    AlertTransition,
    LevelChange,
    LevelTracker,
    OrgSnapshot,
    classify,
)
from engagement.events import RejectedEvent, ScoreUpdated, decode_output
from engagement.ingest import epoch_seconds
from engagement.settings import Settings

from .history import History
from .org_profile import OrgProfileView, PeerGroupKey
from .own_scores import PublishedScores
from .ports import Table
from .publish import Outgoing, alert_record, level_changed_record
from .read_model import values_of

__all__ = [
    "AssessingStage",
    "Assessment",
    "Assessments",
    "PeerFigures",
    "ScoreAssessed",
    "assess",
]


@dataclass
class Assessment:
    """One organisation's second-stage state."""

    level: LevelTracker
    alerts: AlertTracker
    group: str | None = None  # the encoded peer group its figures were last sent to
    firing: dict[str, dict[str, Any]] = field(default_factory=dict)  # episode -> Alert json
    as_of: int = 0  # the latest as_of assessed (epoch seconds)

    def to_record(self) -> dict[str, Any]:
        return {
            "level": self.level.to_record(),
            "alerts": self.alerts.to_record(),
            "group": self.group,
            "firing": self.firing,
            "as_of": self.as_of,
        }


class Assessments:
    """The assessments table, with the organisations this stage has touched held decoded."""

    def __init__(self, settings: Settings, table: Table) -> None:
        self.settings = settings
        self.table = table
        self.orgs: dict[str, Assessment] = {}

    def _tracker(self, record: Any = None) -> LevelTracker:
        s = self.settings
        if record:
            return LevelTracker.from_record(record, s.level_sustain_seconds, s.level_min_margin)
        return LevelTracker(s.level_sustain_seconds, s.level_min_margin)

    def get(self, org_id: str) -> Assessment:
        found = self.orgs.get(org_id)
        if found is None:
            record = self.table.get(org_id) or {}
            found = Assessment(
                level=self._tracker(record.get("level")),
                alerts=AlertTracker.from_record(record["alerts"], self.settings.alert_rules())
                if record.get("alerts")
                else AlertTracker(self.settings.alert_rules()),
                group=record.get("group"),
                firing=dict(record.get("firing") or {}),
                as_of=int(record.get("as_of") or 0),
            )
            self.orgs[org_id] = found
        return found

    def last_as_of(self, org_id: str) -> int:
        """The latest as_of this stage assessed for the organisation (0: none yet)."""
        found = self.orgs.get(org_id)
        if found is not None:
            return found.as_of
        record = self.table.get(org_id) or {}
        return int(record.get("as_of") or 0)

    def announced_level(self, org_id: str) -> str | None:
        """The level announced so far (readable outside agents: no table write)."""
        found = self.orgs.get(org_id)
        if found is not None:
            return found.level.level
        record = self.table.get(org_id) or {}
        return (record.get("level") or {}).get("level")

    def firing(self, org_id: str) -> list[dict[str, Any]]:
        """The organisation's firing alerts (``GET /orgs/{id}/alerts``)."""
        return sorted(self.get(org_id).firing.values(), key=str)

    def persist(self, org_id: str) -> None:
        self.table[org_id] = json.loads(json.dumps(self.orgs[org_id].to_record()))


def assess(
    settings: Settings,
    assessment: Assessment,
    payload: ScoreUpdated,
    profile: OrgProfileView | dict[str, Any] | None,
) -> tuple[LevelChange | None, list[AlertTransition]]:
    """Feed one score event to the organisation's trackers (pure apart from ``assessment``).

    The score stream's as_of never goes back (section 6), but should an older one ever come
    (a restart that lost the newest published as_of), its figures are still the newest: they
    are assessed at the latest as_of seen, never dropped as stale."""
    at = max(epoch_seconds(payload.as_of), assessment.as_of)
    assessment.as_of = at
    values = values_of(payload)
    change = assessment.level.observe(classify(values, DEFAULT_PROFILES), at)
    if isinstance(profile, dict):
        profile = OrgProfileView.from_json(payload.org_id, profile)
    snapshot = OrgSnapshot(
        values=values,
        score=payload.engagement_score,
        operating_level=assessment.level.level,
        target_level=profile.target_level if profile else None,
        local_day=payload.window_end.toordinal(),
    )
    return change, assessment.alerts.evaluate(snapshot, at)


@dataclass(frozen=True, slots=True)
class PeerFigures:
    """For the peer topic: an organisation's values for its group, or (``values`` None) its
    withdrawal from a group it left."""

    group: PeerGroupKey
    org_id: str
    values: dict[str, float | None] | None = None

    def body(self) -> dict[str, Any]:
        """The peer topic's JSON value (``{"org_id"}`` alone: withdrawn)."""
        if self.values is None:
            return {"org_id": self.org_id}
        return {"org_id": self.org_id, "values": self.values}


@dataclass(slots=True)
class ScoreAssessed:
    """What one score event produced: records (level change, alerts) and peer figures."""

    outputs: list[Outgoing] = field(default_factory=list)
    peers: list[PeerFigures] = field(default_factory=list)
    #: why the record could not be read (reason, detail): logged, nothing sent
    unreadable: tuple[str, str] | None = None


class AssessingStage:
    def __init__(
        self,
        settings: Settings,
        assessments: Assessments,
        profiles: Table,
        history: History | None = None,
        published: PublishedScores | None = None,
    ) -> None:
        self.settings = settings
        self.assessments = assessments
        self.profiles = profiles
        self.history = history  # day-end figures recorded from every score (issue 16)
        #: the score records this worker sent, answered without decoding (``own_scores``)
        self.published = published

    def score_event(
        self, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> ScoreAssessed:
        """Levels, alerts and peer figures from one of our own score events. The firing
        alerts are kept (for ``/alerts``) and the assessment persisted here."""
        s = self.settings
        out = ScoreAssessed()
        payload: Any = None
        if self.published is not None:
            payload = self.published.take(key, value, headers)
        if payload is None:
            try:
                payload = decode_output(key, value, headers).data
            except RejectedEvent as exc:
                out.unreadable = (exc.reason.value, exc.detail)
                return out
        if not isinstance(payload, ScoreUpdated):
            return out
        org_id = payload.org_id
        if self.history is not None:  # each score overwrites its day: the day's last wins
            self.history.record_score(payload)
        profile = OrgProfileView.from_json(org_id, self.profiles.get(org_id))
        assessment = self.assessments.get(org_id)
        change, transitions = assess(s, assessment, payload, profile)
        if change is not None:
            record = level_changed_record(org_id, change, s.output_source)
            out.outputs.append(Outgoing.of(s.level_changes_topic, record))
        for transition in transitions:
            alert, record = alert_record(org_id, transition, s.output_source)
            out.outputs.append(Outgoing.of(s.alerts_topic, record))
            if transition.status == "firing":
                assessment.firing[transition.episode_id] = alert.model_dump(mode="json")
            else:
                assessment.firing.pop(transition.episode_id, None)
        group = profile.group if profile else None
        encoded = group.encode() if group else None
        if assessment.group and assessment.group != encoded:
            out.peers.append(PeerFigures(PeerGroupKey.decode(assessment.group), org_id))
        if group:
            out.peers.append(PeerFigures(group, org_id, values_of(payload)))
        assessment.group = encoded
        self.assessments.persist(org_id)
        return out
