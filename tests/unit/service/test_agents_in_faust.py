"""The activity agent as Faust runs it, through Faust's own ``test_context`` (no broker: Faust's
test channel in, the output topics' ``send`` recorded): the loop decodes, calls the scoring
stage, sends what it returned and counts it, and the state reaches the tables."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from engagement.events import (
    DEAD_LETTER_REASON_HEADER,
    AccountCreated,
    encode_event,
    topics,
)
from engagement.settings import Settings
from engagement_scorer.app import create_app

from ...clock import TEST_NOW
from .fakes import FakeProducer


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
            *, key: Any = None, value: Any = None, headers: Any = None, _topic: str = name
        ) -> Any:
            sent.append((_topic, value, dict(headers or [])))
            done = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done

        monkeypatch.setattr(topic, "send", record)
    producer = FakeProducer()
    ctx.changelog.producer = lambda: producer
    return ctx, prometheus, sent, producer


async def test_the_activity_agent_applies_counts_and_dead_letters(worker: Any) -> None:
    ctx, prometheus, sent, producer = worker
    created = encode_event(
        type=topics.ACCOUNT_CREATED_TYPE,
        source="urn:test",
        id="e-1",
        time=TEST_NOW - timedelta(hours=1),
        subject=None,
        data=AccountCreated(org_id="org-1", account_id="a1"),
        key="org-1",
    )
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
