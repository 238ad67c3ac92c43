"""The second stage's data plane: a partition's fetched score events assessed as one batch.

Every published score comes back to the second stage (``assess``). On Faust's per-record path
each one paid the framework (an ``Event``, the stream, the conductor, acks: ~65 µs) and wrote
its assessment and history changelog records on its own, several producer batches per score;
at a backlog's day-end scores (one per organisation and local day) that was more than the
assessment itself. Here ``transport.BatchingConsumer`` hands each fetched list of the score
topic's records of one partition to ``handle``, in offset order, as it does the activity
topic's: every event is assessed as the agent assessed it, then

1. the batch's outputs (level changes, alerts) and its peer figures (to the peer topic: the
   benchmark stage owns the groups) are sent, and acknowledged (a refusal raises: the state
   is then not written, and the worker stops, ``transport``);
2. its state (assessments, day-end history) is written, one changelog record per changed key;

and the offsets are acknowledged once the broker has acknowledged all of it (at-least-once,
outputs before state, as ``dataplane`` explains). Without the plane (``batch_data_plane``
off) the ``assess-scores`` agent does the same per record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import structlog
from faust.types import TopicT

from engagement.logging import RateLimitedLog

from .assess import AssessingStage, PeerFigures
from .changelog import ChangelogWriter
from .progress import PartitionProgress
from .publish import Outgoing
from .sending import TopicSender, acknowledged

__all__ = ["AssessPlane", "assess_batch"]

log = structlog.get_logger("engagement_scorer.assess_plane")


def _header_list(headers: Any) -> list[tuple[str, bytes]]:
    if type(headers) is list:
        return headers
    if isinstance(headers, dict):
        return list(headers.items())
    return list(headers or ())


def assess_batch(
    assessing: AssessingStage,
    changelog: ChangelogWriter,
    partition: int,
    records: Sequence[Any],
    bad_input_log: RateLimitedLog,
) -> tuple[list[Outgoing], list[PeerFigures]]:
    """Assess the records in order: their outputs and peer figures, in the order the events
    caused them; the state changes wait in ``changelog.writes`` (under ``partition``: the
    organisation's, so the changelog stays co-partitioned)."""
    changelog.writes.at(partition)
    outputs: list[Outgoing] = []
    peers: list[PeerFigures] = []
    for record in records:
        assessed = assessing.score_event(record.key, record.value, _header_list(record.headers))
        if assessed.unreadable is not None:
            reason, detail = assessed.unreadable
            bad_input_log.warning("scores:" + reason, "unreadable score event", detail=detail)
        outputs.extend(assessed.outputs)
        peers.extend(assessed.peers)
    return outputs, peers


class AssessPlane:
    """``transport.BatchPlane`` for the score topic (the second stage)."""

    name = "assess"

    def __init__(
        self,
        topic: str,
        max_records: int,
        assessing: AssessingStage,
        changelog: ChangelogWriter,
        sender: TopicSender,
        peer_topic: TopicT,
        progress: PartitionProgress,
        bad_input_log: RateLimitedLog,
    ) -> None:
        self.topic = topic
        self.max_records = max_records
        self.assessing = assessing
        self.changelog = changelog
        self.sender = sender
        self.peer_topic = peer_topic
        self.progress = progress
        self.bad_input_log = bad_input_log
        self.records = 0  # score events handed to this plane

    def ready(self, partition: int) -> bool:
        """Always: the second stage waits for nothing (the first stage waits for it)."""
        return True

    async def handle(self, partition: int, records: Sequence[Any]) -> list[asyncio.Future[Any]]:
        outputs, peers = assess_batch(
            self.assessing, self.changelog, partition, records, self.bad_input_log
        )
        sent = self.sender.put(outputs)  # in the step that built them (``sending``)
        # The peer figures are outputs too: a withdrawal from an organisation's old group is
        # built only while its assessment still names that group, so it must be in its topic
        # before the assessment that names the new one is in the changelog.
        delivered: list[asyncio.Future[Any]] = []
        for peer in peers:
            # force: sent now, never attached to an event (there is none here); the future
            # is done once the broker has acknowledged the record
            future = await self.peer_topic.send(
                key=peer.group.encode(), value=peer.body(), force=True
            )
            delivered.append(cast("asyncio.Future[Any]", future))
        # outputs before state (``dataplane``); a refusal raises: no state written
        await sent.acknowledged()
        await acknowledged(delivered)
        futures = await self.changelog.flush()
        futures.extend(sent.acked)
        futures.extend(delivered)
        if records:
            self.progress.processed(partition, records[-1].offset)
        self.records += len(records)
        await self.sender.wait_room()
        return futures
