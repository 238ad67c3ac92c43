"""A simulated event as a typed value, and how it becomes a Kafka record.

The generators and the scenarios work on :class:`SimEvent` values (type, payload model, time,
key and the CloudEvents id, source and mode they will be sent with) and never read records
back: encoding happens once, at the end (:func:`encode_all`), with the one fast encoder
``engagement.events.fast`` where it gives exactly what ``encode_event`` gives (checked once per
process, ``encode_event`` otherwise) and ``encode_structured`` for the structured share.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from pydantic import BaseModel

from engagement.events import (
    AccountCreated,
    AccountDeleted,
    ContentPublished,
    ContentViewed,
    Interaction,
    KafkaRecord,
    OrgProfile,
    Visit,
    deterministic_id,
    encode_event,
    encode_structured,
    topics,
)
from engagement.events.codec import ID_NAMESPACE
from engagement.events.fast import encode_binary, fast_path_matches

from .world import Org

__all__ = [
    "STRUCTURED_FRACTION",
    "SimEvent",
    "encode",
    "encode_all",
    "event_id",
    "org_event",
]

#: Share of the generated activity sent in structured CloudEvents mode.
STRUCTURED_FRACTION = 0.1


@dataclass(frozen=True, slots=True)
class SimEvent:
    """One event as the simulator knows it, before encoding (a duplicate in a produce order is
    the same value twice)."""

    type: str  # CloudEvents type (``topics.*_TYPE``)
    data: BaseModel  # the payload model
    t: int  # event time, whole epoch seconds
    id: str  # CloudEvents id
    source: str  # CloudEvents source
    key: str  # Kafka key: the organisation
    structured: bool = False  # structured mode instead of binary

    @property
    def org(self) -> str:
        return str(getattr(self.data, "org_id", ""))

    @property
    def account(self) -> str:
        return str(getattr(self.data, "account_id", ""))


def _uuid5_text(name: str) -> str:
    """``str(uuid.uuid5(ID_NAMESPACE, name))`` without the UUID object (a third of the cost)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_NAMESPACE_BYTES = ID_NAMESPACE.bytes


@cache
def _fast_ids_ok() -> bool:
    samples = [("simulator|1|0", "org", "1"), ("p", "org-ü", "live-99"), ("", "", "")]
    return all(_uuid5_text("|".join(parts)) == deterministic_id(*parts) for parts in samples)


def event_id(id_prefix: str, org_id: str, seq: int | str) -> str:
    """``deterministic_id(id_prefix, org_id, str(seq))``, computed the fast way if it agrees."""
    if _fast_ids_ok():
        return _uuid5_text(f"{id_prefix}|{org_id}|{seq}")
    return deterministic_id(id_prefix, org_id, str(seq))


def org_event(
    rng: random.Random,
    id_prefix: str,
    org: Org,
    seq: int | str,
    type_: str,
    t: int,
    data: BaseModel,
) -> SimEvent:
    """An event of a simulated organisation; `rng` decides (one draw) whether it goes out in
    structured mode."""
    id_ = event_id(id_prefix, org.id, seq)
    structured = rng.random() < STRUCTURED_FRACTION
    return SimEvent(type_, data, t, id_, org.source, org.id, structured)


_SAMPLES: tuple[tuple[str, BaseModel], ...] = (
    (topics.ACCOUNT_CREATED_TYPE, AccountCreated(org_id="o", account_id="a", kind="guest")),
    (topics.ACCOUNT_DELETED_TYPE, AccountDeleted(org_id="o", account_id="a")),
    (topics.VISIT_TYPE, Visit(org_id="o", account_id="a", client="web")),
    (
        topics.CONTENT_PUBLISHED_TYPE,
        ContentPublished(
            org_id="o", account_id="a", content_id="m", content_type="message", audience_size=3
        ),
    ),
    (
        topics.CONTENT_VIEWED_TYPE,
        ContentViewed(org_id="o", account_id="a", content_id="m", content_type="message"),
    ),
    (topics.INTERACTION_TYPE, Interaction(org_id="o", account_id="a", kind="like")),
    (
        topics.ORG_PROFILE_TYPE,
        OrgProfile(org_id="o", name="Bank Ü", sector="finance", employees=3, timezone="UTC"),
    ),
)


@cache
def _fast_ok() -> bool:
    return fast_path_matches(_SAMPLES)


def encode(event: SimEvent) -> KafkaRecord:
    """The Kafka record of an event."""
    if not event.structured and _fast_ok():
        data_json = event.data.model_dump_json().encode("utf-8")
        return encode_binary(event.type, event.source, event.id, event.t, data_json, event.key)
    sdk = encode_structured if event.structured else encode_event
    return sdk(
        type=event.type,
        source=event.source,
        id=event.id,
        time=datetime.fromtimestamp(event.t, UTC),
        subject=None,
        data=event.data,
        key=event.key,
    )


def encode_all(events: Iterable[SimEvent]) -> list[KafkaRecord]:
    """The records of `events` in order; a repeated event (a duplicate) is encoded once and its
    record repeated."""
    done: dict[int, tuple[SimEvent, KafkaRecord]] = {}  # by identity (the event kept alive)
    out: list[KafkaRecord] = []
    for event in events:
        seen = done.get(id(event))
        if seen is None:
            seen = done[id(event)] = (event, encode(event))
        out.append(seen[1])
    return out
