"""A thin aiokafka producer for simulated records, and topic creation.

Records are sent with their key (the org_id), so Kafka's default partitioner puts every event of
an organisation on the same partition, in order. Sending is bounded: at most `max_in_flight`
unacknowledged records, and every acknowledgement is awaited with a timeout. The simulator only
talks to a local broker unless told otherwise (`allow_remote=True`), so a stray
``ENGAGEMENT_KAFKA_BOOTSTRAP`` cannot fill someone's production cluster with fake tenants.
"""

from __future__ import annotations

import asyncio
import ipaddress
import sys
import time
from collections import deque
from collections.abc import Collection, Iterable, Sized
from types import TracebackType
from typing import Any, TextIO

import structlog
from aiokafka import AIOKafkaProducer
from tqdm import tqdm

from engagement.events import KafkaRecord
from engagement.kafka_admin import ensure_topics as _ensure_topics

__all__ = ["Producer", "check_bootstrap", "ensure_topics", "produce"]

log = structlog.get_logger("simulator")


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bootstrap(bootstrap: str, *, allow_remote: bool = False) -> str:
    """Validate `host:port[,host:port]`; refuse non-loopback hosts unless `allow_remote`."""
    hosts = []
    for part in bootstrap.split(","):
        part = part.strip()
        if not part:
            continue
        host, sep, port = part.rpartition(":")
        if not sep or not port.isdigit() or not host:
            raise ValueError(f"bootstrap address {part!r} is not host:port")
        hosts.append(host.strip("[]"))
    if not hosts:
        raise ValueError("empty bootstrap address")
    remote = [h for h in hosts if not _is_loopback(h)]
    if remote and not allow_remote:
        raise ValueError(
            f"refusing to produce simulated traffic to non-loopback host(s) {remote}; "
            "pass allow_remote=True (--allow-remote) if that is really intended"
        )
    return bootstrap


def _progress_bar(label: str, total: int | None, enabled: bool, stream: TextIO) -> tqdm[Any]:
    """tqdm's one-line bar (count, rate, ETA) on a terminal; disabled (silent) otherwise."""
    return tqdm(
        total=total,
        desc=label,
        unit=" records",
        mininterval=0.2,
        file=stream,
        disable=not (enabled and stream.isatty()),
        leave=True,
    )


class Producer:
    """An async context manager around one ``AIOKafkaProducer`` (acks=all)."""

    def __init__(
        self,
        bootstrap: str,
        *,
        allow_remote: bool = False,
        max_in_flight: int = 5_000,
        ack_timeout: float = 60.0,
    ) -> None:
        self.bootstrap = check_bootstrap(bootstrap, allow_remote=allow_remote)
        self.max_in_flight = max_in_flight
        self.ack_timeout = ack_timeout
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            acks="all",
            linger_ms=5,
            max_batch_size=256 * 1024,
            request_timeout_ms=30_000,
            client_id="engagement-simulator",
        )

    async def __aenter__(self) -> Producer:
        await self._producer.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._producer.stop()

    async def send_all(
        self,
        records: Iterable[KafkaRecord],
        topic: str,
        *,
        rate: float | None = None,
        progress: bool = False,
        label: str | None = None,
    ) -> int:
        """Send `records` in order and wait until all are acknowledged; returns the count.

        `rate` (records per second) paces the sending; None sends as fast as the broker takes.
        """
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        total = len(records) if isinstance(records, Sized) else None
        bar = _progress_bar(label or topic, total, progress, sys.stderr)
        pending: deque[asyncio.Future[Any]] = deque()
        started = time.monotonic()
        sent = 0
        try:
            for record in records:
                if rate is not None:
                    ahead = started + sent / rate - time.monotonic()
                    if ahead > 0:
                        await asyncio.sleep(ahead)
                future = await self._producer.send(
                    topic, value=record.value, key=record.key, headers=record.headers
                )
                pending.append(future)
                sent += 1
                if len(pending) >= self.max_in_flight:
                    await self._settle(pending, keep=self.max_in_flight // 2)
                bar.update(1)
            await self._settle(pending, keep=0)
        finally:
            bar.close()
        return sent

    async def _settle(self, pending: deque[asyncio.Future[Any]], keep: int) -> None:
        """Await acknowledgements (oldest first) until at most `keep` are outstanding."""
        while len(pending) > keep:
            await asyncio.wait_for(pending.popleft(), timeout=self.ack_timeout)


async def produce(
    records: Iterable[KafkaRecord],
    bootstrap: str,
    topic: str,
    *,
    rate: float | None = None,
    progress: bool = False,
    allow_remote: bool = False,
) -> int:
    """Produce `records` to `topic` (acks=all, keyed) and return how many were acknowledged."""
    async with Producer(bootstrap, allow_remote=allow_remote) as producer:
        return await producer.send_all(records, topic, rate=rate, progress=progress)


async def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int,
    *,
    compacted: Collection[str] = (),
    allow_remote: bool = False,
    wait_seconds: float = 30.0,
) -> list[str]:
    """:func:`engagement.kafka_admin.ensure_topics`, refusing non-loopback brokers unless
    ``allow_remote``: the simulator never writes to someone else's cluster by accident."""
    check_bootstrap(bootstrap, allow_remote=allow_remote)
    return await _ensure_topics(
        bootstrap, names, partitions, compacted=compacted, wait_seconds=wait_seconds
    )
