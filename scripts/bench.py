"""Benchmark of the scorer worker against the real broker (`make bench`).

Each run (``--runs``, default 3; the table gives the median and the min-max of each figure):

1. throughput: the same N realistic activity events (default 1,000,000; generated once by the
   simulator and cached under ``artifacts/bench-records/`` by seed and count) in a fresh
   4-partition topic, read first by a bare aiokafka consumer (``json.loads`` of every value, its
   own process) and then by the scorer worker. Both consumers are pinned (``taskset``) to one
   core, the broker to the other, this script to the broker's core. Events/s of the bare
   consumer from its own first to last record; of the worker from its own first and last
   record timestamps (``engagement_activity_{first,last}_record_timestamp_seconds``), read once
   at the end; the ratio within the run. CPU µs per event: the bare consumer's
   ``time.process_time`` around its loop; the worker's and the broker's ``/proc/<pid>/stat``
   utime+stime sampled every 50 ms and interpolated at the worker's first/last record times.
   Changelog records and bytes per event, fast-decoder hit rate and the batch-size histogram
   from the worker's counters. Then the check: every organisation's figures from the API equal
   the batch recomputation (``engagement_scorer.batch.recompute``) over the same records, and
   the dead-letter count equals the batch's rejected + late records; a mismatch fails the run.
2. latency: into that worker, background visits at half the scorer rate just measured plus
   probe visits of new accounts of one organisation at ``--latency-rate``; for each probe, the
   time from the produce call to the first ``GET /orgs/{org}/score`` whose
   ``components.reach.denominator`` includes it.
3. memory (per table store): a fresh worker takes in one ``account.created`` per account
   (``--accounts``); (RSS after - RSS before) / accounts; then a restart (SIGTERM, same app id
   and data dir) and the seconds from process start until ``/ready`` is 200 and
   ``engagement_tracked_accounts`` is back at the account count.
4. standby: two workers (two processes, same app id, one standby replica each); events only
   to the partitions one of them owns; the other's CPU over the window (minus its idle CPU)
   per event the active one applied.

Prints a table and writes ``artifacts/bench.json``; exits 1 when a run fails a check. Every
topic it creates starts with a unique ``bench-<hex>`` prefix (app ids too, so the changelog
topics as well) and is deleted at the end unless ``--keep-topics``. Run from the repo root with
the venv's python (scripts/bench.sh).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import math
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# the repository root for the shared Kafka toolkit (tests/toolkit), like pytest has it
sys.path[:0] = [str(REPO), str(REPO / "scripts"), str(REPO / "shared"), str(REPO / "services")]

import aiohttp  # noqa: E402
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition  # noqa: E402
from aiokafka.partitioner import DefaultPartitioner  # noqa: E402
from bench_support import (  # noqa: E402
    PARTITIONS,
    STARTED,
    CpuSampler,
    Topics,
    Worker,
    account_created_records,
    broker_pid,
    check_fast_path,
    create_topics,
    delete_topics_with_prefix,
    load_records,
    pin,
    produce,
    save_records,
    visit_record,
)

from engagement.events import KafkaRecord  # noqa: E402
from tests.toolkit import Metrics  # noqa: E402

PROCESSED = "engagement_events_processed_total"
DEAD_LETTERED = "engagement_events_dead_lettered_total"
TRACKED = "engagement_tracked_accounts"
RECOVERY = "engagement_state_recovery_seconds"
RECORDS = "engagement_activity_records_total"
FIRST_RECORD = "engagement_activity_first_record_timestamp_seconds"
LAST_RECORD = "engagement_activity_last_record_timestamp_seconds"
CHANGELOG_RECORDS = "engagement_changelog_records_total"
CHANGELOG_BYTES = "engagement_changelog_bytes_total"
DECODED = "engagement_activity_decoded_total"
BATCH_RECORDS = "engagement_activity_batch_records"

TARGET_RATIO = 0.2
GOAL_RATIO = 0.5
TARGET_P99_S = 0.25
TARGET_BYTES_PER_ACCOUNT = 256
TARGET_RECOVERY_S = 30.0

MiB = 1024 * 1024


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ------------------------------------------------------------------------------------------------
# results: figures per run, a table of median and spread
# ------------------------------------------------------------------------------------------------


def _int(v: float) -> str:
    return f"{v:,.0f}"


def _f1(v: float) -> str:
    return f"{v:,.1f}"


def _f3(v: float) -> str:
    return f"{v:.3f}"


def _pct(v: float) -> str:
    return f"{v:.1%}"


def _ms(v: float) -> str:
    return f"{v * 1000:,.1f}"


@dataclass(frozen=True)
class Figure:
    key: str
    phase: str
    label: str
    fmt: Callable[[float], str]
    target: str = ""
    ok: Callable[[float], bool] | None = None


#: Every figure a run can report, in table order (a run that skips a phase leaves them out).
FIGURES = [
    Figure("events", "throughput", "activity events (same topic for both)", _int),
    Figure("bare_eps", "throughput", "bare aiokafka consumer + json.loads (ev/s)", _int),
    Figure("bare_cpu_us", "throughput", "  bare CPU per event (µs)", _f1),
    Figure("scorer_eps", "throughput", "scorer worker (ev/s)", _int),
    Figure("scorer_cpu_us", "throughput", "  worker CPU per event (µs)", _f1),
    Figure("worker_cpu_share", "throughput", "  worker CPU share while processing", _pct),
    Figure("broker_cpu_share", "throughput", "  broker CPU share while processing", _pct),
    Figure(
        "ratio",
        "throughput",
        "ratio scorer / bare (within each run)",
        _f3,
        f">= {TARGET_RATIO} (goal {GOAL_RATIO})",
        lambda v: v >= TARGET_RATIO,
    ),
    Figure("changelog_records_per_event", "throughput", "changelog records per event", _f3),
    Figure("changelog_bytes_per_event", "throughput", "changelog bytes per event", _f1),
    Figure("fast_path_rate", "throughput", "fast-decoder hit rate", _pct),
    Figure("batch_mean", "throughput", "records per batch (mean)", _f1),
    Figure("figures_equal", "throughput", "orgs whose figures = batch", _int),
    Figure("dead_letters", "throughput", "dead letters (= the batch's, by reason)", _int),
    Figure("latency_load_eps", "latency", "background load offered (ev/s)", _int),
    Figure("latency_load_done_eps", "latency", "  applied by the worker meanwhile (ev/s)", _int),
    Figure("latency_p50", "latency", "produce -> API p50 (ms)", _ms),
    Figure("latency_p90", "latency", "produce -> API p90 (ms)", _ms),
    Figure(
        "latency_p99",
        "latency",
        "produce -> API p99 (ms)",
        _ms,
        f"<= {TARGET_P99_S * 1000:.0f}",
        lambda v: v <= TARGET_P99_S,
    ),
    Figure("latency_max", "latency", "produce -> API max (ms)", _ms),
    Figure("standby_active_events", "standby", "events applied by the active worker", _int),
    Figure("standby_active_cpu_us", "standby", "  active worker CPU per event (µs)", _f1),
    Figure("standby_cpu_us", "standby", "standby worker CPU per active event (µs)", _f1),
]
for _store in ("rocksdb", "memory"):
    _ph = f"memory[{_store}]"
    FIGURES += [
        Figure(f"{_store}_accounts", _ph, "accounts (one account.created each)", _int),
        Figure(f"{_store}_accounts_eps", _ph, "  applied while producing (ev/s)", _int),
        Figure(
            f"{_store}_bytes_per_account",
            _ph,
            "memory per tracked account (bytes)",
            _int,
            f"<= {TARGET_BYTES_PER_ACCOUNT}",
            lambda v: v <= TARGET_BYTES_PER_ACCOUNT,
        ),
        Figure(
            f"{_store}_recovery_s",
            _ph,
            "restart -> ready + all accounts tracked (s)",
            _f1,
            f"<= {TARGET_RECOVERY_S:.0f}",
            lambda v: v <= TARGET_RECOVERY_S,
        ),
        Figure(f"{_store}_ready_s", _ph, "  of which /ready (s)", _f1),
    ]
FIGURE_BY_KEY = {f.key: f for f in FIGURES}


@dataclass
class RunResult:
    """One run: its figures (keys of ``FIGURES``), the details for bench.json, its failures."""

    figures: dict[str, float] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        say(f"CHECK FAILED: {message}")
        self.failures.append(message)


def table(runs: list[RunResult]) -> tuple[str, list[dict[str, Any]]]:
    """The table (median, min-max over the runs that have the figure) and its rows."""
    rows: list[dict[str, Any]] = []
    cells: list[tuple[str, ...]] = []
    for fig in FIGURES:
        values = [r.figures[fig.key] for r in runs if fig.key in r.figures]
        if not values:
            continue
        median = statistics.median(values)
        spread = f"{fig.fmt(min(values))} - {fig.fmt(max(values))}" if len(values) > 1 else ""
        ok = None if fig.ok is None else all(fig.ok(v) for v in [median])
        rows.append(
            {
                "figure": fig.key,
                "phase": fig.phase,
                "label": fig.label,
                "values": values,
                "median": median,
                "min": min(values),
                "max": max(values),
                "target": fig.target,
                "ok": ok,
            }
        )
        status = "" if ok is None else "PASS" if ok else "FAIL"
        cells.append((fig.phase, fig.label, fig.fmt(median), spread, fig.target, status))
    headers = ("phase", "figure", "median", "min - max", "target", "ok")
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

    def line(values: tuple[str, ...]) -> str:
        parts = [
            v.rjust(w) if i in (2, 3) else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(c) for c in cells)]), rows


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def summarize_log(path: Path, limit: int = 6) -> list[str]:
    """The most frequent warnings/errors of a worker log (JSON lines), as short strings."""
    counts: Counter[str] = Counter()
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            if line.startswith("Traceback"):
                counts["Traceback (non-JSON output)"] += 1
            continue
        if not isinstance(entry, dict):
            continue
        level = str(entry.get("level", "")).lower()
        if level not in {"warning", "error", "critical", "exception"}:
            continue
        text = re.sub(r"\d+(\.\d+)?", "N", str(entry.get("event", "")))
        text = " ".join(text.split())[:110]
        counts[f"{level} {entry.get('logger', '')}: {text}"] += 1
    return [f"{n}x {text}" for text, n in counts.most_common(limit)]


# ------------------------------------------------------------------------------------------------
# pinning
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cores:
    """The core of the consumer processes (bare consumer, workers) and the broker's (and this
    script's); None: not pinned."""

    consumer: int | None
    broker: int | None

    def pin_consumer(self, pid: int) -> bool:
        return pin(pid, self.consumer)

    def consumer_prefix(self) -> list[str]:
        if self.consumer is None or shutil.which("taskset") is None:
            return []
        return ["taskset", "-c", str(self.consumer)]


