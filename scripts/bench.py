"""Benchmark of the scorer worker against the real broker, in one run (`make bench`).

1. Throughput: N realistic activity events in a fresh 4-partition topic, read by a bare
   aiokafka consumer (json.loads of every value) and then by the scorer worker; events/s of
   both from the first record to the last, and the ratio scorer / bare.
2. Latency: visits of new accounts of one organisation at a fixed rate into a running worker;
   for each, the time from the produce call to the first ``GET /orgs/{org}/score`` whose
   ``components.reach.denominator`` includes it.
3. Memory and recovery, per table store: a fresh worker takes in one ``account.created`` per
   account (1000 orgs x 1000 accounts by default); (RSS after - RSS before) / accounts; then a
   restart (SIGTERM, same app id and data dir) and the seconds from process start until
   ``/ready`` is 200 and ``engagement_tracked_accounts`` is back at the account count.

Prints a table and writes ``artifacts/bench.json``. Every topic it creates starts with a unique
``bench-<hex>`` prefix (app ids too, so the changelog topics as well) and is deleted at the end
unless ``--keep-topics``. Run from the repo root with the venv's python (scripts/bench.sh).
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
from bench_support import (  # noqa: E402
    PARTITIONS,
    STARTED,
    Topics,
    Worker,
    account_created_records,
    broker_pid,
    check_fast_path,
    create_topics,
    delete_topics_with_prefix,
    proc_cpu_seconds,
    produce,
    visit_record,
)

from engagement.events import KafkaRecord  # noqa: E402

PROCESSED = "engagement_events_processed_total"
DEAD_LETTERED = "engagement_events_dead_lettered_total"
TRACKED = "engagement_tracked_accounts"
RECOVERY = "engagement_state_recovery_seconds"

TARGET_RATIO = 0.5
TARGET_P99_S = 1.0
TARGET_BYTES_PER_ACCOUNT = 256
TARGET_RECOVERY_S = 60.0

MiB = 1024 * 1024


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ------------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------------


@dataclass
class Row:
    phase: str
    metric: str
    value: str
    target: str = ""
    ok: bool | None = None


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def add(
        self, phase: str, metric: str, value: str, target: str = "", ok: bool | None = None
    ) -> None:
        self.rows.append(Row(phase, metric, value, target, ok))

    def table(self) -> str:
        headers = ("phase", "metric", "value", "target", "ok")
        cells = [
            (
                r.phase,
                r.metric,
                r.value,
                r.target,
                "" if r.ok is None else "PASS" if r.ok else "FAIL",
            )
            for r in self.rows
        ]
        widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

        def line(values: tuple[str, ...]) -> str:
            parts = [
                v.rjust(w) if i == 2 else v.ljust(w)
                for i, (v, w) in enumerate(zip(values, widths, strict=True))
            ]
            return "  ".join(parts).rstrip()

        rule = "  ".join("-" * w for w in widths)
        return "\n".join([line(headers), rule, *(line(c) for c in cells)])


def fmt_int(value: float) -> str:
    return f"{value:,.0f}"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


# ------------------------------------------------------------------------------------------------
# shared pieces
# ------------------------------------------------------------------------------------------------


@dataclass
class Progress:
    expected: int
    done: float = 0.0
    first_t: float | None = None  # perf_counter of the first poll that saw a processed event
    first_done: float = 0.0
    last_t: float | None = None  # perf_counter of the first poll that saw all of them
    cpu_first: float = 0.0
    cpu_last: float = 0.0
    broker_cpu_first: float = 0.0
    broker_cpu_last: float = 0.0

    @property
    def complete(self) -> bool:
        return self.last_t is not None

    def rate(self) -> float | None:
        if self.first_t is None or self.last_t is None or self.last_t <= self.first_t:
            return None
        return (self.done - self.first_done) / (self.last_t - self.first_t)

    def seconds(self) -> float | None:
        if self.first_t is None or self.last_t is None:
            return None
        return self.last_t - self.first_t

    def cpu_share(self) -> tuple[float, float] | None:
        """(worker, broker) CPU seconds per wall second between the first and last poll."""
        seconds = self.seconds()
        if not seconds:
            return None
        return (
            (self.cpu_last - self.cpu_first) / seconds,
            (self.broker_cpu_last - self.broker_cpu_first) / seconds,
        )


async def watch(
    worker: Worker,
    session: aiohttp.ClientSession,
    expected: int,
    *,
    interval: float = 0.5,
    stall_seconds: float = 120.0,
    label: str = "",
) -> Progress:
    """Poll /metrics until processed + dead-lettered >= expected (or no progress for a while)."""
    progress = Progress(expected)
    bpid = broker_pid(REPO)
    last_change = time.perf_counter()
    last_print = last_change
    last_done = -1.0
    while True:
        if not worker.alive():
            raise RuntimeError(f"worker {worker.name} died:\n{worker.tail()}")
        try:
            metrics = await worker.scrape_async(session)
        except (TimeoutError, aiohttp.ClientError, OSError):
            await asyncio.sleep(interval)
            continue
        now = time.perf_counter()
        done = metrics.get(PROCESSED, 0.0) + metrics.get(DEAD_LETTERED, 0.0)
        progress.done = done
        cpu = worker.cpu_seconds()
        broker_cpu = proc_cpu_seconds(bpid) if bpid else 0.0
        if progress.first_t is None and done > 0:
            progress.first_t, progress.first_done = now, done
            progress.cpu_first, progress.broker_cpu_first = cpu, broker_cpu
        if done >= expected:
            progress.last_t = now
            progress.cpu_last, progress.broker_cpu_last = cpu, broker_cpu
            return progress
        if done != last_done:
            last_done, last_change = done, now
        elif now - last_change > stall_seconds:
            say(f"{label}: no progress for {stall_seconds:.0f}s at {done:,.0f}/{expected:,}")
            return progress
        if now - last_print >= 10:
            last_print = now
            rate = ""
            if progress.first_t is not None and now > progress.first_t:
                rate = f", {(done - progress.first_done) / (now - progress.first_t):,.0f}/s"
            say(f"{label}: {done:,.0f}/{expected:,} processed{rate}")
        await asyncio.sleep(interval)


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
# phase 1: throughput
# ------------------------------------------------------------------------------------------------


def realistic_traffic(n: int, seed: int) -> tuple[list[KafkaRecord], list[KafkaRecord], str]:
    """(profiles, activity, generator): the simulator's traffic when it is there."""
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
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


