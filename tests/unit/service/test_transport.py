"""``transport.BatchingConsumer``: a partition never committed is read from its beginning
after every rebalance (aiokafka leaves it where it was, and the records Faust dropped as
fetched under the previous generation were then lost for good); the data plane applies
nothing of a generation before Faust's seek to its committed offsets, and seeks on the
consumer thread."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from engagement_scorer.transport import BatchingConsumer

SCORES = [TP("engagement.scores", p) for p in range(3)]
CHANGELOG = TP("app-orgs-changelog", 0)


class FakeThread:
    """The consumer thread: committed offsets, and the partitions sought to the beginning."""

    def __init__(self, committed: dict[TP, int | None]) -> None:
        self.committed = committed
        self.to_beginning: list[TP] = []

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return dict(self.committed)

    async def seek_to_beginning(self, *tps: TP) -> None:
        self.to_beginning.extend(tps)


def consumer(committed: dict[TP, int | None], reset: str = "earliest") -> Any:
    c: Any = object.__new__(BatchingConsumer)  # only what seek_to_committed reads
    c._thread = FakeThread(committed)
    c._init_seek_gate()
    c.app = SimpleNamespace(
        consumer_generation_id=3,
        conf=SimpleNamespace(consumer_auto_offset_reset=reset),
        tables=SimpleNamespace(changelog_topics={CHANGELOG.topic}),
    )
    return c


@pytest.mark.asyncio
async def test_a_partition_never_committed_is_read_from_its_beginning() -> None:
    c = consumer({SCORES[0]: None, SCORES[1]: 42, SCORES[2]: 0, CHANGELOG: None})
    committed = await c.seek_to_committed()
    assert committed == {SCORES[0]: None, SCORES[1]: 42, SCORES[2]: 0, CHANGELOG: None}
    # 42 was sought by aiokafka itself; changelogs are positioned by Faust's recovery
    assert sorted(c._thread.to_beginning) == [SCORES[0], SCORES[2]]


@pytest.mark.asyncio
async def test_nothing_more_when_every_partition_is_committed() -> None:
    c = consumer({SCORES[0]: 7, SCORES[1]: 42})
    await c.seek_to_committed()
    assert c._thread.to_beginning == []


@pytest.mark.asyncio
async def test_a_consumer_reset_to_latest_is_left_as_aiokafka_leaves_it() -> None:
    c = consumer({SCORES[0]: None}, reset="latest")
    await c.seek_to_committed()
    assert c._thread.to_beginning == []


# --- the seek gate of the data plane -------------------------------------------------------

ACTIVITY = TP("intranet.activity", 0)


class FakeAiokafka:
    """aiokafka's consumer as the consumer thread holds it: the seeks made on it."""

    def __init__(self) -> None:
        self.seeks: list[tuple[TP, int]] = []

    def seek(self, tp: TP, offset: int) -> None:
        self.seeks.append((tp, offset))


class GateThread(FakeThread):
    def __init__(self, committed: dict[TP, int | None]) -> None:
        super().__init__(committed)
        self.consumer = FakeAiokafka()
        self.in_thread = 0  # calls run through call_thread

    def _ensure_consumer(self) -> FakeAiokafka:
        return self.consumer

    async def call_thread(self, fun: Any, *args: Any) -> Any:
        self.in_thread += 1
        return await fun(*args)


class Plane:
    name = "activity"
    topic = ACTIVITY.topic
    max_records = 100

    def __init__(self, ready: bool = True) -> None:
        self.is_ready = ready
        self.handled: list[list[int]] = []

    def ready(self, partition: int) -> bool:
        return self.is_ready

    async def handle(self, partition: int, records: Any) -> list[Any]:
        self.handled.append([r.offset for r in records])
        return []


def gated(committed: dict[TP, int | None]) -> Any:
    c = consumer(committed)
    c._thread = GateThread(committed)
    c.app.monitor = SimpleNamespace(stream_inbound_time={})
    c.flow_active = True
    c._batch_lock = asyncio.Lock()
    c._read_offset = defaultdict(lambda: None)
    c._committed_offset = defaultdict(lambda: None)
    c._acked = defaultdict(list)
    c._acked_index = defaultdict(set)
    c._gap = defaultdict(list)
    c._n_acked = 0
    c._waiting_for_ack = None
    return c