def choose_cores(args: argparse.Namespace) -> Cores:
    available = sorted(os.sched_getaffinity(0))
    if args.no_pin or len(available) < 2 or shutil.which("taskset") is None:
        return Cores(None, None)
    consumer = args.consumer_cpu if args.consumer_cpu is not None else available[0]
    broker = args.broker_cpu if args.broker_cpu is not None else available[1]
    if consumer == broker or {consumer, broker} - set(available):
        raise SystemExit(f"--consumer-cpu/--broker-cpu must be two of {available}")
    return Cores(consumer, broker)


def start_worker(worker: Worker, cores: Cores) -> Worker:
    worker.start()
    cores.pin_consumer(worker.pid)
    return worker


# ------------------------------------------------------------------------------------------------
# the records: generated once, cached
# ------------------------------------------------------------------------------------------------


@dataclass
class Traffic:
    profiles: list[KafkaRecord]
    activity: list[KafkaRecord]
    generator: str
    kinds: dict[str, int]
    #: the batch recomputation over the same records (org -> comparable figures), and the
    #: dead letters the worker must write (rejected by the codec + late)
    expected: dict[str, Any] = field(default_factory=dict)
    expected_dead_letters: dict[str, int] = field(default_factory=dict)
    #: records given an unknown CloudEvents type (``--bad-every``): the dead-letter check bites
    bad: int = 0


def cache_path(args: argparse.Namespace) -> Path:
    return args.cache_dir / f"seed{args.seed}-n{args.events}.pickle"


def load_traffic(args: argparse.Namespace) -> Traffic:
    path = cache_path(args)
    t = time.perf_counter()
    if path.exists() and not args.fresh_records:
        profiles, activity = load_records(path)
        generator = f"simulator (cached {path.name})"
        say(f"records: {len(activity):,} from {path.name} in {time.perf_counter() - t:.1f}s")
    else:
        say(f"records: generating {args.events:,} activity events ...")
        # The worker runs on event time (no live clock): a log that ended days before the run
        # gives the same figures as a fresh one, so the cache does not go stale.
        end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
        profiles, activity, generator = realistic_traffic(args.events, args.seed, end)
        say(f"records: generated by {generator} in {time.perf_counter() - t:.1f}s")
        if not args.no_cache:
            save_records(path, profiles, activity)
            say(f"records: cached in {rel(path)}")
    bad = with_unknown_types(activity, args.bad_every)
    kinds = Counter(dict(r.headers).get("ce_type", b"(structured)").decode() for r in activity)
    traffic = Traffic(profiles, activity, generator, dict(kinds), bad=bad)
    t = time.perf_counter()
    from engagement.settings import Settings
    from engagement_scorer.batch import recompute, timezones_from

    batch = recompute(activity, Settings().scoring_rules(), timezones_from(profiles))
    traffic.expected = {org: comparable(score) for org, score in batch.scores.items()}
    traffic.expected_dead_letters = dict(batch.rejected)
    if batch.outcomes.get("late"):
        traffic.expected_dead_letters["late"] = batch.outcomes["late"]
    if batch.rejected.get("unknown_type", 0) < bad:
        raise RuntimeError(f"the batch rejected fewer than the {bad} records made unknown")
    say(
        f"records: batch recomputation in {time.perf_counter() - t:.1f}s: "
        f"{len(traffic.expected)} orgs, dead letters expected {traffic.expected_dead_letters}"
    )
    return traffic


