"""Helpers of scripts/bench.py: worker processes, topics, producing, /proc and /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from engagement.events import KafkaRecord, encode_event, topics
from engagement.events.models import AccountCreated, Visit

PARTITIONS = 4
CLK_TCK = os.sysconf("SC_CLK_TCK")
#: Every worker started in this process, so the bench can make sure none is left running.
STARTED: list[Worker] = []


# ------------------------------------------------------------------------------------------------
# topics
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Topics:
    prefix: str

    @property
    def activity(self) -> str:
        return f"{self.prefix}.intranet.activity"

    @property
    def profiles(self) -> str:
        return f"{self.prefix}.intranet.org-profiles"

    def env(self) -> dict[str, str]:
        return {
            "ENGAGEMENT_ACTIVITY_TOPIC": self.activity,
            "ENGAGEMENT_PROFILES_TOPIC": self.profiles,
            "ENGAGEMENT_DEAD_LETTER_TOPIC": f"{self.prefix}.intranet.activity.dlq",
            "ENGAGEMENT_SCORES_TOPIC": f"{self.prefix}.engagement.scores",
            "ENGAGEMENT_MONTHLY_TOPIC": f"{self.prefix}.engagement.monthly",
        }

    def names(self) -> list[str]:
        return list(self.env().values())


async def create_topics(bootstrap: str, names: Iterable[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for name in names:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)]
                )
    finally:
        await admin.close()


async def delete_topics_with_prefix(bootstrap: str, prefix: str) -> int:
    """Delete every topic whose name starts with ``prefix`` (ours: inputs and changelogs)."""
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


def fast_producer(bootstrap: str, **overrides: Any) -> AIOKafkaProducer:
    options: dict[str, Any] = {"acks": 1, "linger_ms": 20, "max_batch_size": 512 * 1024}
    options.update(overrides)
    return AIOKafkaProducer(bootstrap_servers=bootstrap, **options)


async def produce(bootstrap: str, topic: str, records: Iterable[KafkaRecord]) -> tuple[int, float]:
    """Produce as fast as possible; returns (records, seconds including the final flush)."""
    producer = fast_producer(bootstrap)
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


def _utc_text(t: int) -> bytes:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)).encode()


def binary_record(
    type_: str, source: str, id_: str, t: int, data_json: bytes, key: str
) -> KafkaRecord:
    """What ``encode_event`` returns for a whole-second time and no subject, built directly
    (the CloudEvents SDK round trip would dominate producing a million records)."""
    return KafkaRecord(
        key=key.encode(),
        value=data_json,
        headers=[
            ("ce_specversion", b"1.0"),
            ("ce_id", id_.encode()),
            ("ce_source", source.encode()),
            ("ce_type", type_.encode()),
            ("ce_time", _utc_text(t)),
            ("content-type", b"application/json"),
        ],
    )


def check_fast_path() -> None:
    """Fail loudly if :func:`binary_record` no longer matches the real encoder."""
    t = 1_736_000_000
    for type_, data in (
        (topics.ACCOUNT_CREATED_TYPE, AccountCreated(org_id="o", account_id="a")),
        (topics.VISIT_TYPE, Visit(org_id="o", account_id="a", client="web")),
    ):
        expected = encode_event(
            type=type_,
            source="urn:s",
            id="i-1",
            time=datetime.fromtimestamp(t, UTC),
            subject=None,
            data=data,
            key="o",
        )
        got = binary_record(type_, "urn:s", "i-1", t, data.model_dump_json().encode(), "o")
        if got != expected:
            raise RuntimeError(f"bench encoder differs from encode_event:\n{got}\n{expected}")


def account_created_records(prefix: str, orgs: int, per_org: int, t: int) -> Iterator[KafkaRecord]:
    """One ``account.created`` per account, round-robin over the organisations."""
    source = f"urn:bench:{prefix}"
    org_ids = [f"{prefix}-org-{i:05d}" for i in range(orgs)]
    for j in range(per_org):
        account_id = f"acc-{j:06d}"
        for org_id in org_ids:
            data = AccountCreated(org_id=org_id, account_id=account_id)
            yield binary_record(
                topics.ACCOUNT_CREATED_TYPE,
                source,
                f"{org_id}|{account_id}",
                t,
                data.model_dump_json().encode(),
                org_id,
            )


def visit_record(org_id: str, account_id: str, t: int) -> KafkaRecord:
    data = Visit(org_id=org_id, account_id=account_id, client="web")
    return binary_record(
        topics.VISIT_TYPE,
        "urn:bench:latency",
        f"{org_id}|{account_id}|visit",
        t,
        data.model_dump_json().encode(),
        org_id,
    )


# ------------------------------------------------------------------------------------------------
# worker processes
# ------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def parse_metrics(text: str) -> dict[str, float]:
    """Prometheus text -> {series name: sum over its labels}."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name = head.split("{", 1)[0]
        try:
            totals[name] = totals.get(name, 0.0) + float(value)
        except ValueError:
            continue
    return totals


@dataclass
class Worker:
    """One ``python -m scorer worker`` process with its own app id, data dir and web port."""

    name: str
    app_id: str
    topics: Topics
    workdir: Path
    bootstrap: str
    store: str = "memory://"
    extra_env: dict[str, str] = field(default_factory=dict)
    web_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / f"data-{self.name}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"worker-{self.name}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> Worker:
        env = dict(os.environ)
        env.update(self.topics.env())
        env.update(
            {
                "ENGAGEMENT_KAFKA_BOOTSTRAP": self.bootstrap,
                "ENGAGEMENT_APP_ID": self.app_id,
                "ENGAGEMENT_WEB_PORT": str(self.web_port),
                "ENGAGEMENT_DATA_DIR": str(self.data_dir),
                "ENGAGEMENT_STORE": self.store,
                "ENGAGEMENT_LIVE_CLOCK": "false",
                "ENGAGEMENT_EMIT_INTERVAL_SECONDS": "1",
                "ENGAGEMENT_TOPIC_PARTITIONS": str(PARTITIONS),
            }
        )
        env.update(self.extra_env)
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n===== bench: starting {self.name} =====\n".encode())
            log.flush()
            self.started_at = time.perf_counter()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "scorer", "worker"],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        STARTED.append(self)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 60.0) -> float:
        """SIGTERM, wait (SIGKILL after ``timeout``); returns the seconds it took."""
        started = time.perf_counter()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)
        return time.perf_counter() - started

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def rss_bytes(self) -> int:
        return _status_field(self.pid, "VmRSS")

    def hwm_bytes(self) -> int:
        return _status_field(self.pid, "VmHWM")

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def get_status(self, session: aiohttp.ClientSession, path: str) -> int:
        async with session.get(self.url + path) as resp:
            await resp.read()
            return resp.status

    async def metrics(self, session: aiohttp.ClientSession) -> dict[str, float]:
        async with session.get(self.url + "/metrics") as resp:
            return parse_metrics(await resp.text())

    async def wait_ready(self, session: aiohttp.ClientSession, within: float = 180.0) -> float:
        """Wait for ``GET /ready`` 200; returns seconds since the process started."""
        deadline = time.perf_counter() + within
        while time.perf_counter() < deadline:
            if not self.alive():
                raise RuntimeError(f"worker {self.name} exited early:\n{self.tail()}")
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, OSError):
                if await self.get_status(session, "/ready") == 200:
                    return time.perf_counter() - self.started_at
            await asyncio.sleep(0.1)
        raise RuntimeError(f"worker {self.name} not ready after {within}s:\n{self.tail()}")


def _status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024  # kB
    raise RuntimeError(f"{name} not in /proc/{pid}/status")


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def broker_pid(repo: Path) -> int | None:
    try:
        pid = int((repo / ".kafka" / "kafka.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None
