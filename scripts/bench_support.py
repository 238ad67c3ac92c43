"""Helpers of scripts/bench.py (and scripts/soak.py) on top of the shared Kafka toolkit.

Topics, admin, producing, worker processes and metrics are ``tests/toolkit``'s, the same code
the integration tests run; what is left here is the bench's own: its worker defaults, the
record builders (the one fast CloudEvents encoder, ``engagement.events.fast``) and finding the
broker's process for its CPU figures. The importing script puts the repository root on
``sys.path``.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import pickle
import shutil
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from engagement.events import KafkaRecord, topics
from engagement.events.fast import encode_binary, fast_path_matches
from engagement.events.models import AccountCreated, Visit
from tests.toolkit import (
    FAST,
    PARTITIONS,
    Topics,
    WorkerProcess,
    create_topics,
    delete_topics_with_prefix,
    proc_cpu_seconds,
    produce_timed,
)

__all__ = [
    "PARTITIONS",
    "STARTED",
    "CpuSampler",
    "Topics",
    "Worker",
    "account_created_records",
    "broker_pid",
    "check_fast_path",
    "create_topics",
    "delete_topics_with_prefix",
    "load_records",
    "pin",
    "proc_cpu_seconds",
    "produce",
    "save_records",
    "visit_record",
]

#: Every worker started in this process, so the bench can make sure none is left running.
STARTED: list[Worker] = []

#: The record types the bench builds with ``encode_binary``.
FAST_PATH_SAMPLES = (
    (topics.ACCOUNT_CREATED_TYPE, AccountCreated(org_id="o", account_id="a")),
    (topics.VISIT_TYPE, Visit(org_id="o", account_id="a", client="web")),
)


# ------------------------------------------------------------------------------------------------
# worker processes
# ------------------------------------------------------------------------------------------------


@dataclass
class Worker(WorkerProcess):
    """A bench worker: named (its log and data dir, kept across a restart), on a table store
    the bench picks, scores debounced for 1 s as in production; registered in ``STARTED``."""

    store: str = "memory://"

    tail_lines: ClassVar[int] = 30

    def own_env(self) -> dict[str, str]:
        return {"ENGAGEMENT_STORE": self.store, "ENGAGEMENT_EMIT_INTERVAL_SECONDS": "1"}

    def banner(self) -> str:
        return f"===== bench: starting {self.label} ====="

    def start(self) -> Worker:
        super().start()
        STARTED.append(self)
        return self


def broker_pid(repo: Path) -> int | None:
    """The pid of the broker ``deploy/kafka/kafka.sh`` started (its ``KAFKA_DIR``, default
    ``<repo>/.kafka``), None when it is not running or not ours."""
    kafka_dir = Path(os.environ.get("KAFKA_DIR") or repo / ".kafka")
    try:
        pid = int((kafka_dir / "kafka.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if Path(f"/proc/{pid}").exists() else None


# ------------------------------------------------------------------------------------------------
# producing
# ------------------------------------------------------------------------------------------------


async def produce(bootstrap: str, topic: str, records: Iterable[KafkaRecord]) -> tuple[int, float]:
    """Produce as fast as possible; returns (records, seconds including the final flush)."""
    return await produce_timed(topic, records, bootstrap=bootstrap, options=FAST)


def check_fast_path() -> None:
    """Fail loudly if ``encode_binary`` no longer gives what ``encode_event`` gives for the
    bench's record types: the bench would measure records the service never sees."""
    if not fast_path_matches(FAST_PATH_SAMPLES):
        types = [type_ for type_, _ in FAST_PATH_SAMPLES]
        raise RuntimeError(
            f"engagement.events.fast.encode_binary differs from encode_event {types}"
        )


def account_created_records(prefix: str, orgs: int, per_org: int, t: int) -> Iterator[KafkaRecord]:
    """One ``account.created`` per account, round-robin over the organisations."""
    source = f"urn:bench:{prefix}"
    org_ids = [f"{prefix}-org-{i:05d}" for i in range(orgs)]
    for j in range(per_org):
        account_id = f"acc-{j:06d}"
        for org_id in org_ids:
            data = AccountCreated(org_id=org_id, account_id=account_id)
            yield encode_binary(
                topics.ACCOUNT_CREATED_TYPE,
                source,
                f"{org_id}|{account_id}",
                t,
                data.model_dump_json().encode(),
                org_id,
            )


def visit_record(org_id: str, account_id: str, t: int) -> KafkaRecord:
    data = Visit(org_id=org_id, account_id=account_id, client="web")
    return encode_binary(
        topics.VISIT_TYPE,
        "urn:bench:latency",
        f"{org_id}|{account_id}|visit",
        t,
        data.model_dump_json().encode(),
        org_id,
    )


# ------------------------------------------------------------------------------------------------
# pinning and CPU figures
# ------------------------------------------------------------------------------------------------


def pin(pid: int, cpus: int | Iterable[int] | None) -> bool:
    """Pin every thread of ``pid`` (``taskset -a -p -c``) to ``cpus``; threads it starts later
    inherit it. False when not pinned (no ``cpus``, no taskset, or it failed)."""
    if cpus is None or shutil.which("taskset") is None:
        return False
    cpu_list = str(cpus) if isinstance(cpus, int) else ",".join(str(c) for c in sorted(cpus))
    done = subprocess.run(
        ["taskset", "-a", "-p", "-c", cpu_list, str(pid)], capture_output=True, check=False
    )
    return done.returncode == 0


@dataclass
class CpuSampler:
    """CPU seconds of some processes sampled every ``interval`` against Unix time, so the CPU
    over a window known only afterwards (the worker's own first/last record times) can be read
    by interpolation. Reading ``/proc`` costs the sampled processes nothing."""

    pids: dict[str, int]
    interval: float = 0.05
    times: list[float] = field(default_factory=list)
    samples: dict[str, list[float]] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def sample(self) -> None:
        self.times.append(time.time())
        for name, pid in self.pids.items():
            self.samples.setdefault(name, []).append(proc_cpu_seconds(pid))

    async def _run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self.interval)

    def start(self) -> CpuSampler:
        self.sample()
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self.sample()

    def at(self, name: str, t: float) -> float:
        """CPU seconds of ``name`` at Unix time ``t`` (linear between samples)."""
        values, times = self.samples[name], self.times
        i = bisect.bisect_left(times, t)
        if i <= 0:
            return values[0]
        if i >= len(times):
            return values[-1]
        t0, t1 = times[i - 1], times[i]
        w = (t - t0) / (t1 - t0) if t1 > t0 else 1.0
        return values[i - 1] + w * (values[i] - values[i - 1])

    def between(self, name: str, t0: float, t1: float) -> float:
        return self.at(name, t1) - self.at(name, t0)


# ------------------------------------------------------------------------------------------------
# the bench's record cache
# ------------------------------------------------------------------------------------------------


def save_records(path: Path, profiles: list[KafkaRecord], activity: list[KafkaRecord]) -> None:
    """Write the generated records (pickle of plain tuples; the file is the bench's own,
    under artifacts/, never read from elsewhere)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        for records in (profiles, activity):
            pickle.dump([(r.key, r.value, r.headers) for r in records], out, protocol=5)
    tmp.replace(path)


def load_records(path: Path) -> tuple[list[KafkaRecord], list[KafkaRecord]]:
    with open(path, "rb") as src:
        profiles = [KafkaRecord(k, v, h) for k, v, h in pickle.load(src)]
        activity = [KafkaRecord(k, v, h) for k, v, h in pickle.load(src)]
    return profiles, activity