async def bare_consume(bootstrap: str, topic: str, expected: int) -> dict[str, float]:
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
    finally:
        await consumer.stop()
    return {
        "events": n,
        "seconds_from_first_record": last - first,
        "seconds_from_assign": last - started,
        "events_per_second": n / (last - first) if last > first else 0.0,
    }


async def throughput_phase(
    args: argparse.Namespace, session: aiohttp.ClientSession, report: Report, workdir: Path
) -> Worker | None:
    prefix = new_prefix()
    topic_set = Topics(prefix)
    await create_topics(topic_set.all(), bootstrap=args.bootstrap)
    say(f"throughput: generating {args.events:,} activity events ...")
    t = time.perf_counter()
    profiles, activity, generator = realistic_traffic(args.events, args.seed)
    kinds = Counter(dict(r.headers).get("ce_type", b"(structured)").decode() for r in activity)
    say(f"throughput: generated by {generator} in {time.perf_counter() - t:.1f}s: {dict(kinds)}")
    await produce(args.bootstrap, topic_set.profiles, profiles)
    n, seconds = await produce(args.bootstrap, topic_set.activity, activity)
    say(f"throughput: produced {n:,} in {seconds:.1f}s ({n / seconds:,.0f}/s)")
    del activity

    bare = await bare_consume(args.bootstrap, topic_set.activity, n)
    say(f"throughput: bare aiokafka consumer {bare['events_per_second']:,.0f} events/s")

    worker = Worker(
        name="throughput",
        app_id=f"{prefix}-scorer",
        topics=topic_set,
        workdir=workdir,
        bootstrap=args.bootstrap,
        store=f"{args.throughput_store}://",
    ).start()
    expected = n + len(profiles)
    progress = await watch(worker, session, expected, label="throughput")
    rate = progress.rate()
    ratio = rate / bare["events_per_second"] if rate and bare["events_per_second"] else None
    cpu = progress.cpu_share()
    report.data["throughput"] = {
        "topic_prefix": prefix,
        "generator": generator,
        "events": n,
        "profiles": len(profiles),
        "event_types": dict(kinds),
        "produce_seconds": seconds,
        "bare": bare,
        "scorer": {
            "store": args.throughput_store,
            "complete": progress.complete,
            "events_done": progress.done,
            "seconds_first_to_last": progress.seconds(),
            "events_per_second": rate,
            "worker_cpu_share": cpu[0] if cpu else None,
            "broker_cpu_share": cpu[1] if cpu else None,
            "rss_bytes": worker.rss_bytes(),
        },
        "ratio": ratio,
    }
    ph = "throughput"
    report.add(ph, f"events ({generator.split(' ')[0]})", fmt_int(n))
    report.add(ph, "bare aiokafka consumer + json.loads (ev/s)", fmt_int(bare["events_per_second"]))
    report.add(
        ph,
        f"scorer worker, {args.throughput_store} store (ev/s)",
        fmt_int(rate) if rate else f"incomplete ({progress.done:,.0f}/{expected:,})",
    )
    if cpu:
        report.add(ph, "  CPU while processing: worker / broker", f"{cpu[0]:.0%} / {cpu[1]:.0%}")
    report.add(
        ph,
        "ratio scorer / bare",
        f"{ratio:.3f}" if ratio is not None else "n/a",
        f">= {TARGET_RATIO}",
        ratio is not None and ratio >= TARGET_RATIO,
    )
    if not progress.complete:
        worker.stop()
        return None
    return worker


