"""At-least-once under load: a worker SIGKILLed at ten random moments while its data plane
reads at full speed, restarted each time (RocksDB store, same data dir), ends with every
organisation's figures and every closed month equal to the batch recomputation.

What would fail it: an input offset committed before the changelog records it caused were
acknowledged (the state after the restart would miss changes of events never read again); a
persisted changelog offset ahead of what the changelog holds (recovery would skip records);
a month closed with partial figures, or closed twice with different ones.

The whole log is produced first; each run is killed at a random moment (seeded: after a
random number of records it applied, at full speed), with offsets committed every 0.2 s, and
the test checks after each kill that the group had not committed the whole log (the kill
came mid-stream).
"""

from __future__ import annotations

import random
import time
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from engagement.settings import Settings
from engagement_scorer.batch import recompute, timezones_from
from engagement_simulator.traffic import generate

from ..clock import TEST_NOW
from .harness import (
    BOOTSTRAP,
    Topics,
    Worker,
    assert_months_equal_batch,
    consume_to_end,
    create_topics,
    produce,
    unique_prefix,
    wait_until,
)
from .test_reliability import assert_api_equals, comparable, processed, say

pytestmark = pytest.mark.kafka

KILLS = 10
END = TEST_NOW - timedelta(hours=1)
#: a killed member's partitions are reassigned after the session timeout (6 s: the broker's
#: minimum), not Faust's default 60 s
QUICK_REJOIN = {"BROKER_SESSION_TIMEOUT": "6", "BROKER_HEARTBEAT_INTERVAL": "1"}
#: offsets committed every 0.2 s (Faust's default is 2.8 s), so kills fall between commits that
#: happen while the data plane's changelog and output records are in flight
OFTEN = {"BROKER_COMMIT_INTERVAL": "0.2"}


async def committed(topic: str, group: str) -> int:
    """The group's committed offsets of ``topic``, summed (records it will not read again)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP, group_id=group)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer._client.cluster.partitions_for_topic(topic) or set()
        offsets = [await consumer.committed(TopicPartition(topic, p)) for p in sorted(parts)]
        return sum(o or 0 for o in offsets)
    finally:
        await consumer.stop()


@pytest.mark.timeout(900)
async def test_sigkill_at_ten_moments_under_load_ends_equal_to_the_batch(
    workers: list[Worker], tmp_path: Path
) -> None:
    log = generate(
        seed=202, orgs=36, days=40, end=END, duplicates=0.03, disorder=0.05,
        accounts_per_org=(20, 60),
    )  # fmt: skip
    rules = Settings().scoring_rules()
    batch = recompute(log.activity, rules, timezones_from(log.profiles))
    expected = {org: comparable(score) for org, score in batch.scores.items()}
    topics = Topics(unique_prefix())
    await create_topics(topics.all(), bootstrap=BOOTSTRAP)
    env = {
        "ENGAGEMENT_STORE": "rocksdb://",
        "ENGAGEMENT_STANDBY_REPLICAS": "0",
        **QUICK_REJOIN,
        **OFTEN,
    }
    worker = Worker("kill-" + topics.prefix, topics, tmp_path, name="victim", extra_env=env)
    workers.append(worker)
    await produce(topics.profiles, log.profiles, bootstrap=BOOTSTRAP)

    await produce(topics.activity, log.activity, bootstrap=BOOTSTRAP)
    rng = random.Random(202)
    total = len(log.activity)
    group = "kill-" + topics.prefix
    for kill in range(KILLS):
        worker.start()
        worker.wait_ready()
        # a random moment of reading at full speed: after a random number of records
        target = rng.randint(300, 3000)
        wait_until(
            lambda t=target: processed(worker) >= t, timeout=180, interval=0.01, what="reading"
        )
        seen = processed(worker)
        worker.kill()
        assert worker.proc is not None
        worker.proc.wait(timeout=30)
        done = await committed(topics.activity, group)
        say(f"kill {kill + 1}: {seen:.0f} records applied by this run; {done}/{total} committed")
        assert done < total, f"kill {kill + 1} came after the whole log was committed"

    worker.start()
    worker.wait_ready()
    started = time.monotonic()
    assert_api_equals(worker, expected, timeout=180)
    say(f"after {KILLS} kills, figures = batch {time.monotonic() - started:.1f} s after restart")
    monthly = await consume_to_end(topics.monthly, settle=2.0)
    months = assert_months_equal_batch(monthly, batch.closed_months)
    say(f"{months} closed months, each once, equal to the batch")
