"""The Kafka toolkit shared by the integration tests and the benchmark scripts.

One implementation of what both need against a real broker: a run's own topic set (named
after ``Settings.topic_names``), creating and deleting topics, producing and reading records,
scorer worker processes (start, stop, ``/ready``, HTTP GETs) and their Prometheus metrics.
The test harness (``tests/integration/harness.py``) adds pytest's view on top (fail with the
command to run, the suite's injected clock); ``scripts/bench_support.py`` adds the bench's
(record builders, memory and CPU figures of ``/proc``). Neither re-implements a piece of this.

Nothing here imports pytest: ``scripts/bench.py`` and ``scripts/soak.py`` import it with the
repository root on ``sys.path`` (pytest puts it there for the suite, as ``tests`` is a
package).
"""

from .kafka import (
    AT_ONCE,
    BOOTSTRAP,
    FAST,
    PARTITIONS,
    RELIABLE,
    Topics,
    broker_unreachable,
    consume_all,
    consume_to_end,
    create_topics,
    delete_topics_with_prefix,
    produce,
    produce_timed,
    topic_size,
)
from .metrics import Metrics, parse_metrics
from .worker import WorkerProcess, free_port, proc_cpu_seconds

__all__ = [
    "AT_ONCE",
    "BOOTSTRAP",
    "FAST",
    "PARTITIONS",
    "RELIABLE",
    "Metrics",
    "Topics",
    "WorkerProcess",
    "broker_unreachable",
    "consume_all",
    "consume_to_end",
    "create_topics",
    "delete_topics_with_prefix",
    "free_port",
    "parse_metrics",
    "proc_cpu_seconds",
    "produce",
    "produce_timed",
    "topic_size",
]
