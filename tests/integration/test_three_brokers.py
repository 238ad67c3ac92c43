"""Kafka settings a production cluster accepts: replication 3, ``min.insync.replicas=2``.

A three-node KRaft cluster (three Kafka processes on loopback, each broker and controller,
from the same Maven jars as ``make kafka-up``; their own ports and directories, formatted
afresh) is started for the test. A worker configured with
``ENGAGEMENT_TOPIC_REPLICATION_FACTOR=3`` and ``ENGAGEMENT_TOPIC_MIN_INSYNC_REPLICAS=2`` creates
every topic (its producers write with ``acks=all``); one broker is stopped while the activity
streams in, and the figures and month closes must still equal the batch recomputation.

A second test, on the suite's broker, starts a worker on a topic set made by hand with other
settings: the worker must refuse to start, naming each topic and setting that differs.

Ports: free ones picked at run time, or ``ENGAGEMENT_TEST_CLUSTER_PORT_BASE`` (base+1..3 for
the brokers, base+11..13 for the controllers). ``KAFKA_DIR`` (as for ``make kafka-up``) holds
the jars; ``deploy/kafka/kafka.sh fetch`` fetches them when missing.
"""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from engagement.kafka_admin import check_topics, service_topics
from engagement.settings import Settings
from engagement_scorer.batch import recompute, timezones_from
from engagement_simulator.traffic import generate

from ..clock import TEST_NOW
from .harness import (
    REPO,
    Topics,
    Worker,
    assert_months_equal_batch,
    consume_to_end,
    free_port,
    produce,
    unique_prefix,
    wait_until,
)

pytestmark = pytest.mark.kafka

KAFKA_SH = REPO / "deploy" / "kafka" / "kafka.sh"
HOST = "127.0.0.1"
NODES = 3

END = TEST_NOW - timedelta(hours=1)
#: Small enough for three JVMs and a worker on two cores; spans a month end (closes one).
LOG = generate(
    seed=7, orgs=10, days=35, end=END, duplicates=0.03, disorder=0.05, accounts_per_org=(8, 25)
)


def comparable(score: dict[str, Any]) -> dict[str, Any]:
    """A score's exact figures (as in test_stream_equals_batch), without the moment: after
    a failover an organisation's as_of may lag within its day until its next event."""
    return {
        "window": (score["window_start"], score["window_end"]),
        "components": {
            k: (v["numerator"], v["denominator"]) for k, v in score["components"].items()
        },
        "month_to_date": {
            k: (v["numerator"], v["denominator"]) for k, v in score["month_to_date"].items()
        },
        "score": score["engagement_score"],
    }


# ------------------------------------------------------------------------------------------------
# the cluster
# ------------------------------------------------------------------------------------------------


def _ports() -> list[tuple[int, int]]:
    """(broker, controller) port of each node."""
    base = os.environ.get("ENGAGEMENT_TEST_CLUSTER_PORT_BASE")
    if base:
        return [(int(base) + i, int(base) + 10 + i) for i in range(1, NODES + 1)]
    return [(free_port(), free_port()) for _ in range(NODES)]


def _libs() -> Path:
    kafka_dir = Path(os.environ.get("KAFKA_DIR") or REPO / ".kafka")
    libs = kafka_dir / "libs"
    if not (libs / ".fetched").is_file():
        subprocess.run(["bash", str(KAFKA_SH), "fetch"], check=True, timeout=600)
    return libs


