"""The domain's view of one activity event: only what counting needs, already validated.

Adapters translate the wire contract (CloudEvents + pydantic models) into ``Activity`` so the
domain never sees headers, bytes or pydantic.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["Activity", "ActivityKind"]


class ActivityKind(Enum):
    ACCOUNT_CREATED = "account.created"
    ACCOUNT_DELETED = "account.deleted"
    VISIT = "visit"
    CONTENT_PUBLISHED = "content.published"
    CONTENT_VIEWED = "content.viewed"
    INTERACTION = "interaction"


@dataclass(frozen=True, slots=True)
class Activity:
    """``time`` is the event time in whole epoch seconds (fractions floored).

    ``account_kind``/``activated_at`` only for account.created; ``content_id``,
    ``content_type``, ``action``, ``audience_size`` only for content events; ``channel_id``
    only for a published message in a channel (the View-per-channel breakdown).
    """

    kind: ActivityKind
    org_id: str
    account_id: str
    time: int
    account_kind: str = "member"
    activated_at: int | None = None
    content_id: str = ""
    content_type: str = ""
    action: str = "created"
    audience_size: int | None = None
    channel_id: str = ""  # a channel message's channel (breakdowns only)

    @property
    def is_view_message(self) -> bool:
        """A created channel message: it enters View's denominator."""
        return (
            self.kind is ActivityKind.CONTENT_PUBLISHED
            and self.content_type == "message"
            and self.action == "created"
        )

    @property
    def is_message_read(self) -> bool:
        return self.kind is ActivityKind.CONTENT_VIEWED and self.content_type == "message"