def records(*offsets: int) -> list[Any]:
    return [SimpleNamespace(offset=o) for o in offsets]


@pytest.mark.asyncio
async def test_nothing_is_applied_before_the_generations_seek_to_the_committed_offsets() -> None:
    """Faust resumes the partitions of a first assignment before it seeks them: records
    applied then would be read again after the seek, and the partition never committed."""
    c, plane = gated({ACTIVITY: 40}), Plane()
    await c._deliver(ACTIVITY, records(40, 41), plane, generation=3, epoch=c._seek_epoch)
    assert plane.handled == []
    assert c._acked[ACTIVITY] == []

    await c.perform_seek()
    await c._deliver(ACTIVITY, records(40, 41), plane, generation=3, epoch=c._seek_epoch)
    assert plane.handled == [[40, 41]]
    assert c._acked[ACTIVITY] == [40, 41]
    assert c._read_offset[ACTIVITY] == 41


@pytest.mark.asyncio
async def test_a_fetch_that_spanned_the_seek_is_read_again_from_where_the_seek_put_it() -> None:
    c, plane = gated({ACTIVITY: 40}), Plane()
    before = c._seek_epoch
    await c.perform_seek()  # while the fetch was under way
    await c._deliver(ACTIVITY, records(57, 58), plane, generation=3, epoch=before)
    assert plane.handled == []
    assert c._thread.consumer.seeks == [(ACTIVITY, 40)]
    assert c._read_offset[ACTIVITY] == 40


@pytest.mark.asyncio
async def test_a_never_committed_partition_spanning_the_seek_goes_back_to_its_beginning() -> None:
    c, plane = gated({ACTIVITY: None}), Plane()
    before = c._seek_epoch
    await c.perform_seek()
    c._thread.to_beginning.clear()
    await c._deliver(ACTIVITY, records(0, 1), plane, generation=3, epoch=before)
    assert plane.handled == []
    assert c._thread.to_beginning == [ACTIVITY]


@pytest.mark.asyncio
async def test_another_generation_waits_for_its_own_seek() -> None:
    c, plane = gated({ACTIVITY: 40}), Plane()
    await c.perform_seek()
    c.app.consumer_generation_id = 4  # reassigned: Faust seeks again after recovery
    await c._deliver(ACTIVITY, records(40), plane, generation=4, epoch=c._seek_epoch)
    assert plane.handled == []


@pytest.mark.asyncio
async def test_a_partition_not_ready_is_sought_back_on_the_consumer_thread() -> None:
    """aiokafka's fetcher belongs to the consumer thread's loop: the seek runs there."""
    c, plane = gated({ACTIVITY: 40}), Plane(ready=False)
    await c.perform_seek()
    in_thread = c._thread.in_thread
    await c._deliver(ACTIVITY, records(40, 41), plane, generation=3, epoch=c._seek_epoch)
    assert plane.handled == []
    assert c._thread.consumer.seeks == [(ACTIVITY, 40)]
    assert c._thread.in_thread == in_thread + 1


# --- the broker's fetch wait -----------------------------------------------------------------


async def test_the_consumer_asks_the_broker_for_the_configured_fetch_wait(tmp_path: Any) -> None:
    """Faust builds its aiokafka consumer with a 1500 ms fetch wait: with one fetch in flight
    per broker, the quiet partitions' long poll held the busy ones back."""
    from prometheus_client import CollectorRegistry

    from engagement.settings import Settings
    from engagement_scorer.app import create_app
    from engagement_scorer.transport import FetchWaitConsumerThread

    settings = Settings(store="memory://", data_dir=tmp_path, consumer_fetch_max_wait_ms=37)
    app = create_app(settings, CollectorRegistry()).app
    thread = app.consumer._thread
    assert isinstance(thread, FetchWaitConsumerThread)
    consumer = thread._create_worker_consumer(app.transport)
    try:
        assert consumer._fetch_max_wait_ms == 37
    finally:
        await consumer.stop()


