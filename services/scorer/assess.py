"""Second stage: levels with hysteresis, alerts and peer benchmarks, from the score stream.

The scorer's own ``engagement.scores`` events are consumed again (keyed by org, so
co-partitioned with everything else): each one is classified against the level profiles,
fed to the organisation's ``LevelTracker`` and ``AlertTracker`` (persisted in the
``assessments`` table) and forwarded, re-keyed by peer group, to an internal topic where the
benchmark agent keeps each group's order statistics (``peers`` table) and publishes quartiles
for groups of at least k organisations. The medians go to a global table so every worker can
say, in its score events, whether an organisation is above or below its group.

Working from score events (debounced) rather than raw activity keeps this stage cheap, and
event time (each score's ``as_of``) drives every period, so replays decide the same way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from engagement.domain import (
    COMPONENTS,
    DEFAULT_PROFILES,
    AlertTracker,
    AlertTransition,
    Classification,
    LevelChange,
    LevelTracker,
    OrgSnapshot,
    PeerGroups,
    classify,
    size_band,
    target_gap,
)
from engagement.events import (
    Alert,
    BenchmarkGroup,
    BenchmarkUpdated,
    KafkaRecord,
    LevelChanged,
    ScoreUpdated,
    deterministic_id,
    encode_event,
    topics,
)
from engagement.events.models import Quartiles as QuartilesModel
from engagement.ingest import epoch_seconds
from engagement.settings import Settings

from .clock import WorkerClock

__all__ = [
    "Assessment",
    "Assessments",
    "Benchmarks",
    "alert_record",
    "benchmark_position",
    "group_key_of",
    "level_changed_record",
]

SEP = "\x1f"


def _moment(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def group_key_of(profile: Any) -> str | None:
    """``sector|size_band|platform_type`` of an org profile dict (None without a sector)."""
    if not isinstance(profile, dict) or not profile.get("sector"):
        return None
    return topics.benchmark_key(
        str(profile["sector"]),
        size_band(profile.get("employees")),
        str(profile.get("platform_type") or "intranet"),
    )


def values_of(payload: ScoreUpdated) -> dict[str, float | None]:
    return {name: getattr(payload.components, name).value for name in COMPONENTS}


@dataclass
class Assessment:
    """One organisation's second-stage state."""

    level: LevelTracker
    alerts: AlertTracker
    group: str | None = None
    firing: dict[str, dict[str, Any]] = field(default_factory=dict)  # episode -> Alert json
    as_of: int = 0  # the latest as_of assessed (epoch seconds)
    classification: Classification | None = None  # latest, not persisted

    def to_record(self) -> dict[str, Any]:
        return {
            "level": self.level.to_record(),
            "alerts": self.alerts.to_record(),
            "group": self.group,
            "firing": self.firing,
            "as_of": self.as_of,
        }


class Assessments:
    def __init__(self, settings: Settings, table: Any) -> None:
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

    def persist(self, org_id: str) -> None:
        self.table[org_id] = self.to_json(self.orgs[org_id])

    @staticmethod
    def to_json(assessment: Assessment) -> dict[str, Any]:
        return json.loads(json.dumps(assessment.to_record()))


def level_changed_record(org_id: str, change: LevelChange, source: str) -> KafkaRecord:
    payload = LevelChanged(
        org_id=org_id,
        from_level=change.from_level,
        to_level=change.to_level,
        at=_moment(change.at),
        confidence=round(change.confidence, 3),
        deciding_components=list(change.deciding_components),
    )
    return encode_event(
        type=topics.LEVEL_CHANGED_TYPE,
        source=source,
        id=deterministic_id(org_id, topics.LEVEL_CHANGED_TYPE, change.to_level, str(change.at)),
        time=payload.at,
        subject=org_id,
        data=payload,
        key=org_id,
    )


def alert_record(
    org_id: str, transition: AlertTransition, source: str
) -> tuple[Alert, KafkaRecord]:
    payload = Alert(
        org_id=org_id,
        alert=transition.alert,
        status=transition.status,
        severity=transition.severity,
        component=transition.component,
        value=transition.value,
        threshold=transition.threshold,
        text=transition.text,
        at=_moment(transition.at),
    )
    record = encode_event(
        type=topics.ALERT_TYPE,
        source=source,
        id=deterministic_id(org_id, topics.ALERT_TYPE, transition.episode_id, transition.status),
        time=payload.at,
        subject=org_id,
        data=payload,
        key=org_id,
    )
    return payload, record