UNKNOWN_TYPE = b"intranet.bench.unknown.v1"


def with_unknown_types(activity: list[KafkaRecord], every: int) -> int:
    """Give every ``every``-th binary-mode record an unknown ``ce_type`` (in place): valid
    JSON for the bare consumer, a dead letter (unknown_type) for the worker and the batch."""
    if every <= 0:
        return 0
    n = 0
    for i in range(every - 1, len(activity), every):
        record = activity[i]
        if any(k == "ce_type" for k, _ in record.headers):
            headers = [(k, UNKNOWN_TYPE if k == "ce_type" else v) for k, v in record.headers]
            activity[i] = KafkaRecord(record.key, record.value, headers)
            n += 1
    return n


def realistic_traffic(
    n: int, seed: int, end: datetime
) -> tuple[list[KafkaRecord], list[KafkaRecord], str]:
    """(profiles, activity, generator): the simulator's traffic when it is there."""
    try:
        from engagement_simulator.traffic import generate
    except ImportError:
        return [], synthetic_activity(n, seed, end), "synthetic (simulator not importable)"
    orgs = max(1, math.ceil(n / 1400))
    while True:
        log = generate(seed, orgs, 30, end, duplicates=0.005, disorder=0.01)
        if len(log.activity) >= n:
            return log.profiles, log.activity[:n], f"simulator ({orgs} orgs, 30 days)"
        orgs = math.ceil(orgs * n / max(1, len(log.activity)) * 1.1)