# --- several planes --------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_each_planes_topic_goes_to_its_plane_the_rest_to_faust(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The activity and the score topic each have a plane; a fetch holding both and another
    topic hands each partition's list to its own plane and leaves the other to Faust."""
    from faust.transport.drivers import aiokafka as faust_aiokafka

    scores = TP("engagement.scores", 1)
    other = TP("intranet.org-profiles", 0)
    fetched = {ACTIVITY: records(40, 41), scores: records(7), other: records(3)}

    async def faust_fetch(self: Any, timeout: float) -> Any:  # noqa: ASYNC109 - Faust's signature
        return dict(fetched), set(fetched)

    monkeypatch.setattr(faust_aiokafka.Consumer, "_wait_next_records", faust_fetch)
    c = gated({ACTIVITY: 40, scores: 7})
    activity_plane, score_plane = Plane(), Plane()
    score_plane.topic = scores.topic
    c.app.batch_planes = (activity_plane, score_plane)
    c.app.monitor.track_tp_end_offset = lambda tp, offset: None
    c.highwater = lambda tp: 100
    c._buffered_partitions = set()
    c._commit_every = None
    c._sought_generation = c.app.consumer_generation_id  # the generation's seek is done
    left, _active = await c._wait_next_records(1.0)
    assert activity_plane.handled == [[40, 41]]
    assert score_plane.handled == [[7]]
    assert list(left) == [other]  # Faust delivers the rest per record


@pytest.mark.asyncio
async def test_a_batch_that_raises_stops_the_worker_and_is_not_acknowledged() -> None:
    """A plane raises when an output was refused (its state then not written): the state in
    memory holds the batch and its changelog does not, so the consumer crashes the worker
    rather than go on from it, and nothing of the batch is acknowledged."""

    class RefusingPlane(Plane):
        async def handle(self, partition: int, records: Any) -> list[Any]:
            raise RuntimeError("output refused")

    c, plane = gated({ACTIVITY: 40}), RefusingPlane()
    crashed: list[BaseException] = []

    async def crash(exc: BaseException) -> None:
        crashed.append(exc)

    c.crash = crash
    c._sought_generation = 3
    await c._deliver(ACTIVITY, records(40, 41), plane, generation=3, epoch=c._seek_epoch)
    assert [str(e) for e in crashed] == ["output refused"]
    assert c._acked[ACTIVITY] == []
    assert c._read_offset[ACTIVITY] is None  # read again by the restarted worker


@pytest.mark.asyncio
async def test_records_held_back_while_the_seek_runs_are_read_again_after_it() -> None:
    """Faust seeks the partitions one by one: one already sought can deliver records before
    the seek of the others has finished. Those are held back (the plane is not open yet) and
    the partition's position is past them, so the end of the seek puts it back where the seek
    had put it; without that, the second stage never read them and the first stage waited
    for it forever (CI: test_kill_under_load)."""
    c, plane = gated({ACTIVITY: 40, SCORES[0]: None}), Plane()
    await c._deliver(ACTIVITY, records(40, 41), plane, generation=3, epoch=c._seek_epoch)
    await c._deliver(SCORES[0], records(0, 1), plane, generation=3, epoch=c._seek_epoch)
    assert plane.handled == []
    await c.perform_seek()
    assert c._thread.consumer.seeks == [(ACTIVITY, 40)]  # back to its committed offset
    assert SCORES[0] in c._thread.to_beginning  # never committed: back to its beginning
    assert c._held_back == set()


@pytest.mark.asyncio
async def test_each_applied_batch_reports_its_planes_runtime() -> None:
    """The dashboard's batch runtime (``engagement_batch_duration_seconds``) is fed here: one
    observation per batch applied, none for a batch held back."""
    c, plane = gated({ACTIVITY: 40}), Plane()
    seen: list[tuple[str, float]] = []
    c.app.observe_batch = lambda name, seconds: seen.append((name, seconds))
    c._sought_generation = 3
    await c._deliver(ACTIVITY, records(40, 41), plane, generation=3, epoch=c._seek_epoch)
    plane.is_ready = False
    await c._deliver(ACTIVITY, records(42), plane, generation=3, epoch=c._seek_epoch)
    assert [name for name, _ in seen] == ["activity"]
    assert seen[0][1] >= 0
