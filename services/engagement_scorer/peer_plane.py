"""The benchmark stage's data plane: a partition's fetched peer figures applied as one batch.

Every score event the second stage assesses sends the organisation's figures to the internal
peer topic, keyed by peer group (``assess_plane``). On Faust's per-record path each of them
paid the framework and two Faust table writes (``peers``, and the global ``benchmarks``
table, ~50 µs each). Here ``transport.BatchingConsumer`` hands each fetched list of a peer
partition to ``handle``: every record is applied as the ``peer-benchmarks`` agent applies it
(``benchmarking.BenchmarkingStage.peer_figures``), then the batch's benchmark events are sent
and acknowledged, then its table writes go out once per changed key (``changelog``), and the
offsets are acknowledged when the broker has acknowledged all of it (outputs before state, as
``dataplane`` explains).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from engagement.logging import RateLimitedLog

from .benchmarking import BenchmarkingStage
from .changelog import ChangelogWriter
from .clock import WorkerClock
from .org_profile import PeerGroupKey
from .publish import Outgoing
from .sending import TopicSender

__all__ = ["PeerPlane", "peer_batch"]


def peer_batch(
    benchmarking: BenchmarkingStage,
    changelog: ChangelogWriter,
    clock: WorkerClock,
    partition: int,
    messages: Sequence[tuple[Any, Any]],
) -> list[Outgoing]:
    """Apply (key, value) peer messages in order (keys as text, values as the topic's JSON
    decodes them); their benchmark records, in order. The table writes wait in
    ``changelog.writes`` under ``partition``, the group's."""
    changelog.writes.at(partition)
    now = clock.now_datetime()
    outputs: list[Outgoing] = []
    for key, body in messages:
        if isinstance(key, str) and isinstance(body, dict):
            changed = benchmarking.peer_figures(
                PeerGroupKey.decode(key), str(body["org_id"]), body.get("values"), now
            )
            outputs.extend(changed.outputs)
    return outputs


def _message(record: Any, bad_input_log: RateLimitedLog) -> tuple[Any, Any]:
    """A raw record of the peer topic as Faust would give it to the agent: the key as text
    (the topic's ``key_type=str``), the value as its JSON (``value_serializer="json"``). Only
    the second stage writes the topic; a record that is not that is reported and skipped
    (``peer_batch`` applies dict values only), as the agent skips it."""
    try:
        key = record.key.decode() if isinstance(record.key, bytes) else record.key
        value = record.value
        return key, json.loads(value) if value is not None else None
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        bad_input_log.warning("peer:unreadable", "unreadable peer record", detail=str(exc))
        return None, None


class PeerPlane:
    """``transport.BatchPlane`` for the peer topic (the benchmark stage)."""

    name = "benchmark"

    def __init__(
        self,
        topic: str,
        max_records: int,
        benchmarking: BenchmarkingStage,
        changelog: ChangelogWriter,
        sender: TopicSender,
        clock: WorkerClock,
        bad_input_log: RateLimitedLog,
    ) -> None:
        self.topic = topic
        self.max_records = max_records
        self.benchmarking = benchmarking
        self.changelog = changelog
        self.sender = sender
        self.clock = clock
        self.bad_input_log = bad_input_log
        self.records = 0  # peer messages handed to this plane

    def ready(self, partition: int) -> bool:
        """Always: nothing waits for the benchmark stage."""
        return True

    async def handle(self, partition: int, records: Sequence[Any]) -> list[asyncio.Future[Any]]:
        messages = [_message(record, self.bad_input_log) for record in records]
        outputs = peer_batch(self.benchmarking, self.changelog, self.clock, partition, messages)
        sent = self.sender.put(outputs)  # in the step that built them (``sending``)
        # outputs before state (``dataplane``); a refusal raises: no state written
        await sent.acknowledged()
        futures = await self.changelog.flush()
        futures.extend(sent.acked)
        self.records += len(records)
        await self.sender.wait_room()
        return futures