def synthetic_activity(n: int, seed: int, end: datetime) -> list[KafkaRecord]:
    """Fallback: visits of 100 accounts per organisation over 30 days, in time order."""
    import random

    rng = random.Random(seed)
    orgs = max(1, n // 2000)
    start = int(end.timestamp()) - 30 * 86_400
    times = sorted(rng.randrange(start, int(end.timestamp())) for _ in range(n))
    return [
        visit_record(f"bench-org-{rng.randrange(orgs):04d}", f"acc-{rng.randrange(100):03d}", t)
        for t in times
    ]


def comparable(score: dict[str, Any]) -> dict[str, Any]:
    """Everything a score says, as exact integers and the moment (as the stream = batch test)."""
    return {
        "as_of": score["as_of"],
        "window": (score["window_start"], score["window_end"]),
        "components": {
            k: (v["numerator"], v["denominator"]) for k, v in score["components"].items()
        },
        "month_to_date": {
            k: (v["numerator"], v["denominator"]) for k, v in score["month_to_date"].items()
        },
        "score": score["engagement_score"],
    }


# ------------------------------------------------------------------------------------------------
# phase 1: throughput
# ------------------------------------------------------------------------------------------------


async def bare_consume(bootstrap: str, topic: str, expected: int) -> dict[str, float]:
    """The bare consumer (run in its own, pinned process: ``--bare-consume``)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        n, first, started = 0, 0.0, time.perf_counter()
        cpu_started = time.process_time()
        deadline = started + 600
        while n < expected and time.perf_counter() < deadline:
            batches = await consumer.getmany(timeout_ms=1000, max_records=5000)
            for messages in batches.values():
                if messages and not first:
                    first = time.perf_counter()
                for message in messages:
                    json.loads(message.value)
                n += len(messages)
        last = time.perf_counter()
        cpu = time.process_time() - cpu_started
    finally:
        await consumer.stop()
    return {
        "events": n,
        "seconds_from_first_record": last - first,
        "seconds_from_assign": last - started,
        "events_per_second": n / (last - first) if last > first else 0.0,
        "cpu_seconds": cpu,
        "cpu_us_per_event": cpu / n * 1e6 if n else 0.0,
    }


def run_bare_process(args: argparse.Namespace, cores: Cores, topic: str, n: int) -> dict[str, Any]:
    """The bare consumer in a process of its own on the consumer core."""
    cmd = [
        *cores.consumer_prefix(),
        sys.executable,
        str(Path(__file__).resolve()),
        "--bootstrap",
        args.bootstrap,
        "--bare-consume",
        topic,
        "--events",
        str(n),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"bare consumer failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


async def wait_records(
    worker: Worker,
    session: aiohttp.ClientSession,
    expected: float,
    *,
    interval: float = 5.0,
    stall_seconds: float = 120.0,
    label: str = "",
) -> Metrics | None:
    """Scrape /metrics every ``interval`` until the data plane has applied ``expected``
    activity records; the last scrape (None after ``stall_seconds`` without progress).

    Every 5 s: a third of the production scrape interval (deploy/prometheus, 15 s), not every
    second. A scrape renders every organisation's series, a cost a real Prometheus imposes
    once per 15 s; the window and the CPU are measured inside the worker (first and last
    record), so a later scrape does not stretch them."""
    last_change = last_print = time.perf_counter()
    last_done = -1.0
    while True:
        if not worker.alive():
            raise RuntimeError(f"worker {worker.name} died:\n{worker.tail()}")
        try:
            metrics = await worker.scrape_async(session)
        except (TimeoutError, aiohttp.ClientError, OSError):
            await asyncio.sleep(interval)
            continue
        done = metrics.get(RECORDS)
        now = time.perf_counter()
        if done >= expected:
            return metrics
        if done != last_done:
            last_done, last_change = done, now
        elif now - last_change > stall_seconds:
            say(f"{label}: no progress for {stall_seconds:.0f}s at {done:,.0f}/{expected:,.0f}")
            return None
        if now - last_print >= 10:
            last_print = now
            say(f"{label}: {done:,.0f}/{expected:,.0f} records applied")
        await asyncio.sleep(interval)


def batch_histogram(metrics: Metrics) -> dict[str, float]:
    """{upper bound: batches in that bucket (not cumulative)} of the batch-size histogram."""
    cumulative = [
        (float(s.labels["le"]), s.value)
        for s in metrics.samples
        if s.name == f"{BATCH_RECORDS}_bucket"
    ]
    cumulative.sort()
    out: dict[str, float] = {}
    previous = 0.0
    for bound, count in cumulative:
        label = "+Inf" if math.isinf(bound) else f"{bound:g}"
        out[label] = count - previous
        previous = count
    return out


async def api_figures(
    worker: Worker, session: aiohttp.ClientSession, orgs: list[str]
) -> dict[str, Any]:
    semaphore = asyncio.Semaphore(4)

    async def one(org: str) -> tuple[str, Any]:
        async with semaphore:
            try:
                async with session.get(f"{worker.url}/orgs/{org}/score") as resp:
                    if resp.status != 200:
                        return org, f"HTTP {resp.status}"
                    return org, comparable(await resp.json())
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                return org, repr(exc)

    return dict(await asyncio.gather(*(one(o) for o in orgs)))


async def check_against_batch(
    worker: Worker,
    session: aiohttp.ClientSession,
    traffic: Traffic,
    result: RunResult,
    within: float,
) -> None:
    """Every org's API figures equal the batch's (retried while the read model catches up),
    and the dead letters are exactly the expected ones; a failure of the run otherwise."""
    orgs = sorted(traffic.expected)
    deadline = time.perf_counter() + within
    while True:
        got = await api_figures(worker, session, orgs)
        mismatched = [o for o in orgs if got.get(o) != traffic.expected[o]]
        if not mismatched or time.perf_counter() > deadline:
            break
        await asyncio.sleep(2.0)
    result.figures["figures_equal"] = len(orgs) - len(mismatched)
    result.data["throughput"]["orgs"] = len(orgs)
    if mismatched:
        org = mismatched[0]
        result.fail(
            f"{len(mismatched)} of {len(orgs)} orgs differ from the batch, e.g. {org}: "
            f"worker {got.get(org)} batch {traffic.expected[org]}"
        )
    metrics = await worker.scrape_async(session)
    dead = {
        s.labels.get("reason", ""): int(s.value)
        for s in metrics.samples
        if s.name == DEAD_LETTERED and s.value
    }
    result.figures["dead_letters"] = sum(dead.values())
    result.data["throughput"]["dead_letters"] = dead
    if dead != traffic.expected_dead_letters:
        result.fail(f"dead letters {dead}, the batch expects {traffic.expected_dead_letters}")


async def throughput_phase(
    args: argparse.Namespace,
    session: aiohttp.ClientSession,
    result: RunResult,
    workdir: Path,
    traffic: Traffic,
    cores: Cores,
) -> Worker | None:
    prefix = new_prefix()
    topic_set = Topics(prefix)
    await create_topics(topic_set.all(), bootstrap=args.bootstrap)
    await produce(args.bootstrap, topic_set.profiles, traffic.profiles)
    n, seconds = await produce(args.bootstrap, topic_set.activity, traffic.activity)
    say(f"throughput: produced {n:,} in {seconds:.1f}s ({n / seconds:,.0f}/s)")
    data: dict[str, Any] = {
        "topic_prefix": prefix,
        "generator": traffic.generator,
        "events": n,
        "profiles": len(traffic.profiles),
        "event_types": traffic.kinds,
        "produce_seconds": seconds,
        "cores": {"consumer": cores.consumer, "broker": cores.broker},
    }
    result.data["throughput"] = data
    result.figures["events"] = n

    bare = await asyncio.to_thread(run_bare_process, args, cores, topic_set.activity, n)
    data["bare"] = bare
    if bare["events"] < n:
        result.fail(f"the bare consumer read {bare['events']:,} of {n:,}")
    result.figures["bare_eps"] = bare["events_per_second"]
    result.figures["bare_cpu_us"] = bare["cpu_us_per_event"]
    say(
        f"throughput: bare consumer {bare['events_per_second']:,.0f} events/s, "
        f"{bare['cpu_us_per_event']:.1f} µs CPU/event"
    )

    worker = Worker(
        name="throughput",
        app_id=f"{prefix}-scorer",
        topics=topic_set,
        workdir=workdir,
        bootstrap=args.bootstrap,
        store=f"{args.throughput_store}://",
    )
    start_worker(worker, cores)
    bpid = broker_pid(REPO)
    pids = {"worker": worker.pid, **({"broker": bpid} if bpid else {})}
    sampler = CpuSampler(pids).start()
    try:
        metrics = await wait_records(worker, session, n, label="throughput")
    finally:
        await sampler.stop()
    if metrics is None:
        result.fail("the worker did not apply every record")
        worker.stop()
        return None
    first, last = metrics.get(FIRST_RECORD), metrics.get(LAST_RECORD)
    records = metrics.get(RECORDS)
    window = last - first
    worker_cpu = sampler.between("worker", first, last)
    broker_cpu = sampler.between("broker", first, last) if bpid else None
    rate = records / window if window > 0 else 0.0
    fast, reference = (metrics.total(DECODED, path=p) for p in ("fast", "reference"))
    has_decoded = any(s.name == DECODED for s in metrics.samples)
    batches = metrics.get(f"{BATCH_RECORDS}_count")
    histogram = batch_histogram(metrics)
    data["scorer"] = {
        "store": args.throughput_store,
        "records": records,
        "first_record_unix": first,
        "last_record_unix": last,
        "seconds_first_to_last": window,
        "events_per_second": rate,
        "worker_cpu_seconds": worker_cpu,
        "broker_cpu_seconds": broker_cpu,
        "changelog_records": metrics.get(CHANGELOG_RECORDS),
        "changelog_bytes": metrics.get(CHANGELOG_BYTES),
        "decoded": {"fast": fast, "reference": reference} if has_decoded else None,
        "batches": batches,
        "batch_records_histogram": histogram,
        "rss_bytes": worker.rss_bytes(),
    }
    result.figures.update(
        scorer_eps=rate,
        scorer_cpu_us=worker_cpu / records * 1e6,
        worker_cpu_share=worker_cpu / window if window > 0 else 0.0,
        changelog_records_per_event=metrics.get(CHANGELOG_RECORDS) / records,
        changelog_bytes_per_event=metrics.get(CHANGELOG_BYTES) / records,
    )
    if broker_cpu is not None and window > 0:
        result.figures["broker_cpu_share"] = broker_cpu / window
    if bare["events_per_second"]:
        result.figures["ratio"] = rate / bare["events_per_second"]
    if has_decoded and fast + reference:
        result.figures["fast_path_rate"] = fast / (fast + reference)
    else:
        result.notes.append("fast-decoder hit rate: n/a (no engagement_activity_decoded_total)")
    if batches:
        result.figures["batch_mean"] = metrics.get(f"{BATCH_RECORDS}_sum") / batches
        shares = ", ".join(
            f"<={b}: {c / batches:.0%}" for b, c in histogram.items() if c / batches >= 0.005
        )
        result.notes.append(f"batch sizes ({batches:,.0f} batches): {shares}")
    say(
        f"throughput: scorer {rate:,.0f} events/s over {window:.1f}s, "
        f"{worker_cpu / records * 1e6:.1f} µs CPU/event; checking the figures against the batch"
    )
    await check_against_batch(worker, session, traffic, result, within=args.check_timeout)
    return worker


# ------------------------------------------------------------------------------------------------
# phase 2: latency at half the maximum rate
# ------------------------------------------------------------------------------------------------


async def wait_idle(worker: Worker, within: float = 180.0, below: float = 0.15) -> float:
    """Wait until the worker uses < ``below`` of a core for a second; returns the seconds."""
    started = time.perf_counter()
    while time.perf_counter() - started < within:
        cpu_before = worker.cpu_seconds()
        await asyncio.sleep(1.0)
        if worker.cpu_seconds() - cpu_before < below:
            break
    return time.perf_counter() - started


async def offer_load(
    bootstrap: str, topic: str, prefix: str, rate: float, stop: asyncio.Event
) -> dict[str, float]:
    """Visits at ``rate`` per second (paced every 10 ms) until ``stop``: 200 organisations,
    2,000 accounts each, current event time. Returns what was offered."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=5)
    await producer.start()
    sent = 0
    started = time.perf_counter()
    try:
        while not stop.is_set():
            due = int(rate * (time.perf_counter() - started))
            now = int(time.time())
            while sent < due:
                org = f"{prefix}-load-org-{sent % 200:03d}"
                record = visit_record(org, f"load-{(sent // 200) % 2000:04d}", now)
                await producer.send(
                    topic, key=record.key, value=record.value, headers=record.headers
                )
                sent += 1
            await asyncio.sleep(0.01)
        await producer.flush()
    finally:
        await producer.stop()
    seconds = time.perf_counter() - started
    return {"events": sent, "seconds": seconds, "events_per_second": sent / seconds}


async def latency_phase(
    args: argparse.Namespace,
    session: aiohttp.ClientSession,
    result: RunResult,
    worker: Worker,
) -> None:
    # Steady state first: after the throughput phase the second stage (levels, alerts,
    # benchmarks from the score stream) may still be catching up on the same event loop.
    settled = await wait_idle(worker)
    say(f"latency: worker idle after {settled:.1f}s")
    max_rate = result.figures.get("scorer_eps")
    if args.latency_load_rate is not None:
        load_rate = args.latency_load_rate
    elif max_rate:
        load_rate = max_rate * args.latency_load_fraction
    else:
        load_rate = 0.0
        result.notes.append("latency: no throughput phase in this run, so no background load")
    org = f"{worker.topics.prefix}-latency-org"
    count = max(1, round(args.latency_rate * args.latency_seconds))
    sent = [0.0] * count
    seen: list[float | None] = [None] * count
    url = f"{worker.url}/orgs/{org}/score"
    polls = 0
    errors = 0
    poll_seconds = args.poll_ms / 1000
    done_producing = asyncio.Event()
    stop_load = asyncio.Event()

    async def poll() -> None:
        nonlocal polls, errors
        shown = 0
        deadline: float | None = None
        while shown < count:
            if done_producing.is_set():
                deadline = deadline or time.perf_counter() + args.latency_timeout
                if time.perf_counter() > deadline:
                    return
            try:
                async with session.get(url) as resp:
                    body = await resp.json() if resp.status == 200 else None
            except (TimeoutError, aiohttp.ClientError, OSError):
                errors += 1
                body = None
            now = time.perf_counter()
            polls += 1
            if body is not None:
                denominator = int(body["components"]["reach"]["denominator"])
                while shown < min(denominator, count):
                    seen[shown] = now
                    shown += 1
            await asyncio.sleep(poll_seconds)

    records_before = (await worker.scrape_async(session)).get(RECORDS)
    load: asyncio.Task[dict[str, float]] | None = None
    if load_rate > 0:
        load = asyncio.create_task(
            offer_load(
                args.bootstrap, worker.topics.activity, worker.topics.prefix, load_rate, stop_load
            )
        )
        await asyncio.sleep(args.latency_warmup)  # the worker reaches the load's steady state
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks="all", linger_ms=0)
    await producer.start()
    poller = asyncio.create_task(poll())
    t_probe = time.perf_counter()
    try:
        start = time.perf_counter() + 0.2
        for i in range(count):
            delay = start + i / args.latency_rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            record = visit_record(org, f"lat-{i:06d}", int(time.time()))
            sent[i] = time.perf_counter()
            await producer.send(
                worker.topics.activity, key=record.key, value=record.value, headers=record.headers
            )
        await producer.flush()
        probe_seconds = time.perf_counter() - t_probe
        records_after = (await worker.scrape_async(session)).get(RECORDS)
        stop_load.set()
        done_producing.set()
        await poller
    finally:
        stop_load.set()
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        await producer.stop()
    offered = await load if load is not None else {"events": 0, "events_per_second": 0.0}

    latencies = [s - t for s, t in zip(seen, sent, strict=True) if s is not None]
    missing = count - len(latencies)
    data: dict[str, Any] = {
        "org": org,
        "probes": count,
        "probe_rate_per_second": args.latency_rate,
        "poll_interval_ms": args.poll_ms,
        "polls": polls,
        "poll_errors": errors,
        "missing": missing,
        "load_target_per_second": load_rate,
        "load_offered": offered,
        "records_applied_meanwhile": records_after - records_before,
    }
    result.data["latency"] = data
    result.figures["latency_load_eps"] = offered["events_per_second"]
    window = args.latency_warmup + probe_seconds if load is not None else probe_seconds
    result.figures["latency_load_done_eps"] = (records_after - records_before) / window
    result.notes.append(
        f"latency: {count} probe visits at {args.latency_rate:g}/s, API polled every "
        f"{args.poll_ms:g} ms, on a background load of {load_rate:,.0f}/s "
        f"({args.latency_load_fraction:g} x the run's scorer rate)"
    )
    if latencies:
        data.update(
            p50_s=percentile(latencies, 50),
            p90_s=percentile(latencies, 90),
            p99_s=percentile(latencies, 99),
            max_s=max(latencies),
            mean_s=sum(latencies) / len(latencies),
        )
        result.figures.update(
            latency_p50=data["p50_s"],
            latency_p90=data["p90_s"],
            latency_p99=data["p99_s"],
            latency_max=data["max_s"],
        )
    if missing:
        result.fail(f"latency: {missing} of {count} probe events never seen by the API")