@dataclass
class Node:
    node_id: int
    port: int
    controller_port: int
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def props(self) -> Path:
        return self.workdir / "server.properties"

    @property
    def log_path(self) -> Path:
        return self.workdir / "kafka.out"

    def write(self, voters: str) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.props.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    f"node.id={self.node_id}",
                    f"controller.quorum.voters={voters}",
                    f"listeners=PLAINTEXT://{HOST}:{self.port},"
                    f"CONTROLLER://{HOST}:{self.controller_port}",
                    f"advertised.listeners=PLAINTEXT://{HOST}:{self.port}",
                    "inter.broker.listener.name=PLAINTEXT",
                    "controller.listener.names=CONTROLLER",
                    "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                    f"log.dirs={self.workdir / 'data'}",
                    "num.partitions=4",
                    # a production cluster's defaults: every write needs two replicas
                    "default.replication.factor=3",
                    "min.insync.replicas=2",
                    "offsets.topic.replication.factor=3",
                    "offsets.topic.num.partitions=4",
                    "transaction.state.log.replication.factor=3",
                    "transaction.state.log.min.isr=2",
                    "group.initial.rebalance.delay.ms=0",
                    "num.network.threads=2",
                    "num.io.threads=2",
                    "num.recovery.threads.per.data.dir=1",
                    "",
                ]
            )
        )
        (self.workdir / "log4j.properties").write_text(
            "log4j.rootLogger=WARN, stdout\n"
            "log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n"
            "log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n"
            "log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            "log4j.logger.kafka.server.KafkaServer=INFO\n"
            "log4j.logger.kafka.server.KafkaRaftServer=INFO\n"
            "log4j.logger.kafka.server.BrokerServer=INFO\n"
        )

    def java(self, libs: Path, *args: str, heap: str = "320m") -> list[str]:
        return [
            "java",
            f"-Xms{heap}",
            f"-Xmx{heap}",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{self.workdir / 'log4j.properties'}",
            "-cp",
            f"{libs}/*",
            *args,
        ]

    def format(self, libs: Path, cluster_id: str) -> None:
        subprocess.run(
            self.java(
                libs,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(self.props),
                heap="128m",
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self, libs: Path) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            self.java(libs, "kafka.Kafka", str(self.props)),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class Cluster:
    nodes: list[Node] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{HOST}:{n.port}" for n in self.nodes)

    async def wait_ready(self, within: float = 180) -> None:
        """Every broker registered (metadata lists three brokers)."""
        deadline = time.monotonic() + within
        last: Any = None
        while time.monotonic() < deadline:
            for node in self.nodes:
                if not node.alive():
                    raise AssertionError(f"broker {node.node_id} exited:\n{node.tail()}")
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
            try:
                await admin.start()
                cluster = await admin.describe_cluster()
                last = cluster
                if len(cluster.get("brokers") or []) == NODES:
                    return
            except Exception as exc:  # not up yet
                last = exc
            finally:
                await admin.close()
            await asyncio.sleep(1)
        raise AssertionError(f"cluster not ready: {last!r}")


@pytest.fixture
async def cluster(tmp_path: Path) -> Any:
    libs = _libs()
    ports = _ports()
    voters = ",".join(f"{i + 1}@{HOST}:{c}" for i, (_, c) in enumerate(ports))
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=").lstrip("-")
    nodes = [Node(i + 1, p, c, tmp_path / f"kafka-{i + 1}") for i, (p, c) in enumerate(ports)]
    for node in nodes:
        node.write(voters)
        node.format(libs, cluster_id)
    running = Cluster(nodes)
    try:
        for node in nodes:
            node.start(libs)
        await running.wait_ready()
        yield running
    finally:
        for node in nodes:  # SIGKILL: the data is thrown away, and the last two of three
            node.stop(signal.SIGKILL)  # would wait for a controller quorum that is gone
            print(f"--- broker {node.node_id} ---\n{node.tail(10)}")


@pytest.fixture
def cluster_workers(tmp_path: Path) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    yield started
    for worker in started:
        worker.kill()
        print(f"--- {worker.log_path} ---\n{worker.tail(15)}")


# ------------------------------------------------------------------------------------------------
# the tests
# ------------------------------------------------------------------------------------------------


def _processed(worker: Worker) -> float:
    applied = worker.counter("engagement_events_processed_total") - worker.counter(
        "engagement_events_processed_total", type="intranet.org.profile.v1"
    )
    return applied + worker.counter("engagement_events_dead_lettered_total")


async def wait_isr_without(bootstrap: str, names: list[str], node_id: int) -> set[int]:
    """The in-sync replica counts of the topics' partitions once ``node_id`` left every ISR."""
    deadline = time.monotonic() + 60
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            described = await admin.describe_topics(names)
        finally:
            await admin.close()
        partitions = [p for info in described for p in info["partitions"]]
        if partitions and all(node_id not in p["isr"] for p in partitions):
            return {len(p["isr"]) for p in partitions}
        if time.monotonic() > deadline:
            raise AssertionError(f"broker {node_id} still in an ISR: {described}")
        await asyncio.sleep(0.5)


REPLICATED = {
    "ENGAGEMENT_TOPIC_REPLICATION_FACTOR": "3",
    "ENGAGEMENT_TOPIC_MIN_INSYNC_REPLICAS": "2",
}


async def test_replication_3_min_isr_2_one_broker_stopped_mid_stream_equals_batch(
    cluster: Cluster, cluster_workers: list[Worker], tmp_path: Path
) -> None:
    topics = Topics(unique_prefix())
    worker = Worker(
        "rf3-" + topics.prefix,
        topics,
        tmp_path,
        bootstrap=cluster.bootstrap,
        extra_env=REPLICATED,
    ).start()
    cluster_workers.append(worker)
    worker.wait_ready(timeout=240)  # it created every topic: replication 3, min ISR 2

    # Every topic of the service is as configured, on the cluster (the worker checked it too).
    settings = Settings.model_construct(
        **{f"{role}_topic": name for role, name in topics.by_role().items()},
        **{k.removeprefix("ENGAGEMENT_").lower(): int(v) for k, v in REPLICATED.items()},
    )
    internal = [f"{worker.app_id}-peer-figures", f"{worker.app_id}-clock"]
    specs = service_topics(settings, internal)
    assert {s.name for s in specs} >= set(topics.all())
    assert await check_topics(cluster.bootstrap, specs) == []
    assert all(s.configs.get("min.insync.replicas") == "2" for s in specs if s.check_replication)

    await produce(topics.profiles, LOG.profiles, bootstrap=cluster.bootstrap)
    wait_until(
        lambda: (
            worker.counter("engagement_events_processed_total", type="intranet.org.profile.v1")
            >= len(LOG.profiles)
        ),
        timeout=120,
        what="profiles applied",
    )
    total = len(LOG.activity)
    half = total // 2
    await produce(topics.activity, LOG.activity[:half], bootstrap=cluster.bootstrap)
    wait_until(lambda: _processed(worker) >= 0.3 * total, timeout=300, what="30% consumed")

    # One broker goes away mid-stream; two replicas are still in sync: writes go on.
    stopped = cluster.nodes[1]
    stopped.stop()
    assert not stopped.alive()
    live = ",".join(f"{HOST}:{n.port}" for n in cluster.nodes if n is not stopped)
    isr = await wait_isr_without(live, [topics.activity, topics.scores], stopped.node_id)
    assert isr == {2}  # every partition: two replicas in sync, the stopped broker out
    await produce(topics.activity, LOG.activity[half:], bootstrap=live)
    wait_until(lambda: _processed(worker) >= total, timeout=300, what="all consumed")
    assert _processed(worker) == total  # nothing lost, nothing counted twice
    assert worker.alive()

    batch = recompute(LOG.activity, Settings().scoring_rules(), timezones_from(LOG.profiles))
    expected = {org: comparable(score) for org, score in batch.scores.items()}

    def figures() -> dict[str, Any]:
        got = {}
        for org in expected:
            status, body = worker.get(f"/orgs/{org}/score")
            if status == 200:
                got[org] = comparable(body)
        return got

    wait_until(lambda: figures() == expected, timeout=120, interval=1.0, what="= batch")
    months = assert_months_equal_batch(
        await consume_to_end(topics.monthly, bootstrap=live), batch.closed_months
    )
    assert months >= len(expected)


async def test_a_worker_refuses_topics_that_differ_from_its_settings(
    tmp_path: Path, cluster_workers: list[Worker]
) -> None:
    """On the suite's broker: the scores topic made without compaction, the monthly topic
    with a 7-day retention (a broker default that would lose the official figures)."""
    from .harness import BOOTSTRAP, PARTITIONS, create_topics

    topics = Topics(unique_prefix())
    admin = AIOKafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(topics.scores, PARTITIONS, 1, topic_configs={"cleanup.policy": "delete"}),
                NewTopic(
                    topics.monthly, PARTITIONS, 1, topic_configs={"retention.ms": "604800000"}
                ),
            ]
        )
    finally:
        await admin.close()
    await create_topics(topics.all())  # the others as the service needs them
    worker = Worker("cfg-" + topics.prefix, topics, tmp_path).start()
    cluster_workers.append(worker)
    assert worker.proc is not None
    code = worker.proc.wait(timeout=120)
    log = worker.log_path.read_text(errors="replace")
    assert code != 0
    assert "Ready" not in log
    # the error (stderr): one line per difference, the topic, the setting, both values
    problems = sorted({line.strip() for line in log.splitlines() if line.startswith("  t")})
    assert problems == [
        f"{topics.monthly}: retention.ms is 604800000, expected -1",
        f"{topics.scores}: cleanup.policy is delete, expected compact",
        f"{topics.scores}: min.compaction.lag.ms is 0, expected {7 * 86_400_000}",
    ]
    assert "ENGAGEMENT_TOPIC_CONFIG_CHECK=warn" in log  # and what to do about it
