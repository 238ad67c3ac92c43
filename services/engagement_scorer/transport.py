"""Faust's Kafka transport with a batch data plane for the hot topic, and a producer flush
that really flushes.

Faust delivers each record through four tasks (``wait_first``), the conductor, an ``Event``,
a stream queue and its acks: ~65 µs of framework per record, several times the cost of the
work itself (docs/performance.md). ``BatchingConsumer`` takes the records of the planes'
topics (``intranet.activity``, and the score topic the second stage reads) out of each fetch
before Faust sees them and hands every partition's list to its ``BatchPlane`` in offset
order; everything else (group membership and the co-partitioning assignor, standbys,
changelog recovery, pausing partitions while they recover, the other topics' agents,
commits) stays Faust's. The seam is the consumer's ``_wait_next_records``, pinned with the
faust-streaming version in pyproject.toml and covered by the reliability suite.

At-least-once: an input offset is acknowledged in Faust's bookkeeping (and so committed) only
once every producer batch its processing caused (changelog records and outputs) is
acknowledged by the broker. Faust's own commit path flushes its producer buffer first, but
``ProducerBuffer.flush`` returns on its first 0.1 s wait with records still queued:
``DrainingProducer.flush`` waits until the buffer is empty, so a commit of the other agents'
offsets never overtakes their table writes either.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from time import monotonic, perf_counter
from typing import Any, Protocol

import faust
import structlog
from aiokafka.errors import IllegalStateError
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP, TransportT

from .local_state import mark_clean_stop

__all__ = [
    "BatchPlane",
    "BatchingConsumer",
    "DrainingProducer",
    "EngagementApp",
    "FetchWaitConsumerThread",
    "Transport",
]

log = structlog.get_logger("engagement_scorer.transport")


class BatchPlane(Protocol):
    """What processes the hot topic's records, a partition's list at a time."""

    name: str  # the stage it runs, for the metrics ("activity", "assess", "benchmark")
    topic: str  # the topic taken off Faust's per-record path
    max_records: int  # most records handed over at once (the loop is yielded in between)

    def ready(self, partition: int) -> bool:
        """May the partition's records be applied now? (False: they are read again later.)"""
        ...

    async def handle(self, partition: int, records: Sequence[Any]) -> list[asyncio.Future[Any]]:
        """Apply the records (in offset order); returns the futures of the producer batches
        their processing caused. The offsets are acknowledged once all of them are done."""
        ...


class FetchWaitConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    """Faust's consumer thread with the broker's fetch wait the app asks for.

    aiokafka keeps one fetch request in flight per broker. Once a fetch has brought the busy
    partitions' records, the next one asks only for the quiet partitions (score, profile,
    clock topics with nothing new), which the broker holds for ``fetch_max_wait_ms``: Faust
    sets 1500 ms. The busy partitions, drained meanwhile, wait behind it for the rest of that
    time: in a backlog the worker sat idle for a third of the time (docs/performance.md)."""

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        wait_ms = getattr(self.consumer.app, "fetch_max_wait_ms", None)
        if wait_ms is not None:
            consumer._fetch_max_wait_ms = int(wait_ms)  # read by ``start`` (its fetcher)
        return consumer


class EngagementApp(faust.App):
    """``faust.App`` on this module's transport; ``batch_planes`` and ``before_flush`` set by
    the composition root (no plane: every topic on Faust's per-record path)."""

    #: the topics taken off Faust's per-record path, each with its plane
    batch_planes: tuple[BatchPlane, ...] = ()
    #: the consumer's ``fetch_max_wait_ms`` (None: Faust's; ``FetchWaitConsumerThread``)
    fetch_max_wait_ms: int | None = None
    #: called with (plane name, seconds) after each batch a plane handled (its runtime)
    observe_batch: Callable[[str, float], None] | None = None
    #: awaited by the producer's flush before Faust commits (the output outbox drained)
    before_flush: Callable[[], Awaitable[None]] | None = None

    def _new_transport(self) -> TransportT:
        return Transport(self.conf.broker_consumer, self, loop=self.loop)

    async def on_shutdown(self) -> None:
        """After every table is closed: the local stores may be trusted next time
        (``local_state``)."""
        await super().on_shutdown()
        mark_clean_stop(Path(self.conf.appdir))

    def _new_producer_transport(self) -> TransportT:
        return Transport(self.conf.broker_producer, self, loop=self.loop)


