"""The activity agent as Faust runs it, through Faust's own ``test_context`` (no broker: Faust's
test channel in, the output topics' ``send`` recorded): the loop decodes, calls the scoring
stage, sends what it returned and counts it, and the state reaches the tables."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from engagement.events import (
    DEAD_LETTER_REASON_HEADER,
    AccountCreated,
    OrgProfile,
    encode_event,
    topics,
)
from engagement.settings import Settings
from engagement_scorer.app import create_app
from engagement_scorer.publish import figures_digest, score_record

from ...clock import TEST_NOW
from .fakes import FakeProducer, score


@pytest.fixture
def worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, CollectorRegistry, list, FakeProducer]:
    prometheus = CollectorRegistry()
    settings = Settings(store="memory://", data_dir=tmp_path, clock_start=TEST_NOW)
    ctx = create_app(settings, prometheus)
    sent: list[tuple[str, Any, Any]] = []
    for name, topic in ctx.topics.outputs().items():

        async def record(
            *,
            key: Any = None,
            value: Any = None,
            headers: Any = None,
            force: bool = False,
            _topic: str = name,
        ) -> Any:
            sent.append((_topic, value, dict(headers or [])))
            done = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done

        monkeypatch.setattr(topic, "send", record)
    producer = FakeProducer()
    ctx.changelog.producer = lambda: producer
    return ctx, prometheus, sent, producer


def _account_created() -> Any:
    return encode_event(
        type=topics.ACCOUNT_CREATED_TYPE,
        source="urn:test",
        id="e-1",
        time=TEST_NOW - timedelta(hours=1),
        subject=None,
        data=AccountCreated(org_id="org-1", account_id="a1"),
        key="org-1",
    )


def _hold_acks(monkeypatch: pytest.MonkeyPatch, topic: Any) -> list[asyncio.Future[Any]]:
    """``topic``'s sends are handed over at once and acknowledged when the test says so."""
    acks: list[asyncio.Future[Any]] = []

    async def held(
        *, key: Any = None, value: Any = None, headers: Any = None, force: bool = False
    ) -> Any:
        acks.append(asyncio.get_running_loop().create_future())
        return acks[-1]

    monkeypatch.setattr(topic, "send", held)
    return acks


async def test_the_activity_agent_applies_counts_and_dead_letters(worker: Any) -> None:
    ctx, prometheus, sent, producer = worker
    created = _account_created()
    agent = ctx.app.agents["score-activity"]
    async with agent.test_context() as channel:
        await channel.put(value=created.value, key=created.key, headers=created.headers)
        await channel.put(value=b"not json", key=b"org-1", headers=[("ce_type", b"x")])

    # the good record: applied to the state and its tables, counted by type
    state = ctx.states.orgs["org-1"]
    assert state.existing == 1
    assert "org-1" in ctx.emitter.dirty
    assert len(ctx.tables.state.accounts) == 1  # the account, in its table
    # ... and in its changelog, as Faust's own table write would have put it
    [(key, value)] = producer.records("-accounts-changelog").items()
    table = ctx.tables.state.accounts
    assert key == table.changelog_topic.prepare_key("org-1\x1fa1", None)[0]
    assert value == table.changelog_topic.prepare_value(table["org-1\x1fa1"], None)[0]
    processed = prometheus.get_sample_value(
        "engagement_events_processed_total", {"type": topics.ACCOUNT_CREATED_TYPE}
    )
    assert processed == 1
    # the bad one: dead-lettered byte for byte, with its reason, and counted under it
    assert [(t, v) for t, v, _ in sent] == [(ctx.settings.dead_letter_topic, b"not json")]
    reason = sent[0][2][DEAD_LETTER_REASON_HEADER].decode()
    dead = prometheus.get_sample_value("engagement_events_dead_lettered_total", {"reason": reason})
    assert dead == 1
    # both records are behind the agent: the live clock's caught-up check sees offset 2
    assert ctx.progress.activity.next_offset(0) == 2


async def test_a_batch_s_outputs_are_acknowledged_before_its_state_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outputs before state (``dataplane``): a batch read again after a restart onto a state
    that already holds it causes nothing, so what it caused must be in its topic first. While
    the broker has not answered for the batch's dead letter, no changelog record is written
    (the store neither); once it has, the batch's state goes out."""
    settings = Settings(store="memory://", data_dir=tmp_path, clock_start=TEST_NOW)
    ctx = create_app(settings, CollectorRegistry())
    acks = _hold_acks(monkeypatch, ctx.topics.outputs()[settings.dead_letter_topic])
    producer = FakeProducer()
    ctx.changelog.producer = lambda: producer
    created = _account_created()
    records = [
        SimpleNamespace(key=created.key, value=created.value, headers=created.headers, offset=0),
        SimpleNamespace(key=b"org-1", value=b"not json", headers=[("ce_type", b"x")], offset=1),
    ]
    handled = asyncio.ensure_future(ctx.plane.handle(0, records))
    for _ in range(50):  # the outbox hands the dead letter over; its ack is held
        await asyncio.sleep(0)
    assert len(acks) == 1
    assert not handled.done()
    assert producer.sent == []
    assert len(ctx.tables.state.accounts) == 0
    acks[0].set_result(None)
    futures = await asyncio.wait_for(handled, timeout=5)
    assert producer.records("-accounts-changelog")
    assert len(ctx.tables.state.accounts) == 1
    # the consumer still gets the dead letter's acknowledgement (and the changelog's)
    assert len(futures) == 3
    assert [f.result() for f in futures].count(None) == 1


async def test_a_score_event_s_alert_is_acknowledged_before_its_assessment_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second stage keeps the same order: the alert a score event fired is acknowledged
    before the assessment (which would not fire it again) and the day's history entry reach
    their stores and changelogs."""
    settings = Settings(store="memory://", data_dir=tmp_path, clock_start=TEST_NOW)
    ctx = create_app(settings, CollectorRegistry())
    acks = _hold_acks(monkeypatch, ctx.topics.outputs()[settings.alerts_topic])
    producer = FakeProducer()
    ctx.assessed_changelog.producer = lambda: producer
    profile = OrgProfile(org_id="o", target_level="engaging").model_dump(mode="json")
    ctx.tables.state.profiles.data["o"] = profile
    payload = score(TEST_NOW, interact=30)  # Interact under the target's threshold: fires
    record = score_record(payload, "urn:test", figures_digest(payload))
    agent = ctx.app.agents["assess-scores"]
    async with agent.test_context() as channel:
        put = asyncio.ensure_future(
            channel.put(value=record.value, key=record.key, headers=record.headers)
        )
        for _ in range(100):
            await asyncio.sleep(0)
        assert len(acks) == 1  # the alert, handed over, not acknowledged
        assert producer.sent == []
        assert "o" not in ctx.tables.assessments
        acks[0].set_result(None)
        await asyncio.wait_for(put, timeout=5)
        for _ in range(100):
            await asyncio.sleep(0)
    assert producer.records("-assessments-changelog")
    assert producer.records("-history-days-changelog")
    assert ctx.tables.assessments["o"]["firing"]
    assert ctx.history.day_span("o") == (TEST_NOW.date().toordinal(),) * 2
