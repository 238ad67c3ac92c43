"""Ingest against the real broker: every event type consumed, every kind of bad input
dead-lettered byte-for-byte with its reason, and a restarted worker resuming where it was."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from engagement.events import (
    DEAD_LETTER_REASON_HEADER,
    KafkaRecord,
    encode_event,
    encode_structured,
    topics,
)
from engagement.events.models import (
    AccountCreated,
    AccountDeleted,
    ContentPublished,
    ContentViewed,
    Interaction,
    Visit,
)
from engagement.settings import Settings
from engagement_scorer.batch import recompute

from ..clock import TEST_NOW
from .harness import Topics, Worker, consume_all, consume_to_end, produce, wait_until

pytestmark = pytest.mark.kafka

NOW = TEST_NOW
_seq = iter(range(1_000_000))


def ev(
    type_: str, data: Any, minutes_ago: float, key: str | None = None, structured: bool = False
) -> KafkaRecord:
    encode = encode_structured if structured else encode_event
    return encode(
        type=type_,
        source="urn:test",
        id=f"e{next(_seq)}",
        time=NOW - timedelta(minutes=minutes_ago),
        subject=data.org_id,
        data=data,
        key=key if key is not None else data.org_id,
    )


def valid_events(org: str) -> list[KafkaRecord]:
    return [
        ev(topics.ACCOUNT_CREATED_TYPE, AccountCreated(org_id=org, account_id="a1"), 50),
        ev(
            topics.ACCOUNT_CREATED_TYPE,
            AccountCreated(org_id=org, account_id="a2"),
            50,
            structured=True,
        ),
        ev(topics.ACCOUNT_CREATED_TYPE, AccountCreated(org_id=org, account_id="a3"), 50),
        ev(topics.VISIT_TYPE, Visit(org_id=org, account_id="a1", client="web"), 40),
        ev(topics.VISIT_TYPE, Visit(org_id=org, account_id="a2"), 40, structured=True),
        ev(
            topics.CONTENT_PUBLISHED_TYPE,
            ContentPublished(org_id=org, account_id="a1", content_id="m1", content_type="message"),
            30,
        ),
        ev(
            topics.CONTENT_VIEWED_TYPE,
            ContentViewed(org_id=org, account_id="a2", content_id="m1", content_type="message"),
            20,
        ),
        ev(topics.INTERACTION_TYPE, Interaction(org_id=org, account_id="a2", kind="like"), 10),
        ev(topics.ACCOUNT_DELETED_TYPE, AccountDeleted(org_id=org, account_id="a3"), 5),
    ]


def bad_records(org: str) -> list[tuple[str, KafkaRecord]]:
    good = ev(topics.VISIT_TYPE, Visit(org_id=org, account_id="a9"), 1)
    ce = [(k, v) for k, v in good.headers if k.startswith("ce_")]
    json_ct = [("content-type", b"application/json")]
    missing = json.dumps({"org_id": org}).encode()  # account_id missing
    mistyped = json.dumps({"org_id": org, "account_id": "a1", "kind": 42}).encode()
    future = ev(topics.VISIT_TYPE, Visit(org_id=org, account_id="a9"), -24 * 60)
    retyped = [(k, b"intranet.unknown.v1" if k == "ce_type" else v) for k, v in ce]
    interaction_ce = [(k, topics.INTERACTION_TYPE.encode() if k == "ce_type" else v) for k, v in ce]
    return [
        ("not_json", KafkaRecord(org.encode(), b"\xffnot json{", ce + json_ct)),
        ("not_cloudevent", KafkaRecord(org.encode(), b'{"hello": "world"}', json_ct)),
        ("unknown_type", KafkaRecord(org.encode(), good.value, retyped + json_ct)),
        ("invalid_data", KafkaRecord(org.encode(), missing, ce + json_ct)),
        ("invalid_data", KafkaRecord(org.encode(), mistyped, interaction_ce + json_ct)),
        ("future_time", future),
        ("key_mismatch", KafkaRecord(b"someone-else", good.value, good.headers)),
        ("oversized", KafkaRecord(org.encode(), b"{" + b" " * 300_000 + b"}", ce + json_ct)),
    ]


def figures(worker: Worker, org: str) -> dict[str, tuple[int, int]] | None:
    status, body = worker.get(f"/orgs/{org}/score")
    if status != 200:
        return None
    return {k: (v["numerator"], v["denominator"]) for k, v in body["components"].items()}


async def test_bad_input_is_dead_lettered_intact_and_valid_events_flow(
    created_topics: Topics, workers: list[Worker], tmp_path: Any
) -> None:
    org = "org-dlq"
    valid = valid_events(org)
    bad = bad_records(org)
    mixed: list[KafkaRecord] = []
    for i, record in enumerate(valid):
        mixed.append(record)
        if i < len(bad):
            mixed.append(bad[i][1])
    worker = Worker("dlq-" + created_topics.prefix, created_topics, tmp_path).start()
    workers.append(worker)
    worker.wait_ready()
    await produce(created_topics.activity, mixed)

    await consume_all(created_topics.dlq, len(bad))  # until they are all there
    # then the whole DLQ, every partition to its settled end: these and nothing else
    dead = await consume_to_end(created_topics.dlq)
    assert len(dead) == len(bad)
    received = sorted((m.key, m.value, list(m.headers)) for m in dead)
    sent = [
        (r.key, r.value, [*r.headers, (DEAD_LETTER_REASON_HEADER, reason.encode())])
        for reason, r in bad
    ]
    # key, value and original headers byte-for-byte and in order, then the reason header
    for key, value, headers in sent:
        assert any(
            k == key and v == value and h[: len(headers)] == headers for k, v, h in received
        ), f"no dead letter matches {headers[-1]}"

    expected = recompute(valid, Settings().scoring_rules()).scores[org]
    want = {k: (v["numerator"], v["denominator"]) for k, v in expected["components"].items()}
    got = wait_until(lambda: figures(worker, org) == want and figures(worker, org), what="score")
    assert got["reach"] == (2, 2)  # a3 was deleted; a1, a2 activated
    assert got["view"] == (1, 2)
    assert worker.counter("engagement_events_processed_total") == len(valid)
    for reason in {r for r, _ in bad}:
        n = sum(1 for r, _ in bad if r == reason)
        assert worker.counter("engagement_events_dead_lettered_total", reason=reason) == n
    # structlog JSON survives Faust's logging setup, one line per reason (rate-limited)
    lines = [json.loads(x) for x in worker.log_path.read_text().splitlines() if x.startswith("{")]
    logged = [x for x in lines if x.get("event") == "dead-lettered input"]
    assert {x["reason"] for x in logged} == {r for r, _ in bad}
    assert len(logged) == len({r for r, _ in bad})  # invalid_data twice, logged once
    status, body = worker.get("/orgs/nobody/score")
    assert status == 404
    assert body["title"] == "Unknown organisation"
    assert body["org_id"] == "nobody"


async def test_restarted_worker_resumes_from_committed_offsets(
    created_topics: Topics, workers: list[Worker], tmp_path: Any
) -> None:
    first = valid_events("org-r1") + valid_events("org-r2")
    second = [
        *valid_events("org-r3"),
        ev(topics.VISIT_TYPE, Visit(org_id="org-r1", account_id="a3x"), 1),
    ]
    worker = Worker("restart-" + created_topics.prefix, created_topics, tmp_path).start()
    workers.append(worker)
    worker.wait_ready()
    await produce(created_topics.activity, first)
    wait_until(
        lambda: worker.counter("engagement_events_processed_total") == len(first),
        what="first batch processed",
    )
    worker.stop()  # graceful: commits offsets
    await produce(created_topics.activity, second)
    worker.start()
    worker.wait_ready()
    wait_until(
        lambda: worker.counter("engagement_events_processed_total") >= len(second),
        what="second batch processed",
    )
    expected = recompute(first + second, Settings().scoring_rules()).scores
    for org in ("org-r1", "org-r2", "org-r3"):
        want = {
            k: (v["numerator"], v["denominator"]) for k, v in expected[org]["components"].items()
        }
        wait_until(lambda o=org, w=want: figures(worker, o) == w, what=f"figures of {org}")
    # only the new events were consumed after the restart: nothing replayed from offset 0
    assert worker.counter("engagement_events_processed_total") == len(second)
