"""Helpers of scripts/bench.py (and scripts/soak.py) on top of the shared Kafka toolkit.

Topics, admin, producing, worker processes and metrics are ``tests/toolkit``'s, the same code
the integration tests run; what is left here is the bench's own: its worker defaults, the
record builders (the one fast CloudEvents encoder, ``engagement.events.fast``) and finding the
broker's process for its CPU figures. The importing script puts the repository root on
``sys.path``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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
    "Topics",
    "Worker",
    "account_created_records",
    "broker_pid",
    "check_fast_path",
    "create_topics",
    "delete_topics_with_prefix",
    "proc_cpu_seconds",
    "produce",
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
