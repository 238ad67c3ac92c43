"""Real-broker test harness: scorer workers as subprocesses, topics, producing, consuming.

Workers run as real processes (``python -m scorer worker``) so tests can kill them with
SIGKILL and restart them exactly as an operator would. Every test gets its own app id and
topic names, so tests never see each other's data on the shared broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from engagement.domain import COMPONENTS, Figures, month_key_of, month_label
from engagement.events import KafkaRecord, MonthClosed, decode_output

from ..clock import TEST_NOW

BOOTSTRAP = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
REPO = Path(__file__).resolve().parents[2]
PARTITIONS = 4


def require_broker() -> None:
    host, _, port = BOOTSTRAP.split(",")[0].rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        pytest.fail(
            f"Kafka broker not reachable at {BOOTSTRAP} ({exc!r}): run `make kafka-up` "
            "(or `make test`, which starts and stops it)",
            pytrace=False,
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Topics:
    prefix: str

    @property
    def activity(self) -> str:
        return f"{self.prefix}.intranet.activity"

    @property
    def profiles(self) -> str:
        return f"{self.prefix}.intranet.org-profiles"

    @property
    def dlq(self) -> str:
        return f"{self.prefix}.intranet.activity.dlq"

    @property
    def scores(self) -> str:
        return f"{self.prefix}.engagement.scores"

    @property
    def monthly(self) -> str:
        return f"{self.prefix}.engagement.monthly"

    @property
    def level_changes(self) -> str:
        return f"{self.prefix}.engagement.level-changes"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}.engagement.alerts"

    @property
    def benchmarks(self) -> str:
        return f"{self.prefix}.engagement.benchmarks"

    def all(self) -> list[str]:
        return [
            self.activity,
            self.profiles,
            self.dlq,
            self.scores,
            self.monthly,
            self.level_changes,
            self.alerts,
            self.benchmarks,
        ]

    def env(self) -> dict[str, str]:
        return {
            "ENGAGEMENT_ACTIVITY_TOPIC": self.activity,
            "ENGAGEMENT_PROFILES_TOPIC": self.profiles,
            "ENGAGEMENT_DEAD_LETTER_TOPIC": self.dlq,
            "ENGAGEMENT_SCORES_TOPIC": self.scores,
            "ENGAGEMENT_MONTHLY_TOPIC": self.monthly,
            "ENGAGEMENT_LEVEL_CHANGES_TOPIC": self.level_changes,
            "ENGAGEMENT_ALERTS_TOPIC": self.alerts,
            "ENGAGEMENT_BENCHMARKS_TOPIC": self.benchmarks,
        }


async def create_topics(
    names: Iterable[str], partitions: int = PARTITIONS, *, bootstrap: str = BOOTSTRAP
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for name in names:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(name, num_partitions=partitions, replication_factor=1)]
                )
    finally:
        await admin.close()


async def produce(
    topic: str,
    records: Iterable[KafkaRecord],
    *,
    bootstrap: str = BOOTSTRAP,
    at_once: bool = False,
) -> int:
    """Send ``records`` in order. ``at_once``: in as few record batches as fit in 1 MB, so a
    consumer sees the whole export appear at once (a batch is appended to the log whole)."""
    batching = {"linger_ms": 200, "max_batch_size": 1 << 20} if at_once else {"linger_ms": 5}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **batching)
    await producer.start()
    n = 0
    try:
        for r in records:
            await producer.send(topic, key=r.key, value=r.value, headers=r.headers)
            n += 1
        await producer.flush()
    finally:
        await producer.stop()
    return n


async def consume_all(topic: str, expected: int, wait_seconds: float = 60.0) -> list[Any]:
    """Read a topic from the beginning until ``expected`` messages (or fail at timeout)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=BOOTSTRAP,
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


async def topic_size(topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=BOOTSTRAP)
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


def month_figures(figures: Figures) -> dict[str, Any]:
    """A closed month of the batch (``BatchResult.closed_months``) as ``month_closes`` shows it."""
    return {
        "as_of": datetime.fromtimestamp(figures.as_of, UTC),
        "components": {
            c: (figures.components[c].numerator, figures.components[c].denominator)
            for c in COMPONENTS
        },
        "score": figures.score,
    }


