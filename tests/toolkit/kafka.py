"""Topics, admin, producing and consuming against a real broker (aiokafka)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from engagement.events import KafkaRecord
from engagement.settings import Settings

#: The broker of ``make test`` / ``make bench`` unless ``KAFKA_BOOTSTRAP_SERVERS`` says otherwise.
BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
#: Partitions of every topic created here (and the worker's ``ENGAGEMENT_TOPIC_PARTITIONS``):
#: several, so per-partition ordering and rebalances are exercised as in production.
PARTITIONS = 4

#: Producer options. RELIABLE: every record acknowledged by the broker before ``produce``
#: returns (tests assert on what was sent). AT_ONCE: as few record batches as fit in 1 MB, so a
#: consumer sees a whole export appear at once (a batch is appended to the log whole). FAST:
#: the benchmark's, throughput first (leader acknowledgement, large batches).
RELIABLE: Mapping[str, Any] = {"acks": "all", "linger_ms": 5}
AT_ONCE: Mapping[str, Any] = {"acks": "all", "linger_ms": 200, "max_batch_size": 1 << 20}
FAST: Mapping[str, Any] = {"acks": 1, "linger_ms": 20, "max_batch_size": 512 * 1024}


def broker_unreachable(bootstrap: str = BOOTSTRAP, timeout: float = 5.0) -> OSError | None:
    """Why the first bootstrap server does not accept a connection (None: it does)."""
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as exc:
        return exc
    return None


# ------------------------------------------------------------------------------------------------
# topics
# ------------------------------------------------------------------------------------------------


@cache
def _default_names() -> dict[str, str]:
    # The names a worker uses when nothing is configured: the settings' defaults, never this
    # process's environment or .env (model_construct reads neither).
    return Settings.model_construct().topic_names()


@dataclass(frozen=True)
class Topics:
    """One run's own set of every topic the worker uses: ``<prefix>.<default name>``.

    The roles and default names come from ``Settings.topic_names`` (the one list), so a topic
    added to the settings is created, prefixed and handed to the worker here without another
    edit. A unique prefix per test or bench phase keeps runs on a shared broker apart.
    """

    prefix: str

    def by_role(self) -> dict[str, str]:
        """Role (``Settings.topic_names``) -> this set's name of that topic."""
        return {role: f"{self.prefix}.{name}" for role, name in _default_names().items()}

    @property
    def activity(self) -> str:
        return self.by_role()["activity"]

    @property
    def profiles(self) -> str:
        return self.by_role()["profiles"]

    @property
    def dlq(self) -> str:
        return self.by_role()["dead_letter"]

    @property
    def scores(self) -> str:
        return self.by_role()["scores"]

    @property
    def monthly(self) -> str:
        return self.by_role()["monthly"]

    @property
    def level_changes(self) -> str:
        return self.by_role()["level_changes"]

    @property
    def alerts(self) -> str:
        return self.by_role()["alerts"]

    @property
    def benchmarks(self) -> str:
        return self.by_role()["benchmarks"]

    def all(self) -> list[str]:
        """Every topic of the set, inputs first (what to create before a worker starts)."""
        return list(self.by_role().values())

    def env(self) -> dict[str, str]:
        """The worker's environment for this set: ``ENGAGEMENT_<ROLE>_TOPIC`` per role."""
        env_prefix = Settings.model_config.get("env_prefix", "")
        return {f"{env_prefix}{role}_topic".upper(): name for role, name in self.by_role().items()}


# ------------------------------------------------------------------------------------------------
# admin
# ------------------------------------------------------------------------------------------------


@cache
def _service_configs() -> dict[str, dict[str, str]]:
    """Default topic name -> the topic configs the worker needs and checks at start-up
    (``engagement.kafka_admin.service_topics`` of the default settings)."""
    from engagement.kafka_admin import service_topics

    return {spec.name: dict(spec.configs) for spec in service_topics(Settings.model_construct())}


def topic_configs(name: str) -> dict[str, str]:
    """The configs the worker expects of ``name`` (``<prefix>.<default name>`` or a default
    name; {} for other topics)."""
    for default, configs in _service_configs().items():
        if name == default or name.endswith("." + default):
            return configs
    return {}


async def create_topics(
    names: Iterable[str],
    partitions: int = PARTITIONS,
    *,
    bootstrap: str = BOOTSTRAP,
    replication_factor: int = 1,
) -> None:
    """Create the topics that do not exist yet (an existing one is left as it is), each with
    the configs the worker checks at start-up (compaction, retention: ``topic_configs``)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for name in names:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [
                        NewTopic(
                            name,
                            num_partitions=partitions,
                            replication_factor=replication_factor,
                            topic_configs=topic_configs(name) or None,
                        )
                    ]
                )
    finally:
        await admin.close()


async def delete_topics_with_prefix(prefix: str, *, bootstrap: str = BOOTSTRAP) -> int:
    """Delete every topic whose name starts with ``prefix``: a run's topic set and the
    changelog and repartition topics its workers made (their app id starts with it too)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [t for t in await admin.list_topics() if t.startswith(prefix)]
        if names:
            await admin.delete_topics(names)
        return len(names)
    finally:
        await admin.close()


