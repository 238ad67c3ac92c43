"""Real-broker test harness: scorer workers as subprocesses, topics, producing, consuming.

Workers run as real processes (``python -m engagement_scorer worker``) so tests can kill them with
SIGKILL and restart them exactly as an operator would. Every test gets its own app id and
topic names, so tests never see each other's data on the shared broker.

The Kafka and worker pieces are the toolkit's (``tests/toolkit``, shared with the benchmark);
this module adds what is the suite's own: failing the test when the broker is missing, the
injected clock of its workers, and the comparisons of month closes with the batch.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

from engagement.domain import COMPONENTS, Figures, month_key_of, month_label
from engagement.events import MonthClosed, decode_output

from ..clock import TEST_NOW
from ..toolkit import (
    BOOTSTRAP,
    PARTITIONS,
    Topics,
    WorkerProcess,
    broker_unreachable,
    consume_all,
    consume_to_end,
    create_topics,
    free_port,
    produce,
    topic_size,
)

# the toolkit's pieces the tests import from here
__all__ = [
    "BOOTSTRAP",
    "PARTITIONS",
    "REPO",
    "Topics",
    "Worker",
    "assert_months_equal_batch",
    "consume_all",
    "consume_to_end",
    "create_topics",
    "free_port",
    "month_closes",
    "month_figures",
    "produce",
    "require_broker",
    "run",
    "topic_size",
    "unique_prefix",
    "wait_until",
]

REPO = Path(__file__).resolve().parents[2]


def require_broker() -> None:
    """Fail the test (not skip it) with the command to run when the broker is not there."""
    error = broker_unreachable(BOOTSTRAP)
    if error is not None:
        pytest.fail(
            f"Kafka broker not reachable at {BOOTSTRAP} ({error!r}): run `make kafka-up` "
            "(or `make test`, which starts and stops it)",
            pytrace=False,
        )


def month_figures(figures: Figures) -> dict[str, Any]:
    """A closed month of the batch (``BatchResult.closed_months``) as ``month_closes`` shows it."""
    return {
        "as_of": datetime.fromtimestamp(figures.as_of, UTC),
        "components": {
            c: (figures.components[c].numerator, figures.components[c].denominator)
            for c in COMPONENTS
        },
        "score": figures.score,
    }


def month_closes(messages: Iterable[Any]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """``engagement.monthly`` records as a consumer that deduplicates by CloudEvents id sees
    them: (org, month) -> the distinct events of that month, in topic order."""
    content_of: dict[str, bytes] = {}
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for m in messages:
        event = decode_output(m.key, m.value, m.headers)
        closed = event.data
        assert isinstance(closed, MonthClosed), f"not a month close: {event.type}"
        if event.id in content_of:
            assert content_of[event.id] == m.value, f"id {event.id} carries two contents"
            continue
        content_of[event.id] = m.value
        out.setdefault((closed.org_id, closed.month), []).append(
            {
                "as_of": closed.as_of,
                "components": {
                    c: (getattr(closed.components, c).numerator,
                        getattr(closed.components, c).denominator)
                    for c in COMPONENTS
                },
                "score": closed.engagement_score,
            }
        )  # fmt: skip
    return out


def assert_months_equal_batch(
    messages: Iterable[Any], closed_months: Mapping[str, list[Figures]]
) -> int:
    """Exactly one month close per (org, month) after deduplication by id, and each one's
    figures (every component's numerator and denominator, the score, the month's end) equal
    the batch recomputation's closed month. Returns the number of months."""
    expected = {
        (org, month_label(month_key_of(f.first_day))): month_figures(f)
        for org, months in closed_months.items()
        for f in months
    }
    got = month_closes(messages)
    several = {k: v for k, v in got.items() if len(v) != 1}
    assert not several, f"{len(several)} months published more than once: {several}"
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    assert (missing, extra) == ([], []), f"months missing {missing}, not in the batch {extra}"
    differ = {k: (got[k][0], e) for k, e in expected.items() if got[k][0] != e}
    assert not differ, f"{len(differ)} closed months differ, e.g. {next(iter(differ.items()))}"
    return len(expected)


def run(coro: Any) -> Any:
    return asyncio.get_event_loop().run_until_complete(coro)


@dataclass
class Worker(WorkerProcess):
    """One scorer worker process of a test: ``Worker(app_id, topics, tmp_path)``.

    On the suite's broker, scores debounced for 0.2 s (tests wait for them), and its clock
    starts at the suite's injected now, never at the machine's date and time of day (live
    clock, future-time checks). Waits fail the test with the log's tail.
    """

    failure: ClassVar[type[Exception]] = AssertionError
    stop_timeout: ClassVar[float] = 30.0

    def own_env(self) -> dict[str, str]:
        return {
            "ENGAGEMENT_EMIT_INTERVAL_SECONDS": "0.2",
            "ENGAGEMENT_CLOCK_START": TEST_NOW.isoformat(),
        }


def wait_until(predicate: Any, timeout: float = 60.0, interval: float = 0.3, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what or predicate} (last: {last!r})")


def unique_prefix() -> str:
    return "t" + uuid.uuid4().hex[:10]