# ------------------------------------------------------------------------------------------------
# phase 2: latency
# ------------------------------------------------------------------------------------------------


async def latency_phase(
    args: argparse.Namespace,
    session: aiohttp.ClientSession,
    report: Report,
    worker: Worker,
) -> None:
    # Steady state first: after the throughput phase the second stage (levels, alerts,
    # benchmarks from the score stream) may still be catching up on the same event loop.
    settle_start = time.perf_counter()
    while time.perf_counter() - settle_start < 180:
        cpu_before = worker.cpu_seconds()
        await asyncio.sleep(1.0)
        if worker.cpu_seconds() - cpu_before < 0.15:
            break
    say(f"latency: worker idle after {time.perf_counter() - settle_start:.1f}s")
    org = f"{worker.topics.prefix}-latency-org"
    count = max(1, round(args.latency_rate * args.latency_seconds))
    sent = [0.0] * count
    seen: list[float | None] = [None] * count
    url = f"{worker.url}/orgs/{org}/score"
    polls = 0
    errors = 0
    poll_seconds = args.poll_ms / 1000
    done_producing = asyncio.Event()

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

    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, acks="all", linger_ms=0)
    await producer.start()
    poller = asyncio.create_task(poll())
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
        done_producing.set()
        await poller
    finally:
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await poller
        await producer.stop()

    latencies = [s - t for s, t in zip(seen, sent, strict=True) if s is not None]
    missing = count - len(latencies)
    ph = "latency"
    data: dict[str, Any] = {
        "org": org,
        "events": count,
        "rate_per_second": args.latency_rate,
        "poll_interval_ms": args.poll_ms,
        "polls": polls,
        "poll_errors": errors,
        "missing": missing,
    }
    report.add(
        ph, f"visits at {args.latency_rate:g}/s, polled every {args.poll_ms:g} ms", str(count)
    )
    if latencies:
        p50, p90, p99 = (percentile(latencies, q) for q in (50, 90, 99))
        data.update(
            p50_s=p50,
            p90_s=p90,
            p99_s=p99,
            max_s=max(latencies),
            min_s=min(latencies),
            mean_s=sum(latencies) / len(latencies),
        )
        report.add(ph, "produce -> API p50 (ms)", f"{p50 * 1000:.1f}")
        report.add(ph, "produce -> API p90 (ms)", f"{p90 * 1000:.1f}")
        report.add(
            ph,
            "produce -> API p99 (ms)",
            f"{p99 * 1000:.1f}",
            f"<= {TARGET_P99_S * 1000:.0f}",
            p99 <= TARGET_P99_S and missing == 0,
        )
        report.add(ph, "produce -> API max (ms)", f"{max(latencies) * 1000:.1f}")
    if missing:
        report.add(ph, "events never seen by the API", str(missing), "0", False)
    report.data["latency"] = data


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
    report: Report,
    workdir: Path,
    store: str,
) -> None:
    ph = f"memory[{store}]"
    prefix = new_prefix()
    topic_set = Topics(prefix)
    await create_topics(topic_set.all(), bootstrap=args.bootstrap)
    per_org = math.ceil(args.accounts / args.orgs)
    accounts = per_org * args.orgs
    data: dict[str, Any] = {"topic_prefix": prefix, "orgs": args.orgs, "accounts": accounts}
    report.data[f"memory_{store}"] = data

    worker = Worker(
        name=f"memory-{store}",
        app_id=f"{prefix}-scorer",
        topics=topic_set,
        workdir=workdir,
        bootstrap=args.bootstrap,
        store=f"{store}://",
    ).start()
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
        progress = await watch(worker, session, accounts, label=ph)
        n, produce_seconds = await produced
        data.update(
            produced=n,
            produce_seconds=produce_seconds,
            process_complete=progress.complete,
            processed=progress.done,
            process_events_per_second=progress.rate(),
        )
        say(f"{ph}: produced {n:,} in {produce_seconds:.1f}s ({n / produce_seconds:,.0f}/s)")
        if not progress.complete:
            report.add(ph, "accounts processed", f"{progress.done:,.0f}/{accounts:,}", "all", False)
            return
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
        rate = progress.rate()
        report.add(ph, "accounts (one account.created each)", fmt_int(accounts))
        report.add(ph, "  processing while producing (ev/s)", fmt_int(rate) if rate else "n/a")
        report.add(
            ph,
            "RSS before -> after (MiB)",
            f"{rss_before / MiB:.0f} -> {rss_after / MiB:.0f}",
        )
        report.add(
            ph,
            "memory per tracked account (bytes)",
            f"{per_account:.0f}",
            f"<= {TARGET_BYTES_PER_ACCOUNT}",
            per_account <= TARGET_BYTES_PER_ACCOUNT,
        )
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
        worker = restarted.start()
        recovery = await wait_recovered(worker, session, accounts, within=args.recovery_timeout)
        data.update(recovery)
        if recovery.get("recovered"):
            seconds = float(recovery["recovery_seconds"])
            report.add(
                ph,
                "restart -> ready + all accounts tracked (s)",
                f"{seconds:.1f}",
                f"<= {TARGET_RECOVERY_S:.0f}",
                seconds <= TARGET_RECOVERY_S,
            )
            report.add(ph, "  of which /ready (s)", f"{recovery['ready_seconds']:.1f}")
            report.add(
                ph, "  engagement_state_recovery_seconds", f"{recovery['state_recovery_gauge']:.2f}"
            )
            rss_recovered = float(recovery["rss_after_recovery"])
            report.add(ph, "  RSS after recovery (MiB)", f"{rss_recovered / MiB:.0f}")
        else:
            report.add(
                ph,
                "restart -> ready + all accounts tracked (s)",
                f"not within {args.recovery_timeout:.0f}s (tracked {recovery.get('tracked')})",
                f"<= {TARGET_RECOVERY_S:.0f}",
                False,
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
# main
# ------------------------------------------------------------------------------------------------


def new_prefix() -> str:
    return f"bench-{uuid.uuid4().hex[:10]}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    p.add_argument("--phases", default="throughput,latency,memory", help="comma separated")
    p.add_argument("--events", type=int, default=200_000, help="throughput: activity events")
    p.add_argument("--throughput-store", default="memory", choices=("memory", "rocksdb"))
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--latency-rate", type=float, default=50.0, help="latency: events per second")
    p.add_argument("--latency-seconds", type=float, default=20.0)
    p.add_argument("--poll-ms", type=float, default=5.0, help="latency: API poll interval")
    p.add_argument("--latency-timeout", type=float, default=30.0)
    p.add_argument("--accounts", type=int, default=1_000_000, help="memory: tracked accounts")
    p.add_argument("--orgs", type=int, default=1000, help="memory: organisations")
    p.add_argument("--stores", default="rocksdb,memory", help="memory: table stores, in order")
    p.add_argument("--recovery-timeout", type=float, default=600.0)
    p.add_argument("--out", type=Path, default=REPO / "artifacts" / "bench.json")
    p.add_argument("--keep-topics", action="store_true", help="keep topics and data dirs")
    args = p.parse_args(argv)
    args.phases = {x.strip() for x in args.phases.split(",") if x.strip()}
    unknown = args.phases - {"throughput", "latency", "memory"}
    if unknown:
        p.error(f"unknown phases: {sorted(unknown)}")
    args.stores = [x.strip() for x in args.stores.split(",") if x.strip()]
    if set(args.stores) - {"memory", "rocksdb"}:
        p.error("--stores takes memory and/or rocksdb")
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
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "git_commit": commit,
    }