def assess(
    settings: Settings, assessment: Assessment, payload: ScoreUpdated, profile: Any
) -> tuple[LevelChange | None, list[AlertTransition]]:
    """Feed one score event to the organisation's trackers (pure apart from ``assessment``).

    The score stream's as_of never goes back (section 6), but should an older one ever come
    (a restart that lost the newest published as_of), its figures are still the newest: they
    are assessed at the latest as_of seen, never dropped as stale."""
    at = max(epoch_seconds(payload.as_of), assessment.as_of)
    assessment.as_of = at
    values = values_of(payload)
    classification = classify(values, DEFAULT_PROFILES)
    assessment.classification = classification
    change = assessment.level.observe(classification, at)
    target = profile.get("target_level") if isinstance(profile, dict) else None
    snapshot = OrgSnapshot(
        values=values,
        score=payload.engagement_score,
        operating_level=assessment.level.level,
        target_level=target,
        local_day=payload.window_end.toordinal(),
    )
    return change, assessment.alerts.evaluate(snapshot, at)


def level_view(
    assessment: Assessment | None, payload: ScoreUpdated, profile: Any
) -> dict[str, Any]:
    """What ``GET /orgs/{id}/level`` answers."""
    values = values_of(payload)
    classification = classify(values, DEFAULT_PROFILES)
    target = profile.get("target_level") if isinstance(profile, dict) else None
    return {
        "org_id": payload.org_id,
        "as_of": payload.as_of.isoformat(),
        "operating_level": assessment.level.level if assessment else None,
        "best_fit": classification.level,
        "confidence": round(classification.confidence, 3),
        "margin": round(classification.margin, 2),
        "distances": {k: round(v, 2) for k, v in classification.distances.items()},
        "deciding_components": list(classification.deciding_components),
        "target_level": target,
        "target_gap": target_gap(values, target, DEFAULT_PROFILES) if target else None,
    }


def benchmark_position(
    values: dict[str, float | None], medians: dict[str, float] | None
) -> dict[str, str] | None:
    if not medians:
        return None
    position: dict[str, str] = {}
    for name, median in medians.items():
        value = values.get(name)
        if value is None:
            continue
        position[name] = "above" if value > median else "below" if value < median else "at"
    return position


class Benchmarks:
    """The benchmark agent's working state: peer groups of the partitions it owns."""

    def __init__(self, settings: Settings, clock: WorkerClock) -> None:
        self.settings = settings
        self.clock = clock
        self.groups = PeerGroups()
        self.last_digest: dict[str, str] = {}

    @staticmethod
    def split(key: str) -> tuple[str, str, str]:
        sector, band, platform = key.split("|", 2)
        return sector, band, platform

    def rebuild(self, rows: list[tuple[str, str, dict[str, float | None]]]) -> None:
        self.groups = PeerGroups()
        self.last_digest.clear()
        for group, org_id, values in rows:
            self.groups.update(org_id, self.split(group), values)

    def apply(self, group: str, org_id: str, values: dict[str, float | None] | None) -> set[str]:
        if values is None:
            if self.groups.group_of(org_id) != self.split(group):
                return set()
            changed = self.groups.remove(org_id)
        else:
            changed = self.groups.update(org_id, self.split(group), values)
        return {topics.benchmark_key(*g) for g in changed}

    def published(self, group: str, source: str) -> tuple[BenchmarkUpdated, KafkaRecord] | None:
        """The group's benchmark event, or None while it has fewer than k organisations."""
        key = self.split(group)
        k = self.settings.benchmark_min_group_size
        stats = self.groups.published_stats(key, k)
        if stats is None:
            return None
        payload = BenchmarkUpdated(
            group=BenchmarkGroup(sector=key[0], size_band=key[1], platform_type=key[2]),
            org_count=stats.org_count,
            components={
                name: QuartilesModel(
                    p25=round(q.p25, 1), median=round(q.median, 1), p75=round(q.p75, 1)
                )
                for name, q in stats.components.items()
                if q is not None
            },
        )
        digest = hashlib.blake2b(payload.model_dump_json().encode(), digest_size=12).hexdigest()
        if self.last_digest.get(group) == digest:
            return None
        self.last_digest[group] = digest
        record = encode_event(
            type=topics.BENCHMARK_UPDATED_TYPE,
            source=source,
            id=deterministic_id(group, topics.BENCHMARK_UPDATED_TYPE, digest),
            time=self.clock.now_datetime(),
            subject=group,
            data=payload,
            key=group,
        )
        return payload, record
