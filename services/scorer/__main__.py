"""``python -m scorer`` starts a worker (Faust CLI arguments are passed through)."""

from __future__ import annotations

import asyncio
import sys

from engagement.kafka_admin import ensure_topics

from .app import Scorer, create_app


def _ensure_topics(scorer: Scorer) -> None:
    """Create missing input/output topics first: Faust does not create the external topics
    it consumes, and a worker started before them would get no partitions."""
    s = scorer.settings
    names = [
        s.activity_topic,
        s.profiles_topic,
        s.dead_letter_topic,
        s.scores_topic,
        s.monthly_topic,
        s.level_changes_topic,
        s.alerts_topic,
        s.benchmarks_topic,
    ]
    asyncio.run(
        ensure_topics(s.kafka_bootstrap, names, s.topic_partitions, compacted=[s.profiles_topic])
    )


def main() -> None:
    scorer = create_app()
    argv = sys.argv[1:] or ["worker"]
    if argv[0] == "worker":
        _ensure_topics(scorer)
    if argv[0] == "worker" and not any(a.startswith(("-l", "--loglevel")) for a in argv):
        argv += ["--loglevel", scorer.settings.log_level]
    sys.argv = [sys.argv[0], *argv]
    scorer.app.main()


if __name__ == "__main__":
    main()