async def run(args: argparse.Namespace, report: Report, workdir: Path) -> None:
    check_fast_path()
    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=4)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        phase_seconds: dict[str, float] = report.data.setdefault("phase_seconds", {})

        async def timed(name: str, step: Callable[[], Any]) -> Any:
            say(f"=== {name} ===")
            t = time.perf_counter()
            try:
                return await step()
            finally:
                phase_seconds[name] = time.perf_counter() - t
                say(f"=== {name} took {phase_seconds[name]:.1f}s ===")

        worker: Worker | None = None
        try:
            if "throughput" in args.phases or "latency" in args.phases:
                if "throughput" in args.phases:
                    worker = await timed(
                        "throughput", lambda: throughput_phase(args, session, report, workdir)
                    )
                else:
                    worker = await start_plain_worker(args, session, workdir)
                if worker is not None and "latency" in args.phases:
                    w = worker
                    await timed("latency", lambda: latency_phase(args, session, report, w))
        finally:
            if worker is not None:
                worker.stop()
                report.data["throughput_worker_log_findings"] = summarize_log(worker.log_path)
                if not args.keep_topics:
                    shutil.rmtree(worker.data_dir, ignore_errors=True)
                    await delete_topics_with_prefix(worker.topics.prefix, bootstrap=args.bootstrap)
        if "memory" in args.phases:
            for store in args.stores:
                step = functools.partial(memory_phase, args, session, report, workdir, store)
                await timed(f"memory[{store}]", step)


