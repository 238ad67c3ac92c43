"""Creating the service's topics and checking the broker's: the worker and the simulator both
make sure they exist.

A Faust worker does not create the (external) topics it consumes; started before them it
would silently get no partitions. So both sides create what is missing, with the configured
partition count, and wait for partition leaders.

What each topic of the service needs (``service_topics``: replication factor,
``min.insync.replicas``, cleanup policy and retention; README.md, "Operations") is created
when missing, and checked at start-up against what the broker actually has
(``check_topics``, DescribeConfigs): a topic made by hand or by an older version with other
settings is a clear error naming the topic, the setting, the broker's value and the expected
one, not a silent loss of redundancy or of the monthly figures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import TopicAlreadyExistsError

if TYPE_CHECKING:
    from .settings import Settings

__all__ = [
    "TopicConfigError",
    "TopicSpec",
    "check_topics",
    "ensure_topics",
    "mismatches",
    "service_topics",
]

DAY_MS = 86_400_000
#: Kafka's "keep forever" for retention.ms / retention.bytes.
FOREVER = "-1"

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
    replication_factor: int = 1,
    configs: Mapping[str, Mapping[str, str]] | None = None,
) -> list[str]:
    """Create the missing topics (``replication_factor``; `compacted` ones with
    ``cleanup.policy=compact``; ``configs``: per topic name, topic configs to create it with)
    and wait until every partition has a leader.

    Existing topics are left alone (a creation race with another client is fine; see
    ``check_topics`` for what they should be). Returns the names that were created.
    ``security``: ``engagement.kafka_security.aiokafka_kwargs(...)``.
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
                    replication_factor,
                    topic_configs=_creation_configs(name, compacted, configs) or None,
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


def _creation_configs(
    name: str, compacted: Collection[str], configs: Mapping[str, Mapping[str, str]] | None
) -> dict[str, str]:
    out = {"cleanup.policy": "compact"} if name in compacted else {}
    out.update((configs or {}).get(name, {}))
    return out


# ------------------------------------------------------------------------------------------------
# what each topic needs, and the check against the broker
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic of the service and what it needs: ``configs`` are created with and checked;
    ``replication_factor`` is created with and, unless ``check_replication`` is off (input
    topics belong to the platforms that produce them), checked."""

    name: str
    replication_factor: int
    configs: Mapping[str, str] = field(default_factory=dict)
    check_replication: bool = True


def _retention_ms(days: int) -> str:
    return FOREVER if days < 0 else str(days * DAY_MS)


def service_topics(
    settings: Settings, internal: Iterable[str] = (), changelogs: Iterable[str] = ()
) -> list[TopicSpec]:
    """Every topic of the service with what it needs (README.md, "Operations"):

    - inputs (activity; org profiles compacted: the latest profile per organisation);
    - ``engagement.scores`` compacted (the latest figures per organisation; records younger
      than 7 days are never compacted, so the second stage reading it misses none) and
      ``engagement.benchmarks`` compacted (the latest quartiles per peer group);
    - ``engagement.monthly`` kept forever (retention -1, time and size): the official
      monthly figures;
    - ``engagement.alerts``, ``engagement.level-changes`` and the dead-letter topic with their
      configured retention;
    - ``internal`` topics (peer figures, clock) and the table ``changelogs`` (compacted).

    Every one is created with ``topic_replication_factor``; all but the inputs are checked for
    it and get ``topic_min_insync_replicas`` when set (the producers write with ``acks=all``).
    """
    s = settings
    rf = s.topic_replication_factor
    if s.topic_min_insync_replicas is not None and s.topic_min_insync_replicas > rf:
        raise ValueError(
            f"ENGAGEMENT_TOPIC_MIN_INSYNC_REPLICAS={s.topic_min_insync_replicas} is more than "
            f"ENGAGEMENT_TOPIC_REPLICATION_FACTOR={rf}: no write could ever be acknowledged"
        )
    isr = (
        {"min.insync.replicas": str(s.topic_min_insync_replicas)}
        if s.topic_min_insync_replicas is not None
        else {}
    )
    compact = {"cleanup.policy": "compact"}

    def kept(days: int) -> dict[str, str]:
        return {"cleanup.policy": "delete", "retention.ms": _retention_ms(days)}

    def own(name: str, configs: Mapping[str, str]) -> TopicSpec:
        return TopicSpec(name, rf, {**configs, **isr})

    return [
        # inputs: produced by the platforms; created if missing, only the profiles' compaction
        # is checked (the service reads every organisation's latest profile)
        TopicSpec(s.activity_topic, rf, {}, check_replication=False),
        TopicSpec(s.profiles_topic, rf, compact, check_replication=False),
        own(s.dead_letter_topic, kept(s.dead_letter_retention_days)),
        # compacted, but no record younger than a week is compacted away: the second stage
        # (levels, alerts) reads every score unless it is a week behind
        own(s.scores_topic, {**compact, "min.compaction.lag.ms": str(7 * DAY_MS)}),
        own(s.monthly_topic, {**kept(-1), "retention.bytes": FOREVER}),
        own(s.level_changes_topic, kept(s.level_changes_retention_days)),
        own(s.alerts_topic, kept(s.alerts_retention_days)),
        own(s.benchmarks_topic, compact),
        *(own(name, {}) for name in internal),
        *(own(name, compact) for name in changelogs),
    ]


class TopicConfigError(RuntimeError):
    """The broker's topics differ from what the service needs (``problems``: one line each)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            "the broker's topic configuration differs from the service's settings:\n  "
            + "\n  ".join(self.problems)
            + "\nAlter the topics (kafka-configs.sh --alter --entity-type topics ...; the "
            "replication factor with kafka-reassign-partitions.sh) or change the settings "
            "(ENGAGEMENT_TOPIC_REPLICATION_FACTOR, ENGAGEMENT_TOPIC_MIN_INSYNC_REPLICAS, "
            "ENGAGEMENT_*_RETENTION_DAYS); ENGAGEMENT_TOPIC_CONFIG_CHECK=warn starts anyway."
        )


