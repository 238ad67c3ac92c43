"""Translation at the edge: a validated contract event becomes the domain's ``Activity``."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from .domain import Activity, ActivityKind
from .events import (
    AccountCreated,
    AccountDeleted,
    ContentPublished,
    ContentViewed,
    InboundEvent,
    Interaction,
    Visit,
)

__all__ = ["activity_of", "epoch_seconds", "to_activity"]


def epoch_seconds(moment: datetime) -> int:
    """Whole epoch seconds, fractions floored (the domain's unit of time)."""
    return int(moment.timestamp() // 1)


def to_activity(event: InboundEvent) -> Activity:
    return activity_of(event.data, epoch_seconds(event.time))


def activity_of(data: BaseModel, t: int) -> Activity:
    """The ``Activity`` of a validated activity payload at event time ``t`` (epoch seconds);
    shared by :func:`to_activity` and the fast decoder, so both build it the same way."""
    if isinstance(data, AccountCreated):
        activated = None if data.activated_at is None else epoch_seconds(data.activated_at)
        return Activity(
            ActivityKind.ACCOUNT_CREATED,
            data.org_id,
            data.account_id,
            t,
            account_kind=str(data.kind),
            activated_at=activated,
        )
    if isinstance(data, AccountDeleted):
        return Activity(ActivityKind.ACCOUNT_DELETED, data.org_id, data.account_id, t)
    if isinstance(data, Visit):
        return Activity(ActivityKind.VISIT, data.org_id, data.account_id, t)
    if isinstance(data, ContentPublished):
        return Activity(
            ActivityKind.CONTENT_PUBLISHED,
            data.org_id,
            data.account_id,
            t,
            content_id=data.content_id,
            content_type=str(data.content_type),
            action=str(data.action),
            audience_size=data.audience_size,
            channel_id=data.channel_id or "",
        )
    if isinstance(data, ContentViewed):
        return Activity(
            ActivityKind.CONTENT_VIEWED,
            data.org_id,
            data.account_id,
            t,
            content_id=data.content_id,
            content_type=str(data.content_type),
        )
    if isinstance(data, Interaction):
        return Activity(ActivityKind.INTERACTION, data.org_id, data.account_id, t)
    raise TypeError(f"not an activity payload: {type(data).__name__}")