async def start_plain_worker(
    args: argparse.Namespace, session: aiohttp.ClientSession, workdir: Path
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
    ).start()
    await worker.wait_ready_async(session)
    return worker


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM (e.g. from make) unwinds like Ctrl-C, so every worker we started is stopped.
    signal.signal(signal.SIGTERM, _interrupt)
    report = Report()
    report.data.update(
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=machine_info(),
        args={
            k: (sorted(v) if isinstance(v, set) else str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
        },
    )
    workdir = Path(tempfile.mkdtemp(prefix="engagement-bench-"))
    logs_dir = args.out.parent / "bench-logs"
    for stale in logs_dir.glob("worker-*.log"):
        stale.unlink()
    started = time.perf_counter()
    failed: BaseException | None = None
    try:
        asyncio.run(run(args, report, workdir))
    except (Exception, KeyboardInterrupt) as exc:
        failed = exc
        say(f"bench aborted: {exc!r}")
    finally:
        for worker in STARTED:  # normally all stopped already; never leave one behind
            worker.stop(timeout=20)
        total = time.perf_counter() - started
        report.data["total_seconds"] = total
        # Keep the worker logs next to the results; the data dirs go with the temp dir.
        logs_dir.mkdir(parents=True, exist_ok=True)
        for log in workdir.glob("worker-*.log"):
            shutil.copy(log, logs_dir / log.name)
        if not args.keep_topics:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            report.data["workdir"] = str(workdir)
    if failed is not None:
        report.data["error"] = repr(failed)

    phases = report.data.get("phase_seconds", {})
    for name, seconds in phases.items():
        report.add("elapsed", name, f"{seconds:.1f} s")
    report.add("elapsed", "total", f"{total:.1f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report.data, indent=2, default=str) + "\n")

    print()
    print(f"Engagement scorer benchmark ({os.cpu_count()} CPUs, broker {args.bootstrap})")
    print(report.table())
    findings = {
        "throughput/latency worker": report.data.get("throughput_worker_log_findings", []),
        **{
            f"memory[{s}] worker": report.data.get(f"memory_{s}", {}).get("log_findings", [])
            for s in args.stores
        },
    }
    for who, lines in findings.items():
        if lines:
            print(f"\nwarnings in the {who} log:")
            for line in lines:
                print(f"  {line}")
    print(f"\nresults: {args.out.relative_to(REPO) if args.out.is_relative_to(REPO) else args.out}")
    print(
        f"worker logs: {logs_dir.relative_to(REPO) if logs_dir.is_relative_to(REPO) else logs_dir}"
    )
    if failed is not None:
        print(f"\nBENCH FAILED: {failed!r}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