# ------------------------------------------------------------------------------------------------
# phase 3: memory per tracked account and recovery
# ------------------------------------------------------------------------------------------------


def dir_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += (Path(root) / name).stat().st_size
    return total


async def memory_phase(
    args: argparse.Namespace,
    session: aiohttp.ClientSession,
    result: RunResult,
    workdir: Path,
    store: str,
    cores: Cores,
) -> None:
    ph = f"memory[{store}]"
    prefix = new_prefix()
    topic_set = Topics(prefix)
    await create_topics(topic_set.all(), bootstrap=args.bootstrap)
    per_org = math.ceil(args.accounts / args.orgs)
    accounts = per_org * args.orgs
    data: dict[str, Any] = {"topic_prefix": prefix, "orgs": args.orgs, "accounts": accounts}
    result.data[f"memory_{store}"] = data
    result.figures[f"{store}_accounts"] = accounts

    worker = Worker(
        name=f"memory-{store}",
        app_id=f"{prefix}-scorer",
        topics=topic_set,
        workdir=workdir,
        bootstrap=args.bootstrap,
        store=f"{store}://",
    )
    start_worker(worker, cores)
    try:
        data["first_ready_seconds"] = await worker.wait_ready_async(session)
        await asyncio.sleep(2.0)  # let the first timers and the initial rebalance settle
        rss_before = worker.rss_bytes()
        say(f"{ph}: ready, RSS {rss_before / MiB:.1f} MiB; producing {accounts:,} accounts ...")
        event_time = int(time.time()) - 3600
        records = account_created_records(prefix, args.orgs, per_org, event_time)

        # The producer gets its own thread and loop so the /metrics poller is never starved.
        produced = asyncio.create_task(
            asyncio.to_thread(asyncio.run, produce(args.bootstrap, topic_set.activity, records))
        )
        metrics = await wait_records(worker, session, accounts, label=ph)
        n, produce_seconds = await produced
        data.update(produced=n, produce_seconds=produce_seconds)
        say(f"{ph}: produced {n:,} in {produce_seconds:.1f}s ({n / produce_seconds:,.0f}/s)")
        if metrics is None:
            result.fail(f"{ph}: the worker did not apply every account")
            return
        window = metrics.get(LAST_RECORD) - metrics.get(FIRST_RECORD)
        if window > 0:
            result.figures[f"{store}_accounts_eps"] = metrics.get(RECORDS) / window
        tracked = await wait_metric(worker, session, TRACKED, accounts, within=30)
        await asyncio.sleep(2.0)
        rss_after = worker.rss_bytes()
        per_account = (rss_after - rss_before) / accounts
        data.update(
            rss_before=rss_before,
            rss_after=rss_after,
            rss_peak=worker.hwm_bytes(),
            tracked_accounts=tracked,
            bytes_per_account=per_account,
            data_dir_bytes=dir_bytes(worker.data_dir),
        )
        result.figures[f"{store}_bytes_per_account"] = per_account
        say(f"{ph}: {per_account:.0f} bytes/account; restarting the worker (SIGTERM) ...")

        data["stop_seconds"] = worker.stop()
        restarted = Worker(
            name=worker.name,  # same data dir and log
            app_id=worker.app_id,
            topics=topic_set,
            workdir=workdir,
            bootstrap=args.bootstrap,
            store=worker.store,
        )
        worker = start_worker(restarted, cores)
        recovery = await wait_recovered(worker, session, accounts, within=args.recovery_timeout)
        data.update(recovery)
        if recovery.get("recovered"):
            result.figures[f"{store}_recovery_s"] = float(recovery["recovery_seconds"])
            result.figures[f"{store}_ready_s"] = float(recovery["ready_seconds"])
        else:
            result.fail(
                f"{ph}: not recovered within {args.recovery_timeout:.0f}s "
                f"(tracked {recovery.get('tracked')})"
            )
    finally:
        worker.stop()
        data["log_findings"] = summarize_log(worker.log_path)
        if not args.keep_topics:
            shutil.rmtree(worker.data_dir, ignore_errors=True)
            await delete_topics_with_prefix(prefix, bootstrap=args.bootstrap)


