"""The activity topic's data plane: a partition's fetched records applied as one batch.

``transport.BatchingConsumer`` hands each fetched list of ``intranet.activity`` records of a
partition here, in offset order. One batch is: the scoring stage applies every record as the
per-record path would (decode, day-end score, domain, dead letters, closed months), its outputs
are sent and acknowledged, then its state changes are written once per changed key
(``changelog``), the counters move once; the futures of all of it go back to the consumer, which
acknowledges the offsets only when the broker has acknowledged every one of them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .changelog import ChangelogWriter
from .metrics import ScorerMetrics
from .scoring import BatchApplied, ScoringStage
from .sending import TopicSender

__all__ = ["ActivityPlane", "DataPlaneMetrics"]

log = structlog.get_logger("engagement_scorer.dataplane")

_BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000)


class DataPlaneMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.batch_records = Histogram(
            "engagement_activity_batch_records",
            "Activity records per data-plane batch (one partition's fetched records).",
            buckets=_BATCH_BUCKETS,
            registry=registry,
        )
        self.changelog_records = Counter(
            "engagement_changelog_records_total",
            "State changelog records written by the first stage (one per changed key and batch).",
            registry=registry,
        )
        self.records = Counter(
            "engagement_activity_records_total",
            "Activity records applied by the data plane (accepted, late and dead-lettered).",
            registry=registry,
        )
        self.first_record = Gauge(
            "engagement_activity_first_record_timestamp_seconds",
            "Unix time the data plane applied its first batch since the worker started.",
            registry=registry,
        )
        self.last_record = Gauge(
            "engagement_activity_last_record_timestamp_seconds",
            "Unix time the data plane finished its latest batch.",
            registry=registry,
        )
        self.decoded = Counter(
            "engagement_activity_decoded_total",
            "Activity records decoded, by decoder: fast (proved identical) or reference.",
            ["path"],
            registry=registry,
        )
        self.batch_seconds = Histogram(
            "engagement_batch_duration_seconds",
            "Seconds a data plane took to apply one batch, outputs and changelog acknowledged "
            "included, by plane (activity: first stage, assess: second, benchmark: peers).",
            ["plane"],
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
            registry=registry,
        )
        self.changelog_bytes = Counter(
            "engagement_changelog_bytes_total",
            "Key and value bytes of those changelog records.",
            registry=registry,
        )


class ActivityPlane:
    """``transport.BatchPlane`` for the activity topic."""

    name = "activity"

    def __init__(
        self,
        topic: str,
        max_records: int,
        scoring: ScoringStage,
        changelog: ChangelogWriter,
        sender: TopicSender,
        metrics: ScorerMetrics,
        plane_metrics: DataPlaneMetrics,
    ) -> None:
        self.topic = topic
        self.max_records = max_records
        self.scoring = scoring
        self.changelog = changelog
        self.sender = sender
        self.metrics = metrics
        self.plane_metrics = plane_metrics
        self.records = 0  # records handed to this plane (bench: first/last inside the worker)
        self._decoded = (0, 0)  # the decoder's (fast, reference) counts already exported
        #: partition -> monotonic time it was first found waiting (logged when it may go on)
        self._waiting: dict[int, float] = {}

    def ready(self, partition: int) -> bool:
        """After a rebuild a partition's records wait until the second stage has read the
        score partition as far as the previous owner published: the first stage would
        otherwise race through a backlog while its restored organisations cannot publish."""
        ready = self.scoring.emitter.partition_ready(partition)
        if not ready and partition not in self._waiting:
            self._waiting[partition] = time.monotonic()
            log.info("activity partition waits for the second stage", partition=partition)
        elif ready and partition in self._waiting:
            waited = time.monotonic() - self._waiting.pop(partition)
            log.info("activity partition goes on", partition=partition, waited_seconds=waited)
        return ready

    async def handle(self, partition: int, records: Sequence[Any]) -> list[asyncio.Future[Any]]:
        if not self.records:
            self.plane_metrics.first_record.set(time.time())
        applied = self.scoring.activity_batch(partition, records)
        sent = self.sender.put(applied.outputs)  # now: in the order the stages built them
        # Outputs before state: a worker killed once the changelog holds the batch's state,
        # but before its offsets are committed, reads the batch again after the restart onto
        # a state that already holds it. Those records then change nothing (duplicates), so
        # what they caused (a day's last score, a closed month) is never built again: it
        # must be in its topic before the state that no longer causes it is.
        await sent.acknowledged()  # a refusal raises: the batch's state is not written
        records_before, bytes_before = self.changelog.records, self.changelog.bytes
        futures = await self.changelog.flush()
        futures.extend(sent.acked)
        await self.sender.wait_room()
        self._count(len(records), applied)
        pm = self.plane_metrics
        pm.changelog_records.inc(self.changelog.records - records_before)
        pm.changelog_bytes.inc(self.changelog.bytes - bytes_before)
        pm.records.inc(len(records))
        stats = self.scoring.decode_stats
        fast, reference = self._decoded
        pm.decoded.labels(path="fast").inc(stats.fast - fast)
        pm.decoded.labels(path="reference").inc(stats.fallback - reference)
        self._decoded = (stats.fast, stats.fallback)
        pm.last_record.set(time.time())
        return futures

    def _count(self, n: int, applied: BatchApplied) -> None:
        self.records += n
        self.plane_metrics.batch_records.observe(n)
        metrics = self.metrics
        for event_type, count in applied.processed.items():
            metrics.processed(event_type).inc(count)
        if applied.late:
            metrics.late_events.inc(applied.late)
        if applied.after_deletion:
            metrics.after_deletion.inc(applied.after_deletion)