# ------------------------------------------------------------------------------------------------
# producing
# ------------------------------------------------------------------------------------------------


async def produce_timed(
    topic: str,
    records: Iterable[KafkaRecord],
    *,
    bootstrap: str = BOOTSTRAP,
    options: Mapping[str, Any] = RELIABLE,
) -> tuple[int, float]:
    """Send ``records`` in order with one producer of ``options``; returns (records, seconds
    from the first send to the end of the final flush)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, **options)
    await producer.start()
    n = 0
    started = time.perf_counter()
    try:
        for r in records:
            await producer.send(topic, key=r.key, value=r.value, headers=r.headers)
            n += 1
        await producer.flush()
    finally:
        await producer.stop()
    return n, time.perf_counter() - started


async def produce(
    topic: str,
    records: Iterable[KafkaRecord],
    *,
    bootstrap: str = BOOTSTRAP,
    at_once: bool = False,
) -> int:
    """Send ``records`` in order, each acknowledged by the broker. ``at_once``: in as few record
    batches as fit in 1 MB, so a consumer sees the whole export appear at once (a batch is
    appended to the log whole)."""
    n, _ = await produce_timed(
        topic, records, bootstrap=bootstrap, options=AT_ONCE if at_once else RELIABLE
    )
    return n


# ------------------------------------------------------------------------------------------------
# consuming
# ------------------------------------------------------------------------------------------------


async def consume_all(
    topic: str, expected: int, wait_seconds: float = 60.0, *, bootstrap: str = BOOTSTRAP
) -> list[Any]:
    """Read a topic from the beginning until ``expected`` messages (or fail at timeout)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    out: list[Any] = []
    try:
        deadline = time.monotonic() + wait_seconds
        while len(out) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for messages in batch.values():
                out.extend(messages)
    finally:
        await consumer.stop()
    return out


async def topic_size(topic: str, *, bootstrap: str = BOOTSTRAP) -> int:
    """Records in ``topic``: the sum of its partitions' end offsets (0 when it is unknown)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        ends = await consumer.end_offsets(tps) if tps else {}
        return sum(ends.values())
    finally:
        await consumer.stop()


async def consume_to_end(
    topic: str,
    *,
    bootstrap: str = BOOTSTRAP,
    settle: float = 1.0,
    within: float = 60.0,
) -> list[Any]:
    """Every record of ``topic``, each partition from its first offset up to its end offset.

    Unlike ``consume_all`` this never stops at a count, so "exactly once", "never" and exact
    counts hold over the whole topic, every partition included. The end offsets are taken once
    the producer side has settled: they are re-read until they stay unchanged for ``settle``
    seconds (call it once the worker is done; ``settle=0`` takes the current ends). Records come
    partition by partition, each partition in offset order.
    """
    deadline = time.monotonic() + within
    parts: set[int] = set()
    while not parts:
        # a consumer learns a topic's partitions once subscribed to it
        finder = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, enable_auto_commit=False)
        await finder.start()
        try:
            parts = finder.partitions_for_topic(topic) or set()
        finally:
            await finder.stop()
        if not parts:
            if time.monotonic() > deadline:
                raise AssertionError(f"topic {topic} has no partitions")
            await asyncio.sleep(0.5)
    tps = [TopicPartition(topic, p) for p in sorted(parts)]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        ends = await consumer.end_offsets(tps)
        stable_since = time.monotonic()
        while time.monotonic() - stable_since < settle:
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic} was still growing after {within}s: {ends}")
            await asyncio.sleep(min(0.5, settle))
            now_ends = await consumer.end_offsets(tps)
            if now_ends != ends:
                ends, stable_since = now_ends, time.monotonic()
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        by_tp: dict[TopicPartition, list[Any]] = {tp: [] for tp in tps}
        pending = {tp for tp in tps if ends[tp] > 0}
        while pending:
            if time.monotonic() > deadline:
                raise AssertionError(f"could not read {topic} to its end offsets {ends}")
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, messages in batch.items():
                by_tp[tp].extend(m for m in messages if m.offset < ends[tp])
            for tp in list(pending):
                if await consumer.position(tp) >= ends[tp]:
                    pending.discard(tp)
        return [m for tp in tps for m in by_tp[tp]]
    finally:
        await consumer.stop()
