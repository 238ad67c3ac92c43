"""``engagement-scorer``: the worker command (also ``python -m engagement_scorer``).

Configuration comes only from the settings (``ENGAGEMENT_*``, ``.env``): the worker takes no
port, host or log-level options, so the address it listens on, the address it advertises to
the other workers (Faust's canonical URL) and the port in its settings are always the same.
``engagement-scorer --help`` lists every setting; ``--version`` prints the project's version.

    engagement-scorer                  # start a worker
    engagement-scorer worker           # the same (the word Faust's CLI used)

Before Faust starts, the topics the worker reads and writes (and its changelogs) are created
if missing (``ensure_topics``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from engagement.cli import parser as command_parser
from engagement.kafka_admin import TopicConfigError, check_topics, ensure_topics, service_topics
from engagement.kafka_security import KafkaSecurity, aiokafka_kwargs

from .local_state import reset_after_unclean_stop

if TYPE_CHECKING:
    from .context import WorkerContext

__all__ = ["build_parser", "ensure_worker_topics", "faust_argv", "main", "parse"]

log = structlog.get_logger("engagement_scorer.cli")

_DESCRIPTION = (
    "Start an engagement-score worker: it consumes the intranet activity and profile topics,\n"
    "keeps per-organisation state in Faust tables, publishes scores, monthly figures, level\n"
    "changes, alerts and benchmarks, and serves the query API, /metrics, /openapi.json and the\n"
    "organisation pages on ENGAGEMENT_WEB_HOST:ENGAGEMENT_WEB_PORT. Several workers with the\n"
    "same ENGAGEMENT_APP_ID share the partitions. Every option is a setting (below)."
)


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser("engagement-scorer", _DESCRIPTION)
    parser.add_argument(
        "command",
        nargs="?",
        choices=["worker"],
        default="worker",
        help="what to run (only `worker`, the default)",
    )
    return parser


def faust_argv(log_level: str) -> list[str]:
    """Faust's command line for a worker: the log level from the settings, nothing else (web
    host and port are in the app's configuration, from the same settings)."""
    return ["worker", "--loglevel", log_level]


def ensure_worker_topics(ctx: WorkerContext) -> None:
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


_FAUST_OPTIONS = {
    "-p": "ENGAGEMENT_WEB_PORT",
    "--web-port": "ENGAGEMENT_WEB_PORT",
    "-h": "ENGAGEMENT_WEB_HOST",
    "--web-host": "ENGAGEMENT_WEB_HOST",
    "-b": "ENGAGEMENT_WEB_HOST",
    "--web-bind": "ENGAGEMENT_WEB_HOST",
    "-l": "ENGAGEMENT_LOG_LEVEL",
    "--loglevel": "ENGAGEMENT_LOG_LEVEL",
    "-f": "ENGAGEMENT_DATA_DIR",
    "--datadir": "ENGAGEMENT_DATA_DIR",
    "-A": "ENGAGEMENT_APP_ID",
    "--app": "ENGAGEMENT_APP_ID",
}


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The command line, refusing Faust's own worker options with the setting to use instead
    (``-h`` is help here, as everywhere, not Faust's web host)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(list(argv))
    if extra:
        option = extra[0].split("=", 1)[0]
        setting = _FAUST_OPTIONS.get(option)
        hint = f"; set {setting} instead" if setting else ""
        parser.error(
            f"unrecognized arguments: {' '.join(extra)} (the worker is configured by the "
            f"ENGAGEMENT_* settings only, listed by --help{hint})"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Parse, build the app from the settings, create the topics, run Faust's worker."""
    parse(sys.argv[1:] if argv is None else argv)
    # imported here: --help and --version answer without importing Faust
    from .app import create_app

    ctx = create_app()
    conf = ctx.app.conf
    if reset_after_unclean_stop(Path(conf.appdir), Path(conf.tabledir)):
        log.warning(
            "local table stores removed: the last run did not stop cleanly, so they are "
            "rebuilt from the changelogs (docs/reliability.md)"
        )
    ensure_worker_topics(ctx)
    sys.argv = [sys.argv[0], *faust_argv(ctx.settings.log_level)]
    ctx.app.main()
    return 0
