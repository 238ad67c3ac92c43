"""Smoke test of the local Kafka broker (deploy/kafka/kafka.sh): admin, keyed produce, consume.

Needs a running broker; `make test` starts one. An unreachable broker is a failure, not a skip.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

pytestmark = pytest.mark.kafka

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
PARTITIONS = 4
N_MESSAGES = 100
N_KEYS = 10


async def _require_broker() -> None:
    """Fail (never skip) with a helpful message when nothing listens on the bootstrap address."""
    host, _, port = BOOTSTRAP.split(",")[0].rpartition(":")
    error: Exception | None = None
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout=5)
    except (OSError, TimeoutError) as exc:
        error = exc
    if error is not None:
        pytest.fail(
            f"Kafka broker not reachable at {BOOTSTRAP} ({error!r}): run `make kafka-up` "
            "(or use `make test`, which starts and stops it)",
            pytrace=False,
        )
    writer.close()
    await writer.wait_closed()


async def _wait_for_partitions(admin: AIOKafkaAdminClient, topic: str) -> int:
    """Poll until the topic has all its partitions with a leader; bound by asyncio.timeout."""
    while True:
        described = await admin.describe_topics([topic])
        info = described[0] if described else {}
        partitions = info.get("partitions") or []
        if (
            info.get("error_code", 1) == 0
            and len(partitions) == PARTITIONS
            and all(p.get("leader", -1) >= 0 for p in partitions)
        ):
            return len(partitions)
        await asyncio.sleep(0.2)


async def test_keyed_round_trip_through_real_broker() -> None:
    await _require_broker()
    topic = f"it-broker-{uuid.uuid4().hex[:12]}"

    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP, request_timeout_ms=10000)
    error: Exception | None = None
    try:
        await admin.start()
    except Exception as exc:
        error = exc
    if error is not None:
        await admin.close()
        pytest.fail(
            f"Kafka broker at {BOOTSTRAP} is not answering ({error!r}): run `make kafka-up`",
            pytrace=False,
        )
    try:
        await admin.create_topics(
            [NewTopic(name=topic, num_partitions=PARTITIONS, replication_factor=1)],
            timeout_ms=10000,
        )
        async with asyncio.timeout(30):
            assert await _wait_for_partitions(admin, topic) == PARTITIONS

        sent: dict[bytes, bytes] = {}
        produced_partition: dict[bytes, set[int]] = defaultdict(set)
        producer = AIOKafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all")
        await producer.start()
        try:
            futures = []
            for i in range(N_MESSAGES):
                key = f"key-{i % N_KEYS}".encode()
                value = f"value-{i:03d}".encode()
                sent[value] = key
                futures.append((key, await producer.send(topic, value=value, key=key)))
            for key, fut in futures:
                metadata = await asyncio.wait_for(fut, timeout=30)
                produced_partition[key].add(metadata.partition)
        finally:
            await producer.stop()

        received: dict[bytes, bytes] = {}
        consumed_partition: dict[bytes, set[int]] = defaultdict(set)
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=BOOTSTRAP,
            group_id=None,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            end = time.monotonic() + 30
            while len(received) < N_MESSAGES and time.monotonic() < end:
                batches = await consumer.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    for record in records:
                        assert record.key is not None
                        assert record.value is not None
                        assert record.value not in received, f"duplicate {record.value!r}"
                        received[record.value] = record.key
                        consumed_partition[record.key].add(tp.partition)
        finally:
            await consumer.stop()

        assert len(received) == N_MESSAGES, f"got {len(received)}/{N_MESSAGES} messages back"
        assert received == sent, "keys/values changed on the way through Kafka"
        for key, parts in consumed_partition.items():
            assert len(parts) == 1, f"key {key!r} spread over partitions {sorted(parts)}"
            assert parts == produced_partition[key]
        used = set().union(*consumed_partition.values())
        assert len(used) > 1, f"all {N_KEYS} keys landed on one partition: {used}"
    finally:
        try:
            await admin.delete_topics([topic], timeout_ms=10000)
        finally:
            await admin.close()
