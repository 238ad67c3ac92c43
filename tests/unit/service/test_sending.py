"""The output outbox (``sending.TopicSender``): records reach their topics in the order the
stages built them, whatever the order the sending tasks resume in; each record's
acknowledgement future follows the producer's; a refused record fails its futures."""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

import pytest
from faust.streams import _current_event, current_event
from prometheus_client import CollectorRegistry

from engagement.logging import RateLimitedLog
from engagement_scorer.metrics import ScorerMetrics
from engagement_scorer.publish import Outgoing
from engagement_scorer.sending import TopicSender


class SlowTopic:
    """A topic whose producer takes ``delay`` to accept each record; acks on ``ack()``."""

    def __init__(self, delay: float = 0.0, fail_on: bytes | None = None) -> None:
        self.delay = delay
        self.fail_on = fail_on
        self.sent: list[bytes | None] = []
        self.pending: list[asyncio.Future[Any]] = []
        #: (the Faust event current in the sending task, force) of each send
        self.calls: list[tuple[Any, bool]] = []

    async def send(
        self, *, key: Any, value: Any, headers: Any, force: bool = False
    ) -> asyncio.Future[Any]:
        self.calls.append((current_event(), force))
        await asyncio.sleep(self.delay)
        if value == self.fail_on:
            raise RuntimeError("producer refused the record")
        self.sent.append(value)
        future = asyncio.get_running_loop().create_future()
        self.pending.append(future)
        return future

    def ack(self) -> None:
        for future in self.pending:
            if not future.done():
                future.set_result("metadata")


def _sender(topic: SlowTopic) -> TopicSender:
    import structlog

    return TopicSender(
        {"scores": topic},  # type: ignore[dict-item]
        ScorerMetrics(CollectorRegistry()),
        RateLimitedLog(structlog.get_logger("test")),
    )


def out(value: bytes) -> Outgoing:
    return Outgoing("scores", b"org", value, [])


async def test_records_go_out_in_the_order_they_were_put() -> None:
    topic = SlowTopic(delay=0.01)
    sender = _sender(topic)

    async def data_plane() -> None:
        sent = sender.put([out(b"day-end 1"), out(b"day-end 2")])  # built first ...
        await asyncio.sleep(0.05)  # ... then a slow changelog flush
        await sent.handed()

    async def timer() -> None:
        await asyncio.sleep(0.001)
        await sender.send_all([out(b"later score")])  # built after, sent without waiting

    await asyncio.gather(data_plane(), timer())
    assert topic.sent == [b"day-end 1", b"day-end 2", b"later score"]


async def test_acknowledgement_follows_the_producer_and_drained_waits() -> None:
    topic = SlowTopic()
    sender = _sender(topic)
    sent = sender.put([out(b"a"), out(b"b")])
    await sender.drained()
    assert topic.sent == [b"a", b"b"]
    assert not any(f.done() for f in sent.acked)  # handed over, not yet acknowledged
    topic.ack()
    assert await asyncio.gather(*sent.acked) == ["metadata", "metadata"]


async def test_a_refused_record_fails_its_futures_and_the_rest_still_go() -> None:
    topic = SlowTopic(fail_on=b"bad")
    sender = _sender(topic)
    sent = sender.put([out(b"bad"), out(b"good")])
    await sent.handed()
    topic.ack()
    results = await asyncio.gather(*sent.acked, return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    assert results[1] == "metadata"
    assert topic.sent == [b"good"]
    with pytest.raises(RuntimeError):
        await sender.send_all([out(b"bad")])


class _Event:
    """Stands for the Faust event an agent is processing (weakly referenced, as Faust does)."""


async def test_records_are_sent_now_outside_the_event_that_queued_them() -> None:
    """Faust attaches a ``Topic.send`` made while an event is current to that event: the
    record would go out only when that event's offset is committed. The outbox's task must
    not inherit the event of the agent whose ``put`` started it, and sends with ``force``."""
    topic = SlowTopic()
    sender = _sender(topic)
    event = _Event()
    token = _current_event.set(weakref.ref(event))
    try:
        assert current_event() is event  # what an agent's put would run under
        await sender.put([out(b"1")]).handed()
    finally:
        _current_event.reset(token)
    assert topic.calls == [(None, True)]


async def test_acknowledged_raises_a_refusal_settled_does_not() -> None:
    """The agents write their state only after ``acknowledged``: a refused output stops them
    there. The data plane waits with ``settled`` and leaves the refusal to the consumer."""
    topic = SlowTopic(fail_on=b"bad")
    sender = _sender(topic)
    sent = sender.put([out(b"good"), out(b"bad")])
    waiting = asyncio.ensure_future(sent.settled())
    for _ in range(20):
        await asyncio.sleep(0)
    topic.ack()
    await asyncio.wait_for(waiting, timeout=5)
    with pytest.raises(RuntimeError, match="refused"):
        await sent.acknowledged()
