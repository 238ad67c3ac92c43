"""Creating the service's topics: the worker and the simulator both make sure they exist.

A Faust worker does not create the (external) topics it consumes; started before them it
would silently get no partitions. So both sides create what is missing, with the configured
partition count (the org profiles topic compacted), and wait for partition leaders.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

__all__ = ["ensure_topics"]

_TOPIC_ALREADY_EXISTS = TopicAlreadyExistsError.errno

log = structlog.get_logger("engagement.kafka_admin")


async def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int,
    *,
    compacted: Collection[str] = (),
    wait_seconds: float = 30.0,
    security: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create the missing topics (replication factor 1; `compacted` ones with
    ``cleanup.policy=compact``) and wait until every partition has a leader.

    Existing topics are left alone (a creation race with another client is fine). Returns the
    names that were created. ``security``: ``engagement.kafka_security.aiokafka_kwargs(...)``.
    """
    wanted = list(dict.fromkeys(names))
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=10_000, **(security or {})
    )
    await admin.start()
    created: list[str] = []
    try:
        async with asyncio.timeout(wait_seconds):
            existing = set(await admin.list_topics())
            new = [
                NewTopic(
                    name,
                    partitions,
                    1,
                    topic_configs={"cleanup.policy": "compact"} if name in compacted else None,
                )
                for name in wanted
                if name not in existing
            ]
            if new:
                try:
                    response = await admin.create_topics(new, timeout_ms=10_000)
                except TopicAlreadyExistsError:
                    response = None
                for error in getattr(response, "topic_errors", None) or []:
                    name, code = error[0], error[1]
                    if code == 0:
                        created.append(name)
                    elif code != _TOPIC_ALREADY_EXISTS:
                        raise RuntimeError(f"cannot create topic {name!r}: error code {code}")
            await _wait_for_leaders(admin, wanted)
            if created:  # let the new leaders reach every broker's metadata cache
                await asyncio.sleep(0.5)
    finally:
        await admin.close()
    if created:
        log.info("topics created", topics=created, partitions=partitions)
    return created


async def _wait_for_leaders(admin: AIOKafkaAdminClient, names: list[str]) -> None:
    while True:
        described = await admin.describe_topics(names)
        ready = len(described) == len(names) and all(
            info.get("error_code", 1) == 0
            and info.get("partitions")
            and all(p.get("leader", -1) >= 0 for p in info["partitions"])
            for info in described
        )
        if ready:
            return
        await asyncio.sleep(0.2)
