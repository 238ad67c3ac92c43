"""Read the organisations' profiles before their activity, after every rebalance.

Why: an organisation's time zone decides the local day of each of its events, and profiles
and activity are two topics that Faust consumes side by side. A worker that starts cold on a
backlog of both would apply some early activity before the profile with the organisation's
time zone (in the default zone, then "timezone changed"), so its figures would differ from a
batch recomputation that knows the profiles first.

So the worker reads the profiles partitions it has just been given, from the beginning to
their current end, with a plain consumer (the topic is compacted: one record per
organisation), while Faust still holds the input partitions paused (table ``on_recover``
callbacks run before it resumes them). The time zones found are used for the organisations
whose profile is not in the profiles table yet, both those restored by the rebuild that
follows and those created by their first event; the profiles agent still applies every
profile as before (same time zone: nothing changes). A profile that cannot be read in time
only delays as it did before: the read is bounded and its failure is logged, never fatal.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition

from engagement.events import OrgProfile, RejectedEvent, decode_org_profile

__all__ = ["ProfileSnapshot", "read_profiles", "timezones_of"]

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class ProfileSnapshot:
    """The last record per organisation key of some profiles partitions."""

    records: dict[str, tuple[bytes | None, list[tuple[str, bytes]]]] = field(default_factory=dict)
    complete: bool = True
    seconds: float = 0.0


def timezones_of(snapshot: ProfileSnapshot, now: datetime) -> dict[str, str]:
    """org_id -> time zone of the valid profiles in the snapshot (withdrawn or invalid: none).
    ``now`` is the worker's clock (for the codec's future-time check), never the machine's."""
    zones: dict[str, str] = {}
    for key, (value, headers) in snapshot.records.items():
        if value is None:
            continue
        try:
            inbound = decode_org_profile(key.encode(), value, headers, now=now)
        except RejectedEvent:
            continue  # the profiles agent counts it (profiles are never dead-lettered)
        profile = inbound.data
        if isinstance(profile, OrgProfile):
            zones[profile.org_id] = profile.timezone
    return zones


async def read_profiles(
    bootstrap: str,
    topic: str,
    partitions: Iterable[int],
    *,
    within: float = 30.0,
    security: dict[str, Any] | None = None,
) -> ProfileSnapshot:
    """Every record of ``topic``'s ``partitions`` up to their end offsets at the start of the
    read, last one per key. ``complete`` is False when ``within`` seconds were not enough."""
    started = time.perf_counter()
    snapshot = ProfileSnapshot()
    tps = [TopicPartition(topic, p) for p in sorted(set(partitions))]
    if not tps:
        return snapshot
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **(security or {}),
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        pending = {tp for tp in tps if ends[tp] > 0}
        deadline = time.monotonic() + within
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                snapshot.complete = False
                break
            batch = await consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            for records in batch.values():
                for r in records:
                    if r.key is None:
                        continue
                    key = r.key.decode(errors="replace")
                    snapshot.records[key] = (r.value, list(r.headers or ()))
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
    finally:
        await asyncio.shield(consumer.stop())
    snapshot.seconds = time.perf_counter() - started
    return snapshot