async def wait_metric(
    worker: Worker, session: aiohttp.ClientSession, name: str, value: float, within: float
) -> float:
    """Wait until a gauge reaches ``value`` (the state gauges refresh every 10 s)."""
    deadline = time.perf_counter() + within
    current = -1.0
    while time.perf_counter() < deadline:
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, OSError):
            current = (await worker.scrape_async(session)).get(name, -1.0)
            if current >= value:
                return current
        await asyncio.sleep(0.5)
    return current


async def wait_recovered(
    worker: Worker, session: aiohttp.ClientSession, accounts: int, within: float
) -> dict[str, Any]:
    """Seconds from process start until /ready is 200 and all accounts are tracked again."""
    ready_seconds: float | None = None
    tracked = -1.0
    deadline = worker.started_at + within
    while time.perf_counter() < deadline:
        if not worker.alive():
            raise RuntimeError(f"restarted worker died:\n{worker.tail()}")
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, OSError):
            ready = await worker.get_status_async(session, "/ready") == 200
            now = time.perf_counter()
            if ready and ready_seconds is None:
                ready_seconds = now - worker.started_at
            if ready:
                metrics = await worker.scrape_async(session)
                tracked = metrics.get(TRACKED, -1.0)
                if tracked >= accounts:
                    return {
                        "recovered": True,
                        "recovery_seconds": now - worker.started_at,
                        "ready_seconds": ready_seconds,
                        "state_recovery_gauge": metrics.get(RECOVERY, float("nan")),
                        "tracked": tracked,
                        "rss_after_recovery": worker.rss_bytes(),
                    }
        await asyncio.sleep(0.1)
    return {"recovered": False, "ready_seconds": ready_seconds, "tracked": tracked}


# ------------------------------------------------------------------------------------------------
# phase 4: two workers, the standby's CPU per active event
# ------------------------------------------------------------------------------------------------


async def partition_owners(
    session: aiohttp.ClientSession, workers: list[Worker], topic: str, bootstrap: str
) -> dict[int, int]:
    """partition -> index of the worker that applies it: one probe record per partition, the
    worker whose ``engagement_activity_records_total`` moves owns it."""
    owners: dict[int, int] = {}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for p in range(PARTITIONS):
            before = [(await w.scrape_async(session)).get(RECORDS) for w in workers]
            record = visit_record(f"{topic}-owner-probe-{p}", "probe", int(time.time()))
            await producer.send_and_wait(
                topic, key=record.key, value=record.value, headers=record.headers, partition=p
            )
            deadline = time.perf_counter() + 60
            while p not in owners and time.perf_counter() < deadline:
                for i, w in enumerate(workers):
                    if (await w.scrape_async(session)).get(RECORDS) > before[i]:
                        owners[p] = i
                await asyncio.sleep(0.2)
    finally:
        await producer.stop()
    return owners


