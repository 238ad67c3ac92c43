"""The live stream and the batch recomputation agree, organisation by organisation.

A generated log of 30 organisations over 45 days, with duplicates and disorder, is streamed
through a real worker on the real broker; the API's figures must equal the batch
recomputation's (same log, same domain core) at the reported as_of, and the month closes on
``engagement.monthly`` (read to its end, deduplicated by id) must be exactly one per
(organisation, month), each with the batch's closed-month figures. A second run kills the
worker with SIGKILL mid-stream (records still unprocessed at the kill) and restarts it: the
figures and the month closes must still be equal. A third starts a worker on a backlog of both
topics: it must read the profiles first.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engagement.events import decode_activity
from engagement.settings import Settings
from engagement_scorer.batch import recompute, timezones_from
from engagement_simulator.traffic import generate

from ..clock import TEST_NOW
from .harness import (
    Topics,
    Worker,
    assert_months_equal_batch,
    consume_to_end,
    create_topics,
    produce,
    unique_prefix,
    wait_until,
)

pytestmark = pytest.mark.kafka

END = TEST_NOW - timedelta(hours=1)
LOG = generate(
    seed=45, orgs=30, days=45, end=END, duplicates=0.03, disorder=0.05, accounts_per_org=(8, 30)
)


def comparable(score: dict[str, Any]) -> dict[str, Any]:
    """Everything a score says, as exact integers and the moment."""
    return {
        "as_of": score["as_of"],
        "window": (score["window_start"], score["window_end"]),
        "components": {
            k: (v["numerator"], v["denominator"]) for k, v in score["components"].items()
        },
        "month_to_date": {
            k: (v["numerator"], v["denominator"]) for k, v in score["month_to_date"].items()
        },
        "score": score["engagement_score"],
    }


BATCH = recompute(LOG.activity, Settings().scoring_rules(), timezones_from(LOG.profiles))
EXPECTED = {org: comparable(score) for org, score in BATCH.scores.items()}
#: org -> the months the batch closed (the log spans a month end: every org closes one)
CLOSED = BATCH.closed_months


def api_figures(worker: Worker) -> dict[str, Any]:
    got = {}
    for org in EXPECTED:
        status, body = worker.get(f"/orgs/{org}/score")
        if status == 200:
            got[org] = comparable(body)
    return got


def processed(worker: Worker) -> float:
    """Activity records consumed: applied (any activity type) plus dead-lettered."""
    applied = worker.counter("engagement_events_processed_total") - worker.counter(
        "engagement_events_processed_total", type="intranet.org.profile.v1"
    )
    return applied + worker.counter("engagement_events_dead_lettered_total")


async def start_with_profiles(topics: Topics, tmp_path: Path, workers: list[Worker]) -> Worker:
    await create_topics(topics.all())
    worker = Worker("eq-" + topics.prefix, topics, tmp_path).start()
    workers.append(worker)
    worker.wait_ready()
    # profiles first: an organisation's time zone must be known before its activity
    await produce(topics.profiles, LOG.profiles)
    wait_until(
        lambda: (
            worker.counter("engagement_events_processed_total", type="intranet.org.profile.v1")
            >= len(LOG.profiles)
        ),
        what="profiles applied",
    )
    return worker


def without_moment(figures: dict[str, Any]) -> dict[str, Any]:
    """After a restart an org's as_of may step back within its day (the clock is persisted
    once per day) until its next event; everything else must be identical."""
    return {o: {k: v for k, v in f.items() if k != "as_of"} for o, f in figures.items()}


def assert_same_as_batch(worker: Worker, exact_moment: bool = True) -> None:
    expected = EXPECTED if exact_moment else without_moment(EXPECTED)

    def current() -> dict[str, Any]:
        got = api_figures(worker)
        return got if exact_moment else without_moment(got)

    try:
        wait_until(lambda: current() == expected, timeout=180, interval=1.0, what="= batch")
    finally:
        got = current()
        mismatched = {o: (got.get(o), e) for o, e in expected.items() if got.get(o) != e}
        example = next(iter(mismatched.items()), None)
        assert not mismatched, (
            f"{len(mismatched)} orgs differ, e.g. {example}\n{worker.diagnostics()}"
        )


async def assert_months_as_batch(topics: Topics) -> None:
    """The whole monthly topic: one close per (org, month), with the batch's figures."""
    months = assert_months_equal_batch(await consume_to_end(topics.monthly), CLOSED)
    assert months >= len(EXPECTED)


def test_generated_log_is_big_and_messy_enough() -> None:
    events = [
        decode_activity(r.key, r.value, r.headers, now=END + timedelta(minutes=1))
        for r in LOG.activity
    ]
    times = [e.time for e in events]
    assert len(EXPECTED) >= 30
    assert max(times) - min(times) >= timedelta(days=44)
    ids = [e.id for e in events]
    assert len(ids) > len(set(ids))  # duplicates present
    assert times != sorted(times)  # disorder present
    assert set(CLOSED) == set(EXPECTED)  # every org closes a month: the month check bites


async def test_stream_equals_batch(topics: Topics, workers: list[Worker], tmp_path: Path) -> None:
    worker = await start_with_profiles(topics, tmp_path, workers)
    await produce(topics.activity, LOG.activity)
    wait_until(lambda: processed(worker) >= len(LOG.activity), timeout=300, what="all consumed")
    assert processed(worker) == len(LOG.activity)  # nothing lost, nothing counted twice
    assert_same_as_batch(worker)
    await assert_months_as_batch(topics)


async def test_stream_equals_batch_after_sigkill_mid_stream(
    workers: list[Worker], tmp_path: Path
) -> None:
    topics = Topics(unique_prefix())
    worker = await start_with_profiles(topics, tmp_path, workers)
    # most of the log, the rest after the kill: the kill is mid-stream however fast it reads
    total = len(LOG.activity)
    head = int(0.7 * total)
    await produce(topics.activity, LOG.activity[:head])
    wait_until(lambda: processed(worker) >= 0.4 * total, timeout=300, what="40% consumed")
    done_at_kill = processed(worker)
    worker.kill()
    await produce(topics.activity, LOG.activity[head:])
    assert done_at_kill < total, "the stream was over before the kill"
    worker.start()
    worker.wait_ready(timeout=180)
    # the restarted process (its counters start at 0) consumes what was left at the kill
    wait_until(lambda: processed(worker) > 0, timeout=120, what="the rest consumed after restart")
    assert_same_as_batch(worker, exact_moment=False)
    print(f"killed at {done_at_kill:.0f}/{total}; {processed(worker):.0f} consumed after restart")
    await assert_months_as_batch(topics)


async def test_cold_start_on_a_backlog_reads_the_profiles_first(
    workers: list[Worker], tmp_path: Path
) -> None:
    """A worker that starts on a backlog of both topics (the activity even produced before
    the profiles) applies every event in its organisation's time zone: it reads the profiles
    of its partitions before any activity (engagement_scorer.profiles)."""
    topics = Topics(unique_prefix())
    await create_topics(topics.all())
    await produce(topics.activity, LOG.activity)
    await produce(topics.profiles, LOG.profiles)
    worker = Worker("cold-" + topics.prefix, topics, tmp_path).start()
    workers.append(worker)
    worker.wait_ready(timeout=180)
    wait_until(lambda: processed(worker) >= len(LOG.activity), timeout=300, what="all consumed")
    assert processed(worker) == len(LOG.activity)
    log_text = worker.log_path.read_text(errors="replace")
    assert "profiles read ahead" in log_text
    assert "timezone changed" not in log_text
    assert_same_as_batch(worker)
    await assert_months_as_batch(topics)
