"""The history against the real broker: the day-end and closed-month figures the API serves
equal the batch recomputation's, day by day and month by month, after a normal run, after a
SIGKILL and restart mid-stream (the history is rebuilt from its changelogs), and after a
failover (two workers, one killed mid-stream: the survivor serves the whole history). The
breakdowns equal the batch's in each case too. CSV export, advice and problem+json errors
through the same endpoints.
"""

from __future__ import annotations

import contextlib
import csv
import io
import time
import urllib.error
import urllib.request
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from engagement.domain import COMPONENTS, Component, month_label
from engagement.domain.advice import advise
from engagement.settings import Settings
from engagement_scorer.batch import recompute, timezones_from
from engagement_scorer.history_views import CSV_COLUMNS
from engagement_simulator.traffic import generate

from ..clock import TEST_NOW
from .harness import BOOTSTRAP, Topics, Worker, create_topics, produce, unique_prefix, wait_until
from .test_reliability import processed, profiles_applied

pytestmark = pytest.mark.kafka

END = TEST_NOW - timedelta(hours=1)
LOG = generate(
    seed=16, orgs=12, days=40, end=END, duplicates=0.03, disorder=0.05, accounts_per_org=(8, 25)
)
BATCH = recompute(LOG.activity, Settings().scoring_rules(), timezones_from(LOG.profiles))
#: org -> {"days": {date: figures}, "months": {YYYY-MM: figures}}, without the moment
EXPECTED = {
    org: {
        "days": {
            date.fromordinal(d).isoformat(): p.comparable()
            for d, p in BATCH.history_days[org].items()
        },
        "months": {
            month_label(k): p.comparable() for k, p in BATCH.history_months.get(org, {}).items()
        },
    }
    for org in BATCH.history_days
}
FAILOVER_ENV = {
    "ENGAGEMENT_STANDBY_REPLICAS": "1",
    "ENGAGEMENT_STORE": "rocksdb://",
    "BROKER_SESSION_TIMEOUT": "10",
    "BROKER_HEARTBEAT_INTERVAL": "1",
}


def comparable(point: dict[str, Any]) -> tuple[Any, ...]:
    """An API point as ``HistoryPoint.comparable``: exact figures, score, level."""
    out: list[Any] = []
    for name in COMPONENTS:
        out += [point["components"][name]["numerator"], point["components"][name]["denominator"]]
    return (*out, point["engagement_score"], point["level"], point["level_confidence"])


def api_history(worker: Worker, orgs: Any = None) -> dict[str, Any]:
    got: dict[str, Any] = {}
    for org in orgs or EXPECTED:
        with contextlib.suppress(OSError, ValueError):
            entry = {}
            for granularity, name in (("day", "days"), ("month", "months")):
                status, body = worker.get(f"/orgs/{org}/history?granularity={granularity}")
                if status != 200:
                    break
                entry[name] = {p["period"]: comparable(p) for p in body["points"]}
            else:
                got[org] = entry
    return got


def api_breakdowns(worker: Worker) -> dict[str, Any]:
    got: dict[str, Any] = {}
    for org in BATCH.breakdowns:
        with contextlib.suppress(OSError, ValueError):
            status, body = worker.get(f"/orgs/{org}/breakdowns")
            if status == 200:
                body.pop("org_id")
                got[org] = body
    return got


def assert_history_equals_batch(worker: Worker, timeout: float = 180) -> None:
    try:
        wait_until(
            lambda: api_history(worker) == EXPECTED,
            timeout=timeout,
            interval=1.0,
            what="history = batch",
        )
    finally:
        got = api_history(worker)
        differ = {o: (got.get(o), e) for o, e in EXPECTED.items() if got.get(o) != e}
        assert not differ, f"{len(differ)} orgs differ, e.g. {next(iter(differ.items()), None)}"
    try:
        wait_until(
            lambda: api_breakdowns(worker) == BATCH.breakdowns,
            timeout=60,
            interval=1.0,
            what="breakdowns = batch",
        )
    finally:
        got = api_breakdowns(worker)
        differ = {o: (got.get(o), e) for o, e in BATCH.breakdowns.items() if got.get(o) != e}
        assert not differ, (
            f"breakdowns of {len(differ)} orgs differ: {next(iter(differ.items()), None)}"
        )


