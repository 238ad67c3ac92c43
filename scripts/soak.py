"""``make soak``: does the worker's state level off as days roll out of the window?

Streams a long simulated history (default 10 organisations x 150 days, a constant population)
into one fresh worker, ``--step-days`` days of event time at a time. After each step it waits
until the worker has processed everything produced so far, then samples the worker's
``engagement_tracked_accounts``, ``engagement_tracked_messages``, ``engagement_tracked_reads``
and its resident memory (``/proc``), and prints one row per step.

Verdict, checked on the samples (printed, and the exit status is 1 when a check fails):

- messages and reads held: after the first 30-day window and the open month are full (event
  day ``--settle-days``, default 65), their growth up to the largest later sample is at most
  ``--tolerance`` (0.35) times the growth of the history streamed over the same span. State
  that is never pruned grows like the history (ratio about 1: the records streamed almost
  triple from day 65 to day 150 by default); state that follows the window only moves with
  the population (the simulated organisations keep onboarding accounts) and its activity.
- resident memory: over the same span it grows by at most ``--rss-tolerance`` (25 %).

Needs the local Kafka (``make soak`` starts it when it is not running; extra arguments:
``make soak SOAK_ARGS='--orgs 20 --days 200'``). Not run in CI: it takes minutes
and its verdict is about a trend, not a fixed figure. Results: ``artifacts/soak.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parent.parent
# the repository root for the shared Kafka toolkit (tests/toolkit), like pytest has it
sys.path[:0] = [str(REPO), str(REPO / "scripts")]

from bench_support import (  # noqa: E402
    Topics,
    Worker,
    create_topics,
    delete_topics_with_prefix,
    produce,
)

from engagement.events import KafkaRecord  # noqa: E402
from engagement_simulator.traffic import generate  # noqa: E402

GAUGES = (
    "engagement_tracked_accounts",
    "engagement_tracked_messages",
    "engagement_tracked_reads",
)


def say(text: str) -> None:
    print(f"[soak] {text}", file=sys.stderr, flush=True)


def event_time(record: KafkaRecord) -> datetime:
    """The CloudEvent's time: a ``ce_time`` header (binary mode) or ``time`` (structured)."""
    text = next((v.decode() for n, v in record.headers if n == "ce_time"), None)
    if text is None:
        text = json.loads(record.value)["time"]
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def steps(
    records: list[KafkaRecord], start: datetime, step_days: int
) -> list[tuple[int, list[KafkaRecord]]]:
    """Records grouped by ``step_days`` of event time: [(days since start at the step's end,
    records)]; the log is in event-time order (no disorder)."""
    grouped: dict[int, list[KafkaRecord]] = {}
    for record in records:
        index = int((event_time(record) - start) / timedelta(days=step_days))
        grouped.setdefault(index, []).append(record)
    return [((i + 1) * step_days, grouped[i]) for i in sorted(grouped)]


async def processed(worker: Worker, session: aiohttp.ClientSession) -> float:
    m = await worker.scrape_async(session)
    return m.get("engagement_events_processed_total", 0.0) + m.get(
        "engagement_events_dead_lettered_total", 0.0
    )


