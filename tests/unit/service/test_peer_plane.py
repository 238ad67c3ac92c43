"""The benchmark stage's data plane (``peer_plane``): a partition's peer figures applied as one
batch, as the agent applies each; the group's benchmark event sent and acknowledged before the
``peers`` rows and the global ``benchmarks`` entry are written (one changelog record per
changed key), read from the raw records as Faust's topic would decode them."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry

from engagement.events import BenchmarkUpdated, decode_output
from engagement.settings import Settings
from engagement_scorer.app import create_app
from engagement_scorer.benchmarking import peer_row_key
from engagement_scorer.changelog import encode_key
from engagement_scorer.org_profile import PeerGroupKey
from engagement_scorer.peer_plane import PeerPlane

from ...clock import TEST_NOW
from .fakes import FakeProducer
from .test_assess_plane import OutputTopic

PARTITION = 1
GOV = PeerGroupKey("government", "500-1999", "intranet")
K = 2


def _worker(tmp_path: Path) -> Any:
    settings = Settings(
        store="memory://",
        data_dir=tmp_path,
        clock_start=TEST_NOW,
        topic_partitions=4,
        benchmark_min_group_size=K,
    )
    return create_app(settings, CollectorRegistry())


def _plane(tmp_path: Path) -> tuple[Any, PeerPlane, OutputTopic, FakeProducer]:
    """A worker's peer plane, its benchmark events and changelog batches kept."""
    ctx = _worker(tmp_path)
    [plane] = [p for p in ctx.app.batch_planes if isinstance(p, PeerPlane)]
    benchmarks, producer = OutputTopic(), FakeProducer()
    ctx.sender.topics = {ctx.settings.benchmarks_topic: benchmarks}
    plane.changelog.producer = lambda: producer
    return ctx, plane, benchmarks, producer


def _peer(org: str, reach: float | None, offset: int) -> Any:
    """A raw record of the peer topic, as the assessing stage sends it (text key, JSON)."""
    body: dict[str, Any] = {"org_id": org}
    if reach is not None:
        body["values"] = {"reach": reach, "visit": 50.0, "view": 40.0, "interact": None}
        body["values"]["contribute"] = 10.0
    return SimpleNamespace(
        key=GOV.encode().encode(), value=json.dumps(body).encode(), headers=[], offset=offset
    )


async def test_a_batch_publishes_the_group_before_writing_its_rows(tmp_path: Path) -> None:
    ctx, plane, benchmarks, producer = _plane(tmp_path)
    records = [_peer("a", 60.0, 0), _peer("b", 80.0, 1), _peer("a", 70.0, 2)]
    handling = asyncio.ensure_future(plane.handle(PARTITION, records))
    for _ in range(50):  # the benchmark events are out, not yet acknowledged
        await asyncio.sleep(0)
    assert len(benchmarks.sent) == 2  # k reached with b, then a's new figures move it
    assert producer.sent == []  # no row before the group's events are acknowledged
    assert not handling.done()
    benchmarks.ack()
    futures = await handling
    events = [
        decode_output(GOV.encode().encode(), v, h).data
        for v, h in zip(benchmarks.sent, benchmarks.headers, strict=True)
    ]
    assert all(isinstance(e, BenchmarkUpdated) for e in events)
    assert [e.components["reach"].median for e in events] == [70.0, 75.0]
    written = {t: (p, [k for k, _ in recs]) for t, p, recs in producer.sent}
    peers = ctx.tables.peers.changelog_topic.get_topic_name()
    # one record per changed row (a changed twice), in the group's partition
    assert written[peers] == (PARTITION, [encode_key(peer_row_key(GOV, o)) for o in "ab"])
    assert ctx.tables.peers.data[peer_row_key(GOV, "a")]["reach"] == 70.0  # the last one
    entry = ctx.tables.benchmarks.data[GOV.encode()]
    assert entry["medians"]["reach"] == 75.0  # every worker's benchmark positions read it
    assert len(futures) == len(producer.sent) + len(benchmarks.sent)
    assert plane.records == 3


async def test_a_withdrawal_below_k_removes_the_published_entry(tmp_path: Path) -> None:
    ctx, plane, benchmarks, producer = _plane(tmp_path)
    first = asyncio.ensure_future(
        plane.handle(PARTITION, [_peer("a", 60.0, 0), _peer("b", 80.0, 1)])
    )
    for _ in range(50):
        await asyncio.sleep(0)
    benchmarks.ack()
    await first
    assert GOV.encode() in ctx.tables.benchmarks.data
    await plane.handle(PARTITION, [_peer("b", None, 2)])  # b leaves: below k
    assert GOV.encode() not in ctx.tables.benchmarks.data
    assert peer_row_key(GOV, "b") not in ctx.tables.peers.data
    tombstones = [
        k for t, _p, recs in producer.sent for k, v in recs if v is None and t.endswith("changelog")
    ]
    assert encode_key(GOV.encode()) in tombstones
    assert encode_key(peer_row_key(GOV, "b")) in tombstones


async def test_an_unreadable_peer_record_is_reported_and_the_rest_applied(
    tmp_path: Path,
) -> None:
    ctx, plane, benchmarks, _producer = _plane(tmp_path)
    warned: list[str] = []
    plane.bad_input_log = SimpleNamespace(warning=lambda key, *a, **kw: warned.append(key))
    bad = SimpleNamespace(key=b"\xff", value=b"{not json", headers=[], offset=1)
    handling = asyncio.ensure_future(
        plane.handle(PARTITION, [_peer("a", 60.0, 0), bad, _peer("b", 80.0, 2)])
    )
    for _ in range(50):
        await asyncio.sleep(0)
    benchmarks.ack()
    await handling
    assert warned == ["peer:unreadable"]
    assert len(benchmarks.sent) == 1  # a and b make k: the group is published once
    assert {peer_row_key(GOV, o) for o in "ab"} <= set(ctx.tables.peers.data)
    assert plane.records == 3