async def standby_phase(
    args: argparse.Namespace,
    session: aiohttp.ClientSession,
    result: RunResult,
    workdir: Path,
    traffic: Traffic,
    cores: Cores,
) -> None:
    prefix = new_prefix()
    topic_set = Topics(prefix)
    await create_topics(topic_set.all(), bootstrap=args.bootstrap)
    await produce(args.bootstrap, topic_set.profiles, traffic.profiles)
    data: dict[str, Any] = {"topic_prefix": prefix}
    result.data["standby"] = data
    workers = [
        Worker(
            name=f"standby-{i}",
            app_id=f"{prefix}-scorer",
            topics=topic_set,
            workdir=workdir,
            bootstrap=args.bootstrap,
            store=f"{args.throughput_store}://",
            extra_env={"ENGAGEMENT_STANDBY_REPLICAS": "1"},
        )
        for i in (1, 2)
    ]
    try:
        for w in workers:
            start_worker(w, cores)
        for w in workers:
            await w.wait_ready_async(session)
        await asyncio.sleep(args.standby_settle)  # the second join's rebalance settles
        owners = await partition_owners(session, workers, topic_set.activity, args.bootstrap)
        data["owners"] = {str(p): workers[i].name for p, i in owners.items()}
        if len(owners) < PARTITIONS or len(set(owners.values())) < 2:
            result.fail(f"standby: partitions not split over both workers: {data['owners']}")
            return
        a = owners[0]
        active, standby = workers[a], workers[1 - a]
        mine = sorted(p for p, i in owners.items() if i == a)
        partitioner = DefaultPartitioner()
        chosen = [
            r
            for r in traffic.activity
            if r.key is not None and partitioner(r.key, list(range(PARTITIONS)), []) in mine
        ][: args.standby_events]
        data.update(active=active.name, active_partitions=mine, events=len(chosen))

        for w in workers:
            await wait_idle(w, within=60, below=0.1)
        idle = CpuSampler({"active": active.pid, "standby": standby.pid}).start()
        await asyncio.sleep(5.0)
        await idle.stop()
        idle_seconds = idle.times[-1] - idle.times[0]
        idle_rate = {k: (v[-1] - v[0]) / idle_seconds for k, v in idle.samples.items()}
        before = {w.name: (await w.scrape_async(session)).get(RECORDS) for w in workers}

        sampler = CpuSampler({"active": active.pid, "standby": standby.pid}).start()
        t0 = time.time()
        await produce(args.bootstrap, topic_set.activity, chosen)
        metrics = await wait_records(
            active, session, before[active.name] + len(chosen), label="standby"
        )
        await wait_idle(standby, within=300, below=idle_rate["standby"] + 0.05)
        await sampler.stop()
        t1 = time.time()
        if metrics is None:
            result.fail("standby: the active worker did not apply every record")
            return
        standby_records = (await standby.scrape_async(session)).get(RECORDS)
        if standby_records != before[standby.name]:
            result.fail("standby: the standby worker applied activity records (a rebalance?)")
        applied = metrics.get(RECORDS) - before[active.name]
        cpu = {k: sampler.between(k, t0, t1) - idle_rate[k] * (t1 - t0) for k in idle_rate}
        data.update(
            window_seconds=t1 - t0,
            idle_cpu_share=idle_rate,
            cpu_seconds_over_idle=cpu,
            applied=applied,
        )
        result.figures.update(
            standby_active_events=applied,
            standby_active_cpu_us=cpu["active"] / applied * 1e6,
            standby_cpu_us=cpu["standby"] / applied * 1e6,
        )
        result.notes.append(
            "standby: CPU over the window from the first produce until the standby is idle, "
            "minus each worker's idle CPU; both workers on the consumer core"
        )
    finally:
        for w in workers:
            w.stop()
            data.setdefault("log_findings", {})[w.name] = summarize_log(w.log_path)
            if not args.keep_topics:
                shutil.rmtree(w.data_dir, ignore_errors=True)
        if not args.keep_topics:
            await delete_topics_with_prefix(prefix, bootstrap=args.bootstrap)


# ------------------------------------------------------------------------------------------------
# main
# ------------------------------------------------------------------------------------------------

PHASES = ("throughput", "latency", "memory", "standby")


def new_prefix() -> str:
    return f"bench-{uuid.uuid4().hex[:10]}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    p.add_argument("--phases", default=",".join(PHASES), help="comma separated")
    p.add_argument("--runs", type=int, default=3, help="runs; the table gives median and spread")
    p.add_argument("--events", type=int, default=1_000_000, help="throughput: activity events")
    p.add_argument("--throughput-store", default="memory", choices=("memory", "rocksdb"))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--cache-dir",
        type=Path,
        default=REPO / "artifacts" / "bench-records",
        help="generated records, by seed and count",
    )
    p.add_argument("--no-cache", action="store_true", help="generate, do not write the cache")
    p.add_argument("--fresh-records", action="store_true", help="generate even when cached")
    p.add_argument(
        "--bad-every",
        type=int,
        default=1000,
        help="give every N-th record an unknown type (a dead letter); 0: none",
    )
    p.add_argument(
        "--check-timeout",
        type=float,
        default=180.0,
        help="throughput: seconds for the API figures to equal the batch",
    )
    p.add_argument("--consumer-cpu", type=int, help="core of the consumers (default: the first)")
    p.add_argument("--broker-cpu", type=int, help="core of the broker (default: the second)")
    p.add_argument("--no-pin", action="store_true", help="no taskset")
    p.add_argument("--latency-rate", type=float, default=50.0, help="latency: probes per second")
    p.add_argument("--latency-seconds", type=float, default=20.0, help="latency: probing time")
    p.add_argument(
        "--latency-load-fraction",
        type=float,
        default=0.5,
        help="latency: background load as a fraction of the run's scorer rate",
    )
    p.add_argument(
        "--latency-load-rate",
        type=float,
        help="latency: background load in events/s (instead of the fraction)",
    )
    p.add_argument(
        "--latency-warmup",
        type=float,
        default=5.0,
        help="latency: seconds of load before the first probe",
    )
    p.add_argument("--poll-ms", type=float, default=5.0, help="latency: API poll interval")
    p.add_argument("--latency-timeout", type=float, default=30.0)
    p.add_argument("--accounts", type=int, default=1_000_000, help="memory: tracked accounts")
    p.add_argument("--orgs", type=int, default=1000, help="memory: organisations")
    p.add_argument("--stores", default="rocksdb", help="memory: table stores, in order")
    p.add_argument("--recovery-timeout", type=float, default=600.0)
    p.add_argument(
        "--standby-events",
        type=int,
        default=200_000,
        help="standby: events for the active worker (from the same records)",
    )
    p.add_argument("--standby-settle", type=float, default=10.0)
    p.add_argument("--out", type=Path, default=REPO / "artifacts" / "bench.json")
    p.add_argument("--keep-topics", action="store_true", help="keep topics and data dirs")
    p.add_argument("--bare-consume", metavar="TOPIC", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.phases = {x.strip() for x in args.phases.split(",") if x.strip()}
    unknown = args.phases - set(PHASES)
    if unknown:
        p.error(f"unknown phases: {sorted(unknown)}")
    args.stores = [x.strip() for x in args.stores.split(",") if x.strip()]
    if set(args.stores) - {"memory", "rocksdb"}:
        p.error("--stores takes memory and/or rocksdb")
    if args.runs < 1:
        p.error("--runs must be at least 1")
    return args


def machine_info() -> dict[str, Any]:
    commit = ""
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    load = ""
    with contextlib.suppress(OSError):
        load = Path("/proc/loadavg").read_text().strip()
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": commit,
        "loadavg_at_start": load,
    }