async def wait_processed(
    worker: Worker, session: aiohttp.ClientSession, target: int, within: float
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not worker.alive():
            raise RuntimeError(f"worker exited:\n{worker.tail()}")
        if await processed(worker, session) >= target:
            return
        await asyncio.sleep(0.5)
    raise RuntimeError(f"worker did not process {target} records in {within:.0f} s")


async def sample(worker: Worker, session: aiohttp.ClientSession) -> dict[str, float]:
    """Gauges are refreshed every 10 s by the worker: wait for a fresh value."""
    await asyncio.sleep(11)
    m = await worker.scrape_async(session)
    row = {name.removeprefix("engagement_tracked_"): m.get(name, 0.0) for name in GAUGES}
    row["rss_mib"] = worker.rss_bytes() / 2**20
    return row


def verdict(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """Compare how much state grew after ``--settle-days`` with how much history was streamed.

    Unbounded state grows like the history (ratio about 1); state that follows the window only
    moves with the population and its activity (the simulator's organisations keep onboarding
    accounts, so some growth is expected). The check: state growth / history growth at most
    ``--tolerance``; memory growth at most ``--rss-tolerance``.
    """
    settled = [r for r in rows if r["day"] >= args.settle_days]
    if len(settled) < 2:
        return {"ok": False, "reason": f"fewer than 2 samples after day {args.settle_days}"}
    base, last = settled[0], settled[-1]
    history_growth = last["records"] / base["records"] - 1
    checks: dict[str, Any] = {}
    for key in ("messages", "reads", "rss_mib"):
        peak = max(r[key] for r in settled[1:])
        growth = peak / base[key] - 1 if base[key] else float("inf")
        check: dict[str, Any] = {
            "at_settle": base[key],
            "peak_after": peak,
            "growth": round(growth, 4),
        }
        if key == "rss_mib":
            check.update(tolerance=args.rss_tolerance, ok=growth <= args.rss_tolerance)
        else:
            ratio = growth / history_growth if history_growth > 0 else float("inf")
            check.update(
                history_growth=round(history_growth, 4),
                ratio_to_history=round(ratio, 4),
                tolerance=args.tolerance,
                ok=ratio <= args.tolerance,
                per_account_at_settle=round(base[key] / base["accounts"], 3),
                per_account_at_end=round(last[key] / last["accounts"], 3),
            )
        checks[key] = check
    return {"ok": all(c["ok"] for c in checks.values()), "from_day": base["day"], **checks}


async def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    end = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=args.days)
    simulated = generate(args.seed, args.orgs, args.days, end)
    prefix = f"soak-{uuid.uuid4().hex[:8]}"
    topics = Topics(prefix)
    await create_topics(topics.all(), bootstrap=args.bootstrap)
    worker = Worker(
        name="soak",
        app_id=prefix,
        topics=topics,
        workdir=workdir,
        bootstrap=args.bootstrap,
        store="memory://",
    ).start()
    rows: list[dict[str, Any]] = []
    try:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await worker.wait_ready_async(session)
            await produce(args.bootstrap, topics.profiles, simulated.profiles)
            say(
                f"{args.orgs} organisations, {args.days} days, "
                f"{len(simulated.activity)} activity records"
            )
            print(
                f"{'day':>5} {'records':>9} {'accounts':>9} {'messages':>9} {'reads':>9} "
                f"{'RSS MiB':>8}"
            )
            total = 0
            for day, chunk in steps(simulated.activity, simulated.start, args.step_days):
                n, _ = await produce(args.bootstrap, topics.activity, chunk)
                total += n
                await wait_processed(worker, session, total, args.step_timeout)
                row = {
                    "day": min(day, args.days),
                    "records": total,
                    **await sample(worker, session),
                }
                rows.append(row)
                print(
                    f"{row['day']:>5} {total:>9} {row['accounts']:>9.0f} {row['messages']:>9.0f} "
                    f"{row['reads']:>9.0f} {row['rss_mib']:>8.1f}",
                    flush=True,
                )
    finally:
        worker.stop()
        if not args.keep:
            await delete_topics_with_prefix(prefix, bootstrap=args.bootstrap)
    return {"rows": rows, "verdict": verdict(rows, args)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    )
    p.add_argument("--orgs", type=int, default=10)
    p.add_argument("--days", type=int, default=150)
    p.add_argument("--step-days", type=int, default=10)
    p.add_argument("--seed", type=int, default=5)
    p.add_argument("--settle-days", type=int, default=65)
    p.add_argument("--tolerance", type=float, default=0.35)
    p.add_argument("--rss-tolerance", type=float, default=0.25)
    p.add_argument("--step-timeout", type=float, default=600.0)
    p.add_argument("--out", type=Path, default=REPO / "artifacts" / "soak.json")
    p.add_argument("--keep", action="store_true", help="keep the topics and the worker's data")
    args = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="engagement-soak-"))
    started = time.monotonic()
    try:
        result = asyncio.run(run(args, workdir))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    result["seconds"] = round(time.monotonic() - started, 1)
    result["args"] = {k: str(v) for k, v in vars(args).items()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    v = result["verdict"]
    for key in ("messages", "reads", "rss_mib"):
        if key in v:
            c = v[key]
            detail = (
                f", {c['ratio_to_history']:.2f} of the history's {c['history_growth']:+.0%}"
                f" (tolerance {c['tolerance']:.2f}); per account "
                f"{c['per_account_at_settle']} -> {c['per_account_at_end']}"
                if "ratio_to_history" in c
                else f" (tolerance {c['tolerance']:+.0%})"
            )
            say(
                f"{key}: {c['at_settle']:.0f} at day {v['from_day']}, peak after "
                f"{c['peak_after']:.0f} ({c['growth']:+.1%}{detail})"
            )
    say(f"{'LEVELS OFF' if v['ok'] else 'DOES NOT LEVEL OFF'} ({result['seconds']} s, {args.out})")
    return 0 if v["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