def _normalise(key: str, value: str | None) -> str | None:
    if value is not None and key == "cleanup.policy":
        return ",".join(sorted(v.strip() for v in value.split(",")))
    return value


def mismatches(
    specs: Iterable[TopicSpec],
    actual: Mapping[str, tuple[int, Mapping[str, str | None]]],
) -> list[str]:
    """What differs between ``specs`` and the broker (``actual``: topic -> (replication
    factor, configs)); a topic missing from ``actual`` is reported too."""
    problems = []
    for spec in specs:
        found = actual.get(spec.name)
        if found is None:
            problems.append(f"{spec.name}: missing on the broker")
            continue
        replicas, configs = found
        if spec.check_replication and replicas != spec.replication_factor:
            problems.append(
                f"{spec.name}: replication factor is {replicas}, expected {spec.replication_factor}"
            )
        for key, want in sorted(spec.configs.items()):
            have = configs.get(key)
            if _normalise(key, have) != _normalise(key, want):
                problems.append(f"{spec.name}: {key} is {have}, expected {want}")
    return problems


async def describe(
    admin: AIOKafkaAdminClient, names: Sequence[str], keys: Collection[str], wait_seconds: float
) -> dict[str, tuple[int, dict[str, str | None]]]:
    """Topic -> (replication factor, the ``keys`` configs) as the broker has them (topics it
    does not know are left out). Retries while a just-created topic is not known yet."""
    out: dict[str, tuple[int, dict[str, str | None]]] = {}
    deadline = asyncio.get_running_loop().time() + wait_seconds
    pending = list(names)
    while pending:
        described = {info.get("topic"): info for info in await admin.describe_topics(pending)}
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name) for name in pending]
        )
        retry = []
        for response in responses:
            for error_code, _message, _type, name, entries in response.resources:
                info = described.get(name) or {}
                partitions = info.get("partitions") or []
                if error_code != 0 or not partitions:
                    retry.append(name)
                    continue
                replicas = min(len(p.get("replicas") or []) for p in partitions)
                configs = {entry[0]: entry[1] for entry in entries if entry[0] in keys}
                out[name] = (replicas, configs)
        if not retry or asyncio.get_running_loop().time() > deadline:
            break
        pending = retry
        await asyncio.sleep(0.5)
    return out


async def check_topics(
    bootstrap: str,
    specs: Sequence[TopicSpec],
    *,
    security: Mapping[str, Any] | None = None,
    wait_seconds: float = 30.0,
) -> list[str]:
    """The differences between ``specs`` and the broker's topics (empty: all as needed)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=10_000, **(security or {})
    )
    await admin.start()
    try:
        keys = {key for spec in specs for key in spec.configs}
        actual = await describe(admin, [s.name for s in specs], keys, wait_seconds)
    finally:
        await admin.close()
    return mismatches(specs, actual)


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