class BatchingConsumer(faust_aiokafka.Consumer):
    """Faust's aiokafka consumer; the records of each plane's topic (``app.batch_planes``) go
    to that plane, one partition's fetched list at a time, one batch at a time."""

    def _new_consumer_thread(self) -> faust_aiokafka.AIOKafkaConsumerThread:
        return FetchWaitConsumerThread(self, loop=self.loop, beacon=self.beacon)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._batch_lock = asyncio.Lock()
        self._init_seek_gate()

    def _init_seek_gate(self) -> None:
        #: the generation whose partitions Faust last sought to their committed offsets
        self._sought_generation: int | None = None
        #: perform_seek calls so far: a fetch that spans one may hold records of either side
        self._seek_epoch = 0
        #: tp -> where that seek put it (None: its beginning, never committed)
        self._sought_offsets: dict[TP, int | None] = {}
        self._held_generation: int | None = None  # the generation last logged as held back
        #: partitions whose records were held back before the generation's seek finished
        self._held_back: set[TP] = set()

    async def _wait_next_records(
        self,
        timeout: float,  # noqa: ASYNC109 - Faust's signature
    ) -> tuple[Mapping[TP, list[Any]] | None, set[TP] | None]:
        epoch = self._seek_epoch  # before the fetch: see ``_may_apply``
        records, active = await super()._wait_next_records(timeout)
        planes = self._planes()
        if not records or not planes:
            return records, active
        hot = [tp for tp in records if tp.topic in planes]
        if not hot:
            return records, active
        records = dict(records)
        generation = self.app.consumer_generation_id
        for tp in hot:
            batch = records.pop(tp)
            # Faust's own rules for delivering a fetched record (``Consumer.getmany``):
            # not while the flow is stopped (a rebalance: Faust seeks back to the committed
            # offsets), not after the generation changed, not for a paused partition.
            if not self.flow_active or self.app.consumer_generation_id != generation:
                continue
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                continue
            self.app.monitor.track_tp_end_offset(tp, self.highwater(tp))
            await self._deliver(tp, batch, planes[tp.topic], generation, epoch)
        commit_every = self._commit_every
        if commit_every is not None and self._n_acked >= commit_every:
            self._n_acked = 0
            await self.commit()
        return records, active

    def _planes(self) -> dict[str, BatchPlane]:
        """Topic -> its plane (the app's ``batch_planes``)."""
        planes: Sequence[BatchPlane] = getattr(self.app, "batch_planes", ())
        return {plane.topic: plane for plane in planes}

    async def _deliver(
        self, tp: TP, batch: list[Any], plane: BatchPlane, generation: int, epoch: int
    ) -> None:
        read_offset = self._read_offset.get(tp)
        if read_offset is not None:  # already read (Faust drops those too)
            batch = [r for r in batch if r.offset >= read_offset]
        limit = max(1, plane.max_records)
        for start in range(0, len(batch), limit):
            chunk = batch[start : start + limit]
            if not chunk:
                continue
            async with self._batch_lock:  # a revocation waits for the batch in hand
                if self.app.consumer_generation_id != generation or not self.flow_active:
                    return
                if not await self._may_apply(tp, generation, epoch):
                    return
                if not plane.ready(tp.partition):  # read again once the partition may be applied
                    await self._seek_in_thread(tp, chunk[0].offset)
                    waiting = True
                else:
                    waiting = False
                    await self._add_gaps(tp, chunk)
                    started = perf_counter()
                    try:
                        futures = await plane.handle(tp.partition, chunk)
                    except Exception as exc:  # e.g. an output refused: its state not written
                        # The state in memory holds the batch, its changelog does not: never
                        # go on from it. Crash, as Faust does on a failed send; the restarted
                        # worker reads the batch again.
                        log.error("batch not applied", tp=str(tp), error=repr(exc))
                        await self.crash(exc)
                        return
                    if (observe := getattr(self.app, "observe_batch", None)) is not None:
                        observe(plane.name, perf_counter() - started)
                    if self._seek_epoch == epoch:  # else the seek set where to read from
                        self._read_offset[tp] = chunk[-1].offset
                    self.app.monitor.stream_inbound_time[tp] = monotonic()
            if waiting:
                await asyncio.sleep(0.05)
                return
            self._ack_when_sent(tp, [r.offset for r in chunk], futures, generation)
            await asyncio.sleep(0)

    async def _may_apply(self, tp: TP, generation: int, epoch: int) -> bool:
        """May records of ``tp`` fetched in seek epoch ``epoch`` be applied? (Under the lock.)

        On the first assignment of a process Faust never stops the flow: it resumes the
        partitions once their tables are recovered and only then seeks them to their committed
        offsets. Records applied in between would be read again after the seek, older ones
        after newer, and the committed offset Faust records at the seek would lie behind the
        offsets acknowledged meanwhile, so that partition would never be committed again. So
        nothing is applied before the generation's seek (the seek puts the partition where
        those records were read from). A fetch that spanned the seek may hold records from
        before or after it: the partition is sought again where the seek put it."""
        if self._sought_generation != generation:
            # read again once the seek is done: Faust seeks the partitions one by one, so a
            # partition already sought may deliver records before the seek has finished
            self._held_back.add(tp)
            if self._held_generation != generation:
                self._held_generation = generation
                log.info("activity records wait for the seek to the committed offsets", tp=str(tp))
            return False
        if epoch != self._seek_epoch:
            offset = self._sought_offsets.get(tp)
            if offset:
                await self._seek_in_thread(tp, offset)
            elif self._from_beginning(tp, offset):
                await self._thread.seek_to_beginning(tp)  # as ``seek_to_committed`` did
                self._read_offset[tp] = None
            else:
                return True  # never committed, reset to latest: aiokafka's position stands
            return False
        return True

    async def _seek_in_thread(self, tp: TP, offset: int) -> None:
        """``Consumer.seek``, run on the consumer thread's loop: aiokafka's fetcher belongs to
        that loop, and Faust's own ``seek`` changes it from this one (a future of the other
        loop resolved from here, its records dict changed under its feet)."""
        consumer = self._thread._ensure_consumer()

        async def seek() -> None:
            consumer.seek(tp, offset)

        try:
            await self._thread.call_thread(seek)
        except IllegalStateError:  # revoked meanwhile: its new owner reads it
            log.info("partition revoked before it was sought back", tp=str(tp))
            return
        self._read_offset[tp] = offset or None

    async def perform_seek(self) -> None:
        """Faust's seek to the committed offsets; opens the data plane to this generation
        (``_may_apply``). Not under the batch lock: a rebalance callback waits for that lock
        while this waits for the consumer thread. A batch in hand meanwhile is one of a
        stopped flow (Faust seeks here again only then), never acknowledged: its read offset
        is not kept either (``_deliver``)."""
        generation = self.app.consumer_generation_id
        await super().perform_seek()
        # Records held back while the seek ran were dropped, and the partition's position is
        # past them: seek it back where the seek put it, before the plane opens (a fetch made
        # meanwhile belongs to the old epoch and is sought back again by ``_may_apply``).
        held, self._held_back = self._held_back, set()
        for tp in held:
            offset = self._sought_offsets.get(tp)
            if offset:
                await self._seek_in_thread(tp, offset)
            elif self._from_beginning(tp, offset):
                await self._thread.seek_to_beginning(tp)
                self._read_offset[tp] = None
        self._seek_epoch += 1
        self._sought_generation = generation

    async def _add_gaps(self, tp: TP, chunk: list[Any]) -> None:
        """Offsets missing between records (compaction, transaction markers) count as read,
        exactly as Faust's drain loop records them."""
        previous = self._read_offset.get(tp)
        for record in chunk:
            if previous and record.offset - previous > 1:
                await self._add_gap(tp, previous + 1, record.offset)
            previous = record.offset

    def _ack_when_sent(
        self,
        tp: TP,
        offsets: list[int],
        futures: list[asyncio.Future[Any]],
        generation: int,
    ) -> None:
        if not futures:
            self._ack_offsets(tp, offsets, generation)
            return
        gathered = asyncio.gather(*futures, return_exceptions=True)

        def sent(done: asyncio.Future[list[Any]]) -> None:
            failed = next((r for r in done.result() if isinstance(r, BaseException)), None)
            if failed is None:
                self._ack_offsets(tp, offsets, generation)
                return
            # The state of these offsets is not durable: never commit them. Crash, as Faust
            # does on a failed send; the restarted worker reads them again.
            log.error("changelog or output send failed", tp=str(tp), error=repr(failed))
            self._crashing = asyncio.ensure_future(self.crash(failed))

        gathered.add_done_callback(sent)

    def _ack_offsets(self, tp: TP, offsets: list[int], generation: int) -> None:
        """``Consumer.ack`` for a batch of offsets (the same bookkeeping, once per batch)."""
        if self.app.consumer_generation_id != generation:
            return  # revoked meanwhile: the new owner reads them again
        committed = self._committed_offset[tp]
        index, acked = self._acked_index[tp], self._acked[tp]
        n = 0
        for offset in offsets:
            if (committed is None or offset >= committed) and offset not in index:
                index.add(offset)
                acked.append(offset)
                n += 1
        self._n_acked += n
        waiting = self._waiting_for_ack  # what Consumer.ack wakes (mode's ``notify``)
        if waiting is not None and not waiting.done():
            waiting.set_result(None)

    async def seek_to_committed(self) -> Mapping[TP, int]:
        """Seek every assigned partition to its committed offset, and one with none to its
        beginning (``consumer_auto_offset_reset`` earliest, this service's setting).

        aiokafka's ``seek_to_committed`` leaves a partition without a committed offset where
        it is. After a rebalance, Faust's streams drop every record fetched under the
        previous generation, relying on this seek to read them again: a partition that was
        never committed (the score topic the second stage reads, on a new group or while
        nothing of it was processed yet) then lost them for good, and the first stage, which
        waits for the second stage to reach the score topic's end, waited forever."""
        committed = await super().seek_to_committed()
        self._sought_offsets = {tp: off or None for tp, off in committed.items()}
        never = [tp for tp, off in committed.items() if self._from_beginning(tp, off)]
        if never:
            await self._thread.seek_to_beginning(*never)
        return committed

    def _from_beginning(self, tp: TP, committed: int | None) -> bool:
        """Is ``tp`` read from its beginning after a seek to the committed offsets? When it
        has none and the offset reset is ``earliest``; changelogs are Faust's recovery's."""
        return (
            not committed
            and self.app.conf.consumer_auto_offset_reset == "earliest"
            and not self._is_changelog_tp(tp)
        )

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        async with self._batch_lock:
            await super().on_partitions_revoked(revoked)


class DrainingProducer(faust_aiokafka.Producer):
    """Faust's aiokafka producer whose ``flush`` returns only once its buffer is empty."""

    async def flush(self) -> None:
        before = getattr(self.app, "before_flush", None)
        if before is not None:
            await before()
        buffer = self.buffer
        while buffer.size and not self.should_stop:
            # returns on its first 0.1 s wait: go on until the buffer is empty
            await buffer.flush_atmost(None)  # type: ignore[arg-type]
        await super().flush()


class Transport(faust_aiokafka.Transport):
    Consumer = BatchingConsumer
    Producer = DrainingProducer
