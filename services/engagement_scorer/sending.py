"""Where the stages' records go: the worker's output topics, in the order they were built.

The stages build their records synchronously and return them; several tasks send (the data
plane, the emit timer, the clock and second-stage agents), each awaiting the producer in
between. Sent straight from each task, a record built earlier could reach its topic after
one built later (a day-end score built in a batch and sent after the batch's changelog
flush, overtaken by the timer's next score of the same organisation: an as_of going back).
So every record is put in one outbox *when it is built* (``put``: synchronous, in the same
step as the stage's decision) and one task hands them to the producer in that order.

Each record has two futures: handed to the producer (what a Faust agent waits for before its
input is acknowledged: Faust's commit then flushes the producer) and acknowledged by the
broker (what the data plane waits for before it acknowledges its offsets).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections import deque
from dataclasses import dataclass, field
from typing import Any, cast

import structlog
from faust.types import TopicT

from engagement.logging import RateLimitedLog

from .metrics import ScorerMetrics
from .publish import Outgoing

__all__ = ["Sent", "TopicSender", "acknowledged"]

log = structlog.get_logger("engagement_scorer.sending")

_Entry = tuple[Outgoing, "asyncio.Future[None]", "asyncio.Future[Any]"]


@dataclass(slots=True)
class Sent:
    """What ``put`` queued: each record's acknowledgement, and when the last was handed over."""

    acked: list[asyncio.Future[Any]] = field(default_factory=list)
    last_handed: asyncio.Future[None] | None = None

    async def handed(self) -> None:
        """Until every record is handed to the producer (they are handed over in order)."""
        if self.last_handed is not None:
            await self.last_handed

    async def settled(self) -> None:
        """Until the broker has answered for every record (acknowledged or refused: a refusal
        stays in its future, for whoever acknowledges the input offsets to see)."""
        if self.acked:
            await asyncio.wait(self.acked)

    async def acknowledged(self) -> None:
        """Until the broker has acknowledged every record; raises the first refusal (an
        agent's input is then not acknowledged, and its state change not written)."""
        await acknowledged(self.acked)


class TopicSender:
    """Sends ``Outgoing`` records on the worker's Faust topics, in ``put`` order, and counts
    them: dead letters by reason (and logged, rate-limited), the rest as outputs of their topic."""

    #: records waiting in the outbox beyond which ``wait_room`` makes the data plane wait
    high_water = 10_000

    def __init__(
        self, topics: dict[str, TopicT], metrics: ScorerMetrics, bad_input_log: RateLimitedLog
    ) -> None:
        self.topics = topics
        self.metrics = metrics
        self.bad_input_log = bad_input_log
        self._queue: deque[_Entry] = deque()
        self._wake = asyncio.Event()  # records queued
        self._drained = asyncio.Event()  # the queue is empty
        self._room = asyncio.Event()  # the queue is at or under high_water
        self._task: asyncio.Future[None] | None = None

    def put(self, outs: list[Outgoing]) -> Sent:
        """Queue the records, in order (synchronous: call it in the step that built them)."""
        sent = Sent()
        if not outs:
            return sent
        loop = asyncio.get_running_loop()
        for out in outs:
            handed: asyncio.Future[None] = loop.create_future()
            handed.add_done_callback(_retrieve)
            acked: asyncio.Future[Any] = loop.create_future()
            acked.add_done_callback(_retrieve)
            entry: _Entry = (out, handed, acked)
            self._queue.append(entry)
            sent.acked.append(entry[2])
        sent.last_handed = handed
        self._start()
        self._drained.clear()
        self._wake.set()
        return sent

    async def send_all(self, outs: list[Outgoing]) -> None:
        """Queue the records and wait until they are handed to the producer."""
        await self.put(outs).handed()

    async def drained(self) -> None:
        """Until every queued record is handed to the producer (before a commit)."""
        if self._queue:
            await self._drained.wait()

    async def wait_room(self) -> None:
        """Back-pressure for the data plane: wait while the outbox is over ``high_water``."""
        while len(self._queue) > self.high_water:
            self._room.clear()
            await self._room.wait()

    def _start(self) -> None:
        if self._task is None or self._task.done():
            # In a context of its own: a task copies the context it is created in, and the
            # first ``put`` may come from an agent processing an event. Faust's
            # ``Topic.send`` attaches what is sent while an event is current to that event
            # (published only when its offset is committed), so every record would have
            # waited for a commit of that stale event, which the commit, waiting for the
            # records, never made: no output acknowledged, no offset committed.
            loop = asyncio.get_running_loop()
            self._task = loop.create_task(self._drain(), context=contextvars.Context())

    async def _drain(self) -> None:
        queue = self._queue
        while True:
            await self._wake.wait()
            self._wake.clear()
            while queue:
                out, handed, acked = queue[0]
                try:
                    future = await self._send_one(out)
                except Exception as exc:  # the producer refused it: fail both futures
                    log.error("output not sent", topic=out.topic, error=repr(exc))
                    queue.popleft()
                    for f in (handed, acked):
                        if not f.done():
                            f.set_exception(exc)
                    continue
                queue.popleft()
                if not handed.done():
                    handed.set_result(None)
                future.add_done_callback(functools.partial(_chain, target=acked))
                if len(queue) <= self.high_water:
                    self._room.set()
            self._drained.set()

    async def _send_one(self, out: Outgoing) -> asyncio.Future[Any]:
        future = cast(
            "asyncio.Future[Any]",
            # force: sent now, never attached to an event (the outbox keeps the order)
            await self.topics[out.topic].send(
                key=out.key, value=out.value, headers=out.headers, force=True
            ),
        )
        metrics = self.metrics
        if out.reason is None:
            metrics.outputs.labels(topic=out.topic).inc()
            return future
        reason = out.reason.value
        metrics.dead_lettered.labels(reason=reason).inc()
        self.bad_input_log.warning(reason, "dead-lettered input", reason=reason, detail=out.detail)
        return future


async def acknowledged(futures: list[asyncio.Future[Any]]) -> None:
    """Until the broker has answered for every future's record; raises the first refusal."""
    if futures:
        await asyncio.wait(futures)
    for future in futures:
        if (exc := future.exception()) is not None:
            raise exc


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a failure as seen (it is reported through the acknowledgement future)."""
    if not future.cancelled():
        future.exception()


def _chain(source: asyncio.Future[Any], target: asyncio.Future[Any]) -> None:
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif (exc := source.exception()) is not None:
        target.set_exception(exc)
    else:
        target.set_result(source.result())
