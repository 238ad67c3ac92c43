"""``python -m engagement_scorer`` starts a worker (Faust CLI arguments are passed through)."""

from __future__ import annotations

import asyncio
import sys

import structlog

from engagement.kafka_admin import TopicConfigError, check_topics, ensure_topics, service_topics
from engagement.kafka_security import KafkaSecurity, aiokafka_kwargs

from .app import create_app
from .context import WorkerContext

log = structlog.get_logger("scorer")


def _ensure_topics(ctx: WorkerContext) -> None:
    """Create missing topics first, and wait for their leaders; then check that every topic
    on the broker has the replication, min.insync.replicas, cleanup policy and retention the
    settings ask for (``engagement.kafka_admin.service_topics``).

    Faust does not create the external topics it consumes (a worker started before them
    would get no partitions), and the internal ones (changelogs, the peer topic) it creates
    can still be missing from the cluster metadata when its partition assignor runs on a busy
    machine: it then ignores them and never recovers. Created here, they are all there.
    """
    s = ctx.settings
    changelogs = [t.changelog_topic.get_topic_name() for t in ctx.app.tables.values()]
    internal = [ctx.topics.peer.get_topic_name(), ctx.topics.clock.get_topic_name()]
    specs = service_topics(s, internal, changelogs)
    security = aiokafka_kwargs(KafkaSecurity.from_settings(s))
    asyncio.run(
        ensure_topics(
            s.kafka_bootstrap,
            [spec.name for spec in specs],
            s.topic_partitions,
            security=security,
            replication_factor=s.topic_replication_factor,
            configs={spec.name: spec.configs for spec in specs},
        )
    )
    if s.topic_config_check == "off":
        return
    problems = asyncio.run(check_topics(s.kafka_bootstrap, specs, security=security))
    if problems and s.topic_config_check == "fail":
        log.error("topic configuration differs, not starting", problems=problems)
        raise SystemExit(str(TopicConfigError(problems)))
    for problem in problems:
        log.warning("topic configuration differs", problem=problem)


def main() -> None:
    ctx = create_app()
    argv = sys.argv[1:] or ["worker"]
    if argv[0] == "worker":
        _ensure_topics(ctx)
    if argv[0] == "worker" and not any(a.startswith(("-l", "--loglevel")) for a in argv):
        argv += ["--loglevel", ctx.settings.log_level]
    sys.argv = [sys.argv[0], *argv]
    ctx.app.main()


if __name__ == "__main__":
    main()