def raw_get(worker: Worker, path: str, accept: str | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(worker.url + path, headers={"Accept": accept or "*/*"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.headers.get_content_type(), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get_content_type(), err.read().decode()


async def start(topics: Topics, tmp_path: Path, workers: list[Worker], n: int = 1) -> list[Worker]:
    await create_topics(topics.all(), bootstrap=BOOTSTRAP)
    env = FAILOVER_ENV if n > 1 else {}
    started = []
    for _ in range(n):
        worker = Worker("hist-" + topics.prefix, topics, tmp_path, extra_env=env).start()
        workers.append(worker)
        worker.wait_ready()
        started.append(worker)
    for worker in started:
        worker.wait_ready()
    await produce(topics.profiles, LOG.profiles, bootstrap=BOOTSTRAP)
    wait_until(lambda: profiles_applied(*started) >= len(LOG.profiles), what="profiles applied")
    return started


def test_the_log_closes_a_month_for_every_org_and_spans_weeks() -> None:
    assert len(EXPECTED) == 12
    for org, entry in EXPECTED.items():
        assert len(entry["days"]) >= 25, org
        assert entry["months"], org  # the log spans a month end


async def test_history_equals_batch_and_exports_as_csv(
    topics: Topics, workers: list[Worker], tmp_path: Path
) -> None:
    (worker,) = await start(topics, tmp_path, workers)
    await produce(topics.activity, LOG.activity, bootstrap=BOOTSTRAP)
    wait_until(lambda: processed(worker) >= len(LOG.activity), timeout=300, what="all consumed")
    assert_history_equals_batch(worker)

    org = sorted(EXPECTED)[0]
    days = sorted(EXPECTED[org]["days"])
    lo, hi = days[2], days[8]
    for path, accept in (
        (f"/orgs/{org}/history?from={lo}&to={hi}&format=csv", None),
        (f"/orgs/{org}/history?from={lo}&to={hi}", "text/csv"),
    ):
        status, content_type, text = raw_get(worker, path, accept)
        assert (status, content_type) == (200, "text/csv")
        rows = list(csv.DictReader(io.StringIO(text)))
        assert list(rows[0]) == list(CSV_COLUMNS)
        assert [r["period"] for r in rows] == [d for d in days if lo <= d <= hi]
        for row in rows:
            expected = EXPECTED[org]["days"][row["period"]]
            numbers = []
            for name in COMPONENTS:
                numbers += [int(row[f"{name}_numerator"]), int(row[f"{name}_denominator"])]
            assert tuple(numbers) == expected[: 2 * len(COMPONENTS)]
            assert row["level"] == expected[-2]
    status, content_type, text = raw_get(
        worker, f"/orgs/{org}/history?granularity=month&format=csv"
    )
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["period"] for r in rows] == sorted(EXPECTED[org]["months"])

    status, content_type, _ = raw_get(worker, "/orgs/no-such-org/history")
    assert (status, content_type) == (404, "application/problem+json")
    for endpoint in ("advice", "breakdowns"):
        status, content_type, _ = raw_get(worker, f"/orgs/no-such-org/{endpoint}")
        assert (status, content_type) == (404, "application/problem+json")
    # advice: the domain's advice on the served figures, for every organisation with a target
    with_target = 0
    for name in EXPECTED:
        _, score = worker.get(f"/orgs/{name}/score")
        _, advice = worker.get(f"/orgs/{name}/advice")
        figures = {
            c: Component(score["components"][c]["numerator"], score["components"][c]["denominator"])
            for c in COMPONENTS
        }
        expected_advice = advise(figures, score["target_level"], score["operating_level"])
        assert [a["text"] for a in advice["advice"]] == [a.text for a in expected_advice]
        with_target += score["target_level"] is not None
    assert with_target
    status, content_type, text = raw_get(worker, f"/orgs/{org}/history?granularity=week")
    assert (status, content_type) == (400, "application/problem+json")
    assert "granularity" in text


async def test_history_survives_a_sigkill_mid_stream(workers: list[Worker], tmp_path: Path) -> None:
    topics = Topics(unique_prefix())
    (worker,) = await start(topics, tmp_path, workers)
    # most of the log, the rest after the kill: the kill is mid-stream however fast it reads
    total = len(LOG.activity)
    head = int(0.7 * total)
    await produce(topics.activity, LOG.activity[:head], bootstrap=BOOTSTRAP)
    wait_until(lambda: processed(worker) >= 0.5 * total, timeout=300, what="half consumed")
    done = processed(worker)
    worker.kill()
    await produce(topics.activity, LOG.activity[head:], bootstrap=BOOTSTRAP)
    assert done < total, "the stream was over before the kill"
    worker.start()
    worker.wait_ready(timeout=180)
    assert_history_equals_batch(worker)


async def test_history_equals_batch_after_a_failover(workers: list[Worker], tmp_path: Path) -> None:
    topics = Topics(unique_prefix())
    first, second = await start(topics, tmp_path, workers, n=2)
    total = len(LOG.activity)
    head = int(0.7 * total)
    await produce(topics.activity, LOG.activity[:head], bootstrap=BOOTSTRAP)
    wait_until(
        lambda: (
            min(processed(first), processed(second)) > 0
            and processed(first) + processed(second) >= 0.4 * total
        ),
        timeout=120,
        what="both workers consuming, 40% done",
    )
    done = processed(first) + processed(second)
    second.kill()
    await produce(topics.activity, LOG.activity[head:], bootstrap=BOOTSTRAP)
    assert done < total, "the stream was over before the kill"
    killed = time.monotonic()
    assert_history_equals_batch(first)
    print(f"history = batch on the survivor {time.monotonic() - killed:.1f} s after the kill")