async def one_run(
    args: argparse.Namespace,
    number: int,
    traffic: Traffic | None,
    cores: Cores,
    workdir: Path,
) -> RunResult:
    result = RunResult()
    phase_seconds: dict[str, float] = result.data.setdefault("phase_seconds", {})
    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=8)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

        async def timed(name: str, step: Callable[[], Any]) -> Any:
            say(f"=== run {number}: {name} ===")
            t = time.perf_counter()
            try:
                return await step()
            finally:
                phase_seconds[name] = time.perf_counter() - t
                say(f"=== run {number}: {name} took {phase_seconds[name]:.1f}s ===")

        worker: Worker | None = None
        try:
            if "throughput" in args.phases:
                assert traffic is not None
                worker = await timed(
                    "throughput",
                    lambda: throughput_phase(args, session, result, workdir, traffic, cores),
                )
            elif "latency" in args.phases:
                worker = await start_plain_worker(args, session, workdir, cores)
            if worker is not None and "latency" in args.phases:
                w = worker
                await timed("latency", lambda: latency_phase(args, session, result, w))
        finally:
            if worker is not None:
                worker.stop()
                result.data["throughput_worker_log_findings"] = summarize_log(worker.log_path)
                if not args.keep_topics:
                    shutil.rmtree(worker.data_dir, ignore_errors=True)
                    await delete_topics_with_prefix(worker.topics.prefix, bootstrap=args.bootstrap)
        if "standby" in args.phases:
            assert traffic is not None
            await timed(
                "standby", lambda: standby_phase(args, session, result, workdir, traffic, cores)
            )
        if "memory" in args.phases:
            for store in args.stores:
                step = functools.partial(memory_phase, args, session, result, workdir, store, cores)
                await timed(f"memory[{store}]", step)
    return result


async def start_plain_worker(
    args: argparse.Namespace, session: aiohttp.ClientSession, workdir: Path, cores: Cores
) -> Worker:
    """A worker on fresh topics, for a latency-only run."""
    prefix = new_prefix()
    topic_set = Topics(prefix)
    await create_topics(topic_set.all(), bootstrap=args.bootstrap)
    worker = Worker(
        name="latency",
        app_id=f"{prefix}-scorer",
        topics=topic_set,
        workdir=workdir,
        bootstrap=args.bootstrap,
        store=f"{args.throughput_store}://",
    )
    start_worker(worker, cores)
    await worker.wait_ready_async(session)
    return worker


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def rel(path: Path) -> Path:
    return path.relative_to(REPO) if path.is_relative_to(REPO) else path


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.bare_consume:
        bare = asyncio.run(bare_consume(args.bootstrap, args.bare_consume, args.events))
        print(json.dumps(bare))
        return 0
    # SIGTERM (e.g. from make) unwinds like Ctrl-C, so every worker we started is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    check_fast_path()
    cores = choose_cores(args)
    bpid = broker_pid(REPO)
    broker_cpus = os.sched_getaffinity(bpid) if bpid is not None else set()
    pinned_broker = bpid is not None and pin(bpid, cores.broker)
    if cores.broker is not None:
        os.sched_setaffinity(0, {cores.broker})  # this script: the load, off the consumer core
    data: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "args": {
            k: (sorted(v) if isinstance(v, set) else str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
        },
        "pinning": {
            "consumer_cpu": cores.consumer,
            "broker_cpu": cores.broker,
            "broker_pid": bpid,
            "broker_pinned": pinned_broker,
        },
    }
    if cores.consumer is None:
        say("not pinned (--no-pin, fewer than 2 cores or no taskset): figures are less honest")
    elif not pinned_broker:
        say("the broker's pid is unknown (not started by deploy/kafka/kafka.sh): not pinned")
    else:
        say(f"pinned: consumers on core {cores.consumer}, broker (pid {bpid}) on {cores.broker}")
    workdir = Path(tempfile.mkdtemp(prefix="engagement-bench-"))
    logs_dir = args.out.parent / "bench-logs"
    for stale in logs_dir.glob("*worker-*.log"):
        stale.unlink()
    started = time.perf_counter()
    failed: BaseException | None = None
    runs: list[RunResult] = []
    try:
        traffic = None
        if {"throughput", "standby"} & args.phases:
            traffic = load_traffic(args)
            data["traffic"] = {
                "generator": traffic.generator,
                "events": len(traffic.activity),
                "profiles": len(traffic.profiles),
                "orgs": len(traffic.expected),
                "event_types": traffic.kinds,
                "unknown_type_records": traffic.bad,
                "expected_dead_letters": traffic.expected_dead_letters,
            }
        for number in range(1, args.runs + 1):
            # a directory per run: its workers' logs and data dirs are its own
            run_dir = workdir / f"run{number}"
            runs.append(asyncio.run(one_run(args, number, traffic, cores, run_dir)))
    except (Exception, KeyboardInterrupt) as exc:
        failed = exc
        say(f"bench aborted: {exc!r}")
    finally:
        for worker in STARTED:  # normally all stopped already; never leave one behind
            worker.stop(timeout=20)
        if pinned_broker and bpid is not None and broker_pid(REPO) == bpid:
            pin(bpid, broker_cpus)  # a broker that outlives the bench gets its cores back
        total = time.perf_counter() - started
        data["total_seconds"] = total
        # Keep the worker logs next to the results; the data dirs go with the temp dir.
        logs_dir.mkdir(parents=True, exist_ok=True)
        for log in workdir.glob("run*/worker-*.log"):
            shutil.copy(log, logs_dir / f"{log.parent.name}-{log.name}")
        if not args.keep_topics:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            data["workdir"] = str(workdir)
    if failed is not None:
        data["error"] = repr(failed)

    text, rows = table(runs) if runs else ("(no run completed)", [])
    data["summary"] = rows
    data["runs"] = [
        {"figures": r.figures, "failures": r.failures, "notes": r.notes, **r.data} for r in runs
    ]
    failures = [f"run {i}: {f}" for i, r in enumerate(runs, 1) for f in r.failures]
    data["failures"] = failures
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=2, default=str) + "\n")

    pinning = (
        f"consumers on core {cores.consumer}, broker on core {cores.broker}"
        if cores.consumer is not None
        else "not pinned"
    )
    print()
    print(
        f"Engagement scorer benchmark: {len(runs)} run(s), {os.cpu_count()} CPUs, {pinning}, "
        f"broker {args.bootstrap}, commit {data['machine']['git_commit']}"
    )
    if "traffic" in data:
        t = data["traffic"]
        print(f"records: {t['events']:,} activity events, {t['orgs']} orgs, {t['generator']}")
    print(text)
    if runs:
        for note in runs[-1].notes:
            print(f"  {note}")
    for i, r in enumerate(runs, 1):
        for who, lines in {
            "throughput/latency worker": r.data.get("throughput_worker_log_findings", []),
            **{
                f"memory[{s}] worker": r.data.get(f"memory_{s}", {}).get("log_findings", [])
                for s in args.stores
            },
        }.items():
            if lines:
                print(f"\nrun {i}: warnings in the {who} log:")
                for line in lines:
                    print(f"  {line}")
    elapsed = ", ".join(
        f"{name} {seconds:.0f}s"
        for name, seconds in (runs[-1].data.get("phase_seconds", {}) if runs else {}).items()
    )
    print(f"\nelapsed: total {total:.0f}s (last run: {elapsed})")
    print(f"results: {rel(args.out)}")
    print(f"worker logs: {rel(logs_dir)}")
    if failures:
        print("\nBENCH FAILED CHECKS:")
        for line in failures:
            print(f"  {line}")
    if failed is not None:
        print(f"\nBENCH FAILED: {failed!r}")
    return 1 if failures or failed is not None else 0


if __name__ == "__main__":
    sys.exit(main())
