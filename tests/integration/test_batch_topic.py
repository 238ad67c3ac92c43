"""``engagement-batch --topic`` reads a topic from the broker: every record, in partition order
(it used to read an existing topic as empty, the consumer not having its metadata yet)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import timedelta

import pytest

from engagement.settings import Settings
from engagement_scorer.batch import recompute
from engagement_simulator.traffic import generate

from ..clock import TEST_NOW
from .harness import BOOTSTRAP, create_topics, produce, unique_prefix

pytestmark = pytest.mark.kafka


def test_batch_reads_the_whole_topic_from_the_broker() -> None:
    log = generate(seed=5, orgs=3, days=8, end=TEST_NOW - timedelta(hours=1))
    topic = unique_prefix() + "-activity"
    asyncio.run(create_topics([topic], bootstrap=BOOTSTRAP))
    asyncio.run(produce(topic, log.activity, bootstrap=BOOTSTRAP))
    done = subprocess.run(
        [sys.executable, "-m", "engagement_scorer.batch", "--topic", topic, "--bootstrap",
         BOOTSTRAP],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    got = json.loads(done.stdout)
    assert got["outcomes"]["applied"] == len(log.activity)
    expected = recompute(log.activity, Settings().scoring_rules()).scores
    assert set(got["scores"]) == set(expected)
    for org, score in expected.items():
        assert got["scores"][org]["components"] == score["components"]