def month_closes(messages: Iterable[Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """``engagement.monthly`` records as a consumer that deduplicates by CloudEvents id sees
    them: (org, month) -> the distinct events of that month, in topic order."""
    content_of: dict[str, bytes] = {}
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in messages:
        event = decode_output(m.key, m.value, m.headers)
        closed = event.data
        assert isinstance(closed, MonthClosed), f"not a month close: {event.type}"
        if event.id in content_of:
            assert content_of[event.id] == m.value, f"id {event.id} carries two contents"
            continue
        content_of[event.id] = m.value
        out.setdefault((closed.org_id, closed.month), []).append(
            {
                "as_of": closed.as_of,
                "components": {
                    c: (getattr(closed.components, c).numerator,
                        getattr(closed.components, c).denominator)
                    for c in COMPONENTS
                },
                "score": closed.engagement_score,
            }
        )  # fmt: skip
    return out


def assert_months_equal_batch(
    messages: Iterable[Any], closed_months: Mapping[str, list[Figures]]
) -> int:
    """Exactly one month close per (org, month) after deduplication by id, and each one's
    figures (every component's numerator and denominator, the score, the month's end) equal
    the batch recomputation's closed month. Returns the number of months."""
    expected = {
        (org, month_label(month_key_of(f.first_day))): month_figures(f)
        for org, months in closed_months.items()
        for f in months
    }
    got = month_closes(messages)
    several = {k: v for k, v in got.items() if len(v) != 1}
    assert not several, f"{len(several)} months published more than once: {several}"
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    assert (missing, extra) == ([], []), f"months missing {missing}, not in the batch {extra}"
    differ = {k: (got[k][0], e) for k, e in expected.items() if got[k][0] != e}
    assert not differ, f"{len(differ)} closed months differ, e.g. {next(iter(differ.items()))}"
    return len(expected)


def run(coro: Any) -> Any:
    return asyncio.get_event_loop().run_until_complete(coro)


@dataclass
class Worker:
    """One scorer worker process."""

    app_id: str
    topics: Topics
    workdir: Path
    web_port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"worker-{self.web_port}.log"

    def start(self) -> Worker:
        env = dict(os.environ)
        env.update(self.topics.env())
        env.update(
            {
                "ENGAGEMENT_KAFKA_BOOTSTRAP": BOOTSTRAP,
                "ENGAGEMENT_APP_ID": self.app_id,
                "ENGAGEMENT_WEB_PORT": str(self.web_port),
                "ENGAGEMENT_DATA_DIR": str(self.workdir / f"data-{self.web_port}"),
                "ENGAGEMENT_LIVE_CLOCK": "false",
                "ENGAGEMENT_EMIT_INTERVAL_SECONDS": "0.2",
                "ENGAGEMENT_TOPIC_PARTITIONS": str(PARTITIONS),
                # the worker's clock (live clock, future-time checks) starts at the suite's
                # injected now, never at the machine's date and time of day
                "ENGAGEMENT_CLOCK_START": TEST_NOW.isoformat(),
            }
        )
        env.update(self.extra_env)
        self.starts += 1
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "scorer", "worker"],
            cwd=self.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def metrics(self) -> str:
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as resp:
            return str(resp.read().decode())

    def wait_ready(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.tail()}")
            with contextlib.suppress(OSError, ValueError):
                status, _ = self.get("/ready")
                if status == 200:
                    return
            time.sleep(0.3)
        raise AssertionError(f"worker not ready after {timeout}s:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def counter(self, name: str, **labels: str) -> float:
        """Sum of a Prometheus series from /metrics (0 when absent)."""
        total = 0.0
        for line in self.metrics().splitlines():
            if not line.startswith(name):
                continue
            head, _, value = line.rpartition(" ")
            if head.split("{")[0] != name:
                continue
            if all(f'{k}="{v}"' in head for k, v in labels.items()):
                total += float(value)
        return total


def wait_until(predicate: Any, timeout: float = 60.0, interval: float = 0.3, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or predicate} (last: {last!r})")


def unique_prefix() -> str:
    return "t" + uuid.uuid4().hex[:10]
