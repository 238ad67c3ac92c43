"""Domain figures to output events: payloads, deterministic ids, Kafka records."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

from engagement.domain import COMPONENTS, Figures, OrgState, month_key_of, month_label
from engagement.events import (
    ComponentFigure,
    Components,
    KafkaRecord,
    MonthClosed,
    ScoreUpdated,
    deterministic_id,
    encode_event,
    topics,
)

__all__ = ["month_closed", "score_payload", "score_record"]


def _moment(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def components(figures: Figures) -> Components:
    return Components(
        **{
            name: ComponentFigure(
                value=figures.components[name].value,
                numerator=figures.components[name].numerator,
                denominator=figures.components[name].denominator,
            )
            for name in COMPONENTS
        }
    )


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
    return encode_event(
        type=topics.SCORE_UPDATED_TYPE,
        source=source,
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
    return encode_event(
        type=topics.MONTH_CLOSED_TYPE,
        source=source,
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
