"""Every output record of the worker is built here: score, monthly, level change, alert,
benchmark and dead letter. Stages return ``Outgoing`` values (topic name + record); the agents
send them (``sending.TopicSender``). Ids are deterministic, so a redelivery or a replay
produces the same records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from engagement.domain import (
    COMPONENTS,
    AlertTransition,
    Figures,
    GroupStats,
    LevelChange,
    OrgState,
    month_key_of,
    month_label,
)
from engagement.events import (
    Alert,
    BenchmarkGroup,
    BenchmarkUpdated,
    ComponentFigure,
    Components,
    DeadLetterReason,
    KafkaRecord,
    LevelChanged,
    MonthClosed,
    ScoreUpdated,
    dead_letter_headers,
    deterministic_id,
    topics,
)
from engagement.events.fast import encode_output
from engagement.events.models import Quartiles as QuartilesModel

#: Base of every output's ``ce_dataschema`` (the payload schema's ``$id``): the default URN
#: until the composition root sets the configured one (``set_schema_base``).
_schema_base = [topics.SCHEMA_BASE_URL]


def set_schema_base(base: str) -> None:
    """The ``ENGAGEMENT_SCHEMA_BASE_URL`` of this process (``app.create_app``)."""
    _schema_base[0] = base


def dataschema(event_type: str) -> str:
    """The ``ce_dataschema`` of an output event of ``event_type``."""
    return topics.schema_id(event_type, _schema_base[0])


__all__ = [
    "Outgoing",
    "alert_record",
    "benchmark_payload",
    "benchmark_record",
    "dataschema",
    "dead_letter",
    "figures_digest",
    "level_changed_record",
    "month_closed",
    "score_payload",
    "score_record",
    "set_schema_base",
]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One record for one topic (by name). ``reason``/``detail``: set on a dead letter, so
    the sender counts and logs it as one instead of as an output."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    reason: DeadLetterReason | None = None
    detail: str = ""

    @classmethod
    def of(cls, topic: str, record: KafkaRecord) -> Outgoing:
        return cls(topic, record.key, record.value, record.headers)


def dead_letter(
    topic: str,
    key: bytes | None,
    value: bytes | None,
    headers: Sequence[tuple[str, bytes]],
    reason: DeadLetterReason,
    detail: str,
) -> Outgoing:
    """The input record untouched (key, value, headers), plus the reason headers."""
    return Outgoing(topic, key, value, dead_letter_headers(headers, reason, detail), reason, detail)


def _moment(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


#: Published figures by their counts, and the five of a period by theirs. The payload models
#: are frozen, so one instance serves every payload with those counts; each is built (and
#: validated) the first time, so what is published is what the models would build. Most
#: counts recur from one score to the next (reach, contribute, the month's), and building
#: them was a third of a score's cost. Cleared when full: a cache, not a record.
_FIGURES: dict[tuple[int, int], ComponentFigure] = {}
_COMPONENTS: dict[tuple[tuple[int, int], ...], Components] = {}
_CACHE_MAX = 50_000


def _figure(numerator: int, denominator: int, value: float | None) -> ComponentFigure:
    key = (numerator, denominator)
    found = _FIGURES.get(key)
    if found is None:
        if len(_FIGURES) >= _CACHE_MAX:
            _FIGURES.clear()
        found = _FIGURES[key] = ComponentFigure(
            value=value, numerator=numerator, denominator=denominator
        )
    return found


def components(figures: Figures) -> Components:
    found = figures.components
    counts = tuple((found[name].numerator, found[name].denominator) for name in COMPONENTS)
    cached = _COMPONENTS.get(counts)
    if cached is None:
        if len(_COMPONENTS) >= _CACHE_MAX:
            _COMPONENTS.clear()
        cached = _COMPONENTS[counts] = Components(
            **{
                name: _figure(n, d, found[name].value)
                for name, (n, d) in zip(COMPONENTS, counts, strict=True)
            }
        )
    return cached


def score_payload(state: OrgState, as_of: int) -> ScoreUpdated:
    window = state.figures(as_of)
    mtd = state.month_to_date(as_of)
    return ScoreUpdated(
        org_id=state.org_id,
        as_of=_moment(window.as_of),
        timezone=state.timezone,
        window_start=date.fromordinal(window.first_day),
        window_end=date.fromordinal(window.last_day),
        components=components(window),
        engagement_score=window.score,
        month=month_label(month_key_of(mtd.last_day)),
        month_to_date=components(mtd),
        month_engagement_score=mtd.score,
    )


def _digest(body: str) -> str:
    return hashlib.blake2b(body.encode(), digest_size=12).hexdigest()


def figures_digest(payload: ScoreUpdated) -> str:
    """What changed, ignoring the moment: two updates with equal digests say the same."""
    return _digest(payload.model_dump_json(exclude={"as_of"}))


def score_record(payload: ScoreUpdated, source: str, digest: str) -> KafkaRecord:
    as_of = payload.as_of.isoformat()
    return encode_output(
        type=topics.SCORE_UPDATED_TYPE,
        source=source,
        dataschema=dataschema(topics.SCORE_UPDATED_TYPE),
        id=deterministic_id(payload.org_id, topics.SCORE_UPDATED_TYPE, as_of, digest),
        time=payload.as_of,
        subject=payload.org_id,
        data=payload,
        key=payload.org_id,
    )


def month_closed(state: OrgState, figures: Figures, source: str) -> KafkaRecord:
    month = month_label(month_key_of(figures.first_day))
    payload = MonthClosed(
        org_id=state.org_id,
        month=month,
        as_of=_moment(figures.as_of),
        timezone=state.timezone,
        components=components(figures),
        engagement_score=figures.score,
    )
    return encode_output(
        type=topics.MONTH_CLOSED_TYPE,
        source=source,
        dataschema=dataschema(topics.MONTH_CLOSED_TYPE),
        # the content is part of the id: a month's figures are final, but should they ever
        # differ (a restart between a wall-clock and an event-time close), ids differ too
        id=deterministic_id(
            state.org_id, topics.MONTH_CLOSED_TYPE, month, _digest(payload.model_dump_json())
        ),
        time=payload.as_of,
        subject=state.org_id,
        data=payload,
        key=state.org_id,
    )


def level_changed_record(org_id: str, change: LevelChange, source: str) -> KafkaRecord:
    payload = LevelChanged(
        org_id=org_id,
        from_level=change.from_level,
        to_level=change.to_level,
        at=_moment(change.at),
        confidence=round(change.confidence, 3),
        deciding_components=list(change.deciding_components),
    )
    return encode_output(
        type=topics.LEVEL_CHANGED_TYPE,
        source=source,
        dataschema=dataschema(topics.LEVEL_CHANGED_TYPE),
        id=deterministic_id(org_id, topics.LEVEL_CHANGED_TYPE, change.to_level, str(change.at)),
        time=payload.at,
        subject=org_id,
        data=payload,
        key=org_id,
    )


def alert_record(
    org_id: str, transition: AlertTransition, source: str
) -> tuple[Alert, KafkaRecord]:
    """The alert event, and its payload (the second stage keeps the firing ones)."""
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
    record = encode_output(
        type=topics.ALERT_TYPE,
        source=source,
        dataschema=dataschema(topics.ALERT_TYPE),
        id=deterministic_id(org_id, topics.ALERT_TYPE, transition.episode_id, transition.status),
        time=payload.at,
        subject=org_id,
        data=payload,
        key=org_id,
    )
    return payload, record


def benchmark_payload(stats: GroupStats) -> BenchmarkUpdated:
    """A published group's figures (``PeerGroups.published_stats``), rounded as published."""
    sector, band, platform = stats.group
    return BenchmarkUpdated(
        group=BenchmarkGroup(sector=sector, size_band=band, platform_type=platform),
        org_count=stats.org_count,
        components={
            name: QuartilesModel(
                p25=round(q.p25, 1), median=round(q.median, 1), p75=round(q.p75, 1)
            )
            for name, q in stats.components.items()
            if q is not None
        },
    )


def benchmark_digest(payload: BenchmarkUpdated) -> str:
    return _digest(payload.model_dump_json())


def benchmark_record(
    group: str, payload: BenchmarkUpdated, digest: str, source: str, now: datetime
) -> KafkaRecord:
    """``group``: the encoded group key (``sector|size_band|platform_type``), the record key."""
    return encode_output(
        type=topics.BENCHMARK_UPDATED_TYPE,
        source=source,
        dataschema=dataschema(topics.BENCHMARK_UPDATED_TYPE),
        id=deterministic_id(group, topics.BENCHMARK_UPDATED_TYPE, digest),
        time=now,
        subject=group,
        data=payload,
        key=group,
    )
