"""At-least-once under load: a worker SIGKILLed at ten random moments while its data plane
reads at full speed, restarted each time (RocksDB store, same data dir), ends with every
organisation's figures and every closed month equal to the batch recomputation.

What would fail it: an input offset committed before the changelog records it caused were
acknowledged (the state after the restart would miss changes of events never read again); a
persisted changelog offset ahead of what the changelog holds (recovery would skip records);
a month closed with partial figures, or closed twice with different ones.

The log is produced in chunks, one per kill, each right after the worker is ready again and
the kill a random moment after the worker has started on it (seeded: the same moments each
run, relative to the worker's progress), so every kill lands while records are still unread.
"""

from __future__ import annotations

import asyncio
import random
import time
from datetime import timedelta
from pathlib import Path

import pytest

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


async def test_sigkill_at_ten_moments_under_load_ends_equal_to_the_batch(
    workers: list[Worker], tmp_path: Path
) -> None:
    log = generate(
        seed=202, orgs=24, days=40, end=END, duplicates=0.03, disorder=0.05,
        accounts_per_org=(20, 60),
    )  # fmt: skip
    rules = Settings().scoring_rules()
    batch = recompute(log.activity, rules, timezones_from(log.profiles))
    expected = {org: comparable(score) for org, score in batch.scores.items()}
    topics = Topics(unique_prefix())
    await create_topics(topics.all(), bootstrap=BOOTSTRAP)
    env = {"ENGAGEMENT_STORE": "rocksdb://", "ENGAGEMENT_STANDBY_REPLICAS": "0", **QUICK_REJOIN}
    worker = Worker("kill-" + topics.prefix, topics, tmp_path, name="victim", extra_env=env)
    workers.append(worker)
    await produce(topics.profiles, log.profiles, bootstrap=BOOTSTRAP)

    rng = random.Random(202)
    total = len(log.activity)
    cuts = [round(total * (i + 1) / (KILLS + 1)) for i in range(KILLS)] + [total]
    produced = 0
    mid_stream = 0
    for kill in range(KILLS):
        worker.start()
        worker.wait_ready()
        await produce(topics.activity, log.activity[produced : cuts[kill]], bootstrap=BOOTSTRAP)
        chunk = cuts[kill] - produced
        produced = cuts[kill]
        # started on it (records re-read after the last kill count too), then a random moment
        wait_until(lambda: processed(worker) > 0, timeout=60, what="the worker reading")
        await asyncio.sleep(rng.uniform(0.0, 0.4))
        seen = processed(worker)
        worker.kill()
        assert worker.proc is not None
        worker.proc.wait(timeout=30)
        mid_stream += seen < chunk
        say(f"kill {kill + 1}: {seen:.0f} records applied by this run, {chunk} in its chunk")
    assert mid_stream >= KILLS // 2, f"only {mid_stream} of {KILLS} kills landed mid-stream"

    worker.start()
    worker.wait_ready()
    await produce(topics.activity, log.activity[produced:], bootstrap=BOOTSTRAP)
    started = time.monotonic()
    assert_api_equals(worker, expected, timeout=180)
    say(f"after {KILLS} kills, figures = batch {time.monotonic() - started:.1f} s after the rest")
    monthly = await consume_to_end(topics.monthly, settle=2.0)
    months = assert_months_equal_batch(monthly, batch.closed_months)
    say(f"{months} closed months, each once, equal to the batch")
