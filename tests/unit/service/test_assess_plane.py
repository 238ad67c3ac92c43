"""The second stage's data plane (``assess_plane``): a partition's score events assessed as one
batch, as the agent assesses each; its outputs sent and acknowledged before its state is
written (one changelog record per changed key), its peer figures sent in order, the offsets
acknowledged only once all of that is."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from engagement.events import Alert, OrgProfile, decode_output
from engagement.settings import Settings
from engagement_scorer.app import create_app
from engagement_scorer.assess_plane import AssessPlane
from engagement_scorer.changelog import encode_key
from engagement_scorer.org_profile import PeerGroupKey
from engagement_scorer.publish import figures_digest, score_record

from ...clock import TEST_NOW
from .fakes import FakeProducer, score
from .test_sending import SlowTopic

PARTITION = 2


class OutputTopic(SlowTopic):
    """An output topic that keeps each record's headers too (to decode it back), and whose
    broker can refuse what it holds (``refuse``)."""

    def __init__(self) -> None:
        super().__init__()
        self.headers: list[Any] = []
        self.fail_with: Exception | None = None

    def refuse(self) -> None:
        for future in self.pending:
            if not future.done():
                future.set_exception(self.fail_with or RuntimeError("refused"))

    async def send(
        self, *, key: Any, value: Any, headers: Any, force: bool = False
    ) -> asyncio.Future[Any]:
        self.headers.append(headers)
        return await super().send(key=key, value=value, headers=headers, force=force)


class PeerTopic:
    """The peer topic as the plane sends to it: (key, value, force) of each send, acked; and
    how many changelog batches the producer had when each was sent."""

    def __init__(self, producer: FakeProducer | None = None) -> None:
        self.sent: list[tuple[str, Any, bool]] = []
        self.producer = producer
        self.changelog_batches_before: list[int] = []

    async def send(self, *, key: str, value: Any, force: bool = False) -> asyncio.Future[Any]:
        self.sent.append((key, value, force))
        if self.producer is not None:
            self.changelog_batches_before.append(len(self.producer.sent))
        future = asyncio.get_running_loop().create_future()
        future.set_result("metadata")
        return future


def _worker(tmp_path: Path, **overrides: Any) -> Any:
    settings = Settings(
        store="memory://", data_dir=tmp_path, clock_start=TEST_NOW, topic_partitions=4, **overrides
    )
    return create_app(settings, CollectorRegistry())


def _plane(ctx: Any) -> tuple[AssessPlane, OutputTopic, FakeProducer, PeerTopic]:
    [plane] = [p for p in ctx.app.batch_planes if isinstance(p, AssessPlane)]
    alerts, producer = OutputTopic(), FakeProducer()
    peers = PeerTopic(producer)
    ctx.sender.topics = {
        ctx.settings.alerts_topic: alerts,
        ctx.settings.level_changes_topic: alerts,
    }
    plane.changelog.producer = lambda: producer
    plane.peer_topic = peers  # type: ignore[assignment]
    # the org's profile, as the profiles agent stores it (straight into the memory store)
    profile = OrgProfile(org_id="o", sector="government", employees=800, target_level="engaging")
    ctx.tables.state.profiles.data["o"] = profile.model_dump(mode="json")
    return plane, alerts, producer, peers


def _score_records(*interacts: tuple[int, int], first_offset: int = 10) -> list[Any]:
    """Score events of org ``o`` (hour, interact %) as the consumer hands them over."""
    out = []
    for i, (hour, interact) in enumerate(interacts):
        payload = score(datetime(2026, 3, 18, hour, tzinfo=UTC), interact=interact)
        rec = score_record(payload, "urn:test", figures_digest(payload))
        out.append(
            SimpleNamespace(
                key=rec.key, value=rec.value, headers=rec.headers, offset=first_offset + i
            )
        )
    return out


async def test_a_batch_is_assessed_its_outputs_acknowledged_before_its_state(
    tmp_path: Path,
) -> None:
    ctx = _worker(tmp_path)
    plane, alerts, producer, peers = _plane(ctx)
    records = _score_records((9, 30), (10, 70))  # the alert fires, then resolves
    handling = asyncio.ensure_future(plane.handle(PARTITION, records))
    for _ in range(50):  # the outputs are out, not yet acknowledged by the broker
        await asyncio.sleep(0)
    assert len(alerts.sent) == 2
    assert producer.sent == []  # no state before its outputs are acknowledged
    assert not handling.done()
    alerts.ack()
    futures = await handling
    statuses = [
        decode_output(b"o", v, h).data for v, h in zip(alerts.sent, alerts.headers, strict=True)
    ]
    assert all(isinstance(a, Alert) for a in statuses)
    assert [a.status for a in statuses] == ["firing", "resolved"]  # in the events' order
    assessments = ctx.tables.assessments.changelog_topic.get_topic_name()
    written = [(t, p, [k for k, _ in recs]) for t, p, recs in producer.sent if t == assessments]
    assert written == [(assessments, PARTITION, [encode_key("o")])]  # one record, two events
    assert ctx.assessments.firing("o") == []  # the batch's last word
    # one peer figure per event, in order, sent now (never attached to an event)
    group = PeerGroupKey("government", "500-1999", "intranet").encode()
    assert [(k, v["org_id"], v["values"]["interact"], f) for k, v, f in peers.sent] == [
        (group, "o", 30.0, True),
        (group, "o", 70.0, True),
    ]
    # the peer figures are outputs too: out before the assessment naming the group is
    assert peers.changelog_batches_before == [0, 0]
    assert len(futures) == len(producer.sent) + len(alerts.sent) + len(peers.sent)
    assert all(f.done() for f in futures)
    assert ctx.progress.scores.next_offset(PARTITION) == records[-1].offset + 1
    assert plane.records == 2


async def test_an_unreadable_score_event_is_reported_and_the_rest_assessed(
    tmp_path: Path,
) -> None:
    ctx = _worker(tmp_path)
    plane, alerts, producer, _peers = _plane(ctx)
    good = _score_records((9, 30), first_offset=21)
    garbage = SimpleNamespace(key=b"o", value=b"garbage", headers=[], offset=20)
    handling = asyncio.ensure_future(plane.handle(PARTITION, [garbage, *good]))
    for _ in range(50):
        await asyncio.sleep(0)
    alerts.ack()
    await handling
    assert len(alerts.sent) == 1  # the good event's alert
    assert ctx.assessments.firing("o") != []
    assert any(recs for _t, _p, recs in producer.sent)
    assert ctx.progress.scores.next_offset(PARTITION) == 22


def test_the_worker_takes_its_busy_topics_off_the_per_record_path(tmp_path: Path) -> None:
    ctx = _worker(tmp_path)
    s = ctx.settings
    assert [p.topic for p in ctx.app.batch_planes] == [
        s.activity_topic,
        s.scores_topic,
        ctx.topics.peer.get_topic_name(),
    ]
    assert all(p.ready(0) for p in ctx.app.batch_planes if isinstance(p, AssessPlane))
    off = _worker(tmp_path / "off", batch_data_plane=False)
    assert off.app.batch_planes == ()


async def test_a_refused_output_leaves_the_state_unwritten_and_raises(tmp_path: Path) -> None:
    """Outputs before state: a level change or alert the broker refused must be built again
    when the worker reads the batch again, so the assessment that would not build it again
    is not written (and the consumer stops the worker, ``transport``)."""
    ctx = _worker(tmp_path)
    plane, alerts, producer, _peers = _plane(ctx)
    alerts.fail_with = RuntimeError("broker refused the alert")
    handling = asyncio.ensure_future(plane.handle(PARTITION, _score_records((9, 30))))
    for _ in range(50):
        await asyncio.sleep(0)
    alerts.refuse()
    with pytest.raises(RuntimeError, match="refused"):
        await handling
    assert producer.sent == []  # no assessment, no history in the changelog
