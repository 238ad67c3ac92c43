"""``engagement-simulator`` (``python -m engagement_simulator``): fill the local Kafka with
simulated intranet traffic.

Creates the input topics if needed, produces one profile per organisation, then `--days` days
of history ending now, then (optionally) live events at `--rate` per second for
`--live-minutes`. Ends with a one-line summary on stdout; logs go to stderr.

    python -m engagement_simulator --orgs 6 --days 30 --seed 42 --live-minutes 10 --rate 20
    python -m engagement_simulator --orgs 6 --days 45 --scenario adoption-drop

``--scenario NAME`` shapes the backfill with a named story (``engagement_simulator.scenarios``):
adoption-drop, growth, onboarding-wave, community-vs-intranet.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

from engagement.cli import parser as command_parser
from engagement.events import KafkaRecord
from engagement.logging import configure_logging
from engagement.settings import Settings

from .demo import Demo, onboarding_wave, shape_demo
from .files import write_jsonl
from .generate import DEFAULT_EVENTS_PER_ACCOUNT_DAY, SimulatedLog, generate
from .live import LiveTraffic
from .producer import Producer, check_bootstrap, ensure_topics
from .scenarios import SCENARIOS, apply_scenario

log = structlog.get_logger("simulator")

#: Longest live run accepted (a safety bound, not a product limit).
MAX_LIVE_MINUTES = 24 * 60
_TICK_SECONDS = 1.0


@dataclass
class Stats:
    generated: int = 0
    profiles: int = 0
    backfill: int = 0
    live: int = 0

    @property
    def total(self) -> int:
        return self.profiles + self.backfill + self.live


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _live_minutes(text: str) -> float:
    value = float(text)
    if not 0 <= value <= MAX_LIVE_MINUTES:
        raise argparse.ArgumentTypeError(f"must be between 0 and {MAX_LIVE_MINUTES}")
    return value


def _end_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.utcoffset() is None:
        raise argparse.ArgumentTypeError("needs an offset, e.g. 2025-03-01T12:00:00Z")
    return value.astimezone(UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = command_parser(
        "engagement-simulator",
        "Produce simulated intranet traffic (CloudEvents) to the local Kafka "
        "(also `python -m engagement_simulator`).",
    )
    parser.add_argument("--orgs", type=_positive_int, default=6, help="organisations (6)")
    parser.add_argument("--days", type=_positive_int, default=30, help="days of history (30)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (42)")
    parser.add_argument(
        "--end",
        type=_end_time,
        default=None,
        help="end of the history, RFC 3339 (default: now); fixes the log for a given seed",
    )
    parser.add_argument(
        "--live-minutes",
        type=_live_minutes,
        default=0.0,
        help="after the backfill, produce live events for this many minutes (0: stop)",
    )
    parser.add_argument(
        "--live-until-stopped",
        action="store_true",
        help="produce live events until stopped (Ctrl-C, SIGTERM) instead of --live-minutes",
    )
    parser.add_argument(
        "--rate", type=_positive_float, default=20.0, help="live events per second (20)"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="the make run demo: the first 6 organisations form one peer group (so its "
        "benchmark is published) and the second one's Reach drops during the live phase "
        "(a wave of accounts that never log in: an alert fires), see engagement_simulator.demo",
    )
    parser.add_argument(
        "--demo-drop-after",
        type=_positive_float,
        default=Demo().drop_after,
        help=f"seconds of live traffic before the demo's drop ({Demo().drop_after:g})",
    )
    parser.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        default=None,
        help="shape the history with a named story: "
        + "; ".join(f"{name}: {s.summary}" for name, s in sorted(SCENARIOS.items())),
    )
    parser.add_argument("--duplicates", type=_fraction, default=0.0, help="fraction re-sent")
    parser.add_argument(
        "--disorder", type=_fraction, default=0.0, help="fraction sent up to 3 days late"
    )
    parser.add_argument(
        "--events-per-account-day",
        type=_positive_float,
        default=DEFAULT_EVENTS_PER_ACCOUNT_DAY,
        help=f"approximate volume ({DEFAULT_EVENTS_PER_ACCOUNT_DAY})",
    )
    parser.add_argument(
        "--jsonl-out",
        type=Path,
        default=None,
        help="also write the backfill as JSON lines to PATH (profiles to PATH.profiles.jsonl)",
    )
    parser.add_argument(
        "--no-produce",
        action="store_true",
        help="generate (and write --jsonl-out) only, do not touch Kafka",
    )
    parser.add_argument(
        "--topics-only",
        action="store_true",
        help="only create the input topics (if missing) and exit; run before the scorer starts",
    )
    parser.add_argument(
        "--bootstrap", default=None, help="Kafka host:port (default: ENGAGEMENT_KAFKA_BOOTSTRAP)"
    )
    parser.add_argument(
        "--allow-remote", action="store_true", help="allow a non-loopback bootstrap address"
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="progress line on a terminal (default: on)",
    )
    return parser


def profiles_path(path: Path) -> Path:
    """Where the profiles go next to an activity JSONL file: `x.jsonl` -> `x.profiles.jsonl`."""
    suffix = path.suffix or ".jsonl"
    return path.with_name(f"{path.stem if path.suffix else path.name}.profiles{suffix}")


async def _live(
    producer: Producer,
    live: LiveTraffic,
    topic: str,
    *,
    rate: float,
    minutes: float,
    stats: Stats,
    wave: tuple[float, Callable[[int], list[KafkaRecord]]] | None = None,
) -> None:
    """Every tick, produce the events due at `rate` with the current time as event time
    (`minutes` may be infinite). `wave`: (seconds after the start, records at that moment),
    sent once (the demo's drop)."""
    started = time.monotonic()
    deadline = started + minutes * 60
    due = 0.0
    last = started
    while True:
        now = time.monotonic()
        if now >= deadline:
            return
        if wave is not None and now - started >= wave[0]:
            records = wave[1](int(datetime.now(UTC).timestamp()))
            stats.live += await producer.send_all(records, topic)
            log.info("demo drop: onboarding wave sent", records=len(records))
            wave = None
        due += (now - last) * rate
        last = now
        count = int(due)
        if count:
            due -= count
            batch = live.batch(datetime.now(UTC), count)
            stats.live += await producer.send_all(batch, topic)
        await asyncio.sleep(min(_TICK_SECONDS, max(0.0, deadline - time.monotonic())))


async def _ensure_input_topics(args: argparse.Namespace, settings: Settings) -> None:
    await ensure_topics(
        args.bootstrap or settings.kafka_bootstrap,
        [settings.activity_topic, settings.profiles_topic],
        settings.topic_partitions,
        compacted=[settings.profiles_topic],
        allow_remote=args.allow_remote,
    )


async def run(args: argparse.Namespace, settings: Settings, stats: Stats) -> SimulatedLog | None:
    if args.topics_only:
        await _ensure_input_topics(args, settings)
        return None
    end = args.end or datetime.now(UTC).replace(microsecond=0)
    t0 = time.monotonic()
    simulated = generate(
        args.seed,
        args.orgs,
        args.days,
        end,
        duplicates=args.duplicates,
        disorder=args.disorder,
        events_per_account_day=args.events_per_account_day,
    )
    if args.scenario is not None:
        simulated = apply_scenario(args.scenario, simulated)
    demo = Demo(drop_after=args.demo_drop_after) if args.demo else None
    if demo is not None:
        simulated = shape_demo(simulated, demo)
    stats.generated = len(simulated.profiles) + len(simulated.activity)
    log.info(
        "generated",
        orgs=len(simulated.org_ids),
        records=len(simulated.activity),
        start=simulated.start.isoformat(),
        end=simulated.end.isoformat(),
        seconds=round(time.monotonic() - t0, 2),
    )
    if args.jsonl_out is not None:
        args.jsonl_out.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(args.jsonl_out, simulated.activity)
        write_jsonl(profiles_path(args.jsonl_out), simulated.profiles)
        log.info(
            "written", activity=str(args.jsonl_out), profiles=str(profiles_path(args.jsonl_out))
        )
    if args.no_produce:
        return simulated

    bootstrap = args.bootstrap or settings.kafka_bootstrap
    activity_topic, profiles_topic = settings.activity_topic, settings.profiles_topic
    await _ensure_input_topics(args, settings)
    async with Producer(bootstrap, allow_remote=args.allow_remote) as producer:
        stats.profiles = await producer.send_all(simulated.profiles, profiles_topic)
        stats.backfill = await producer.send_all(
            simulated.activity, activity_topic, progress=args.progress, label="backfill"
        )
        log.info("backfill produced", records=stats.backfill, topic=activity_topic)
        minutes = math.inf if args.live_until_stopped else args.live_minutes
        if minutes > 0:
            log.info("live", minutes=minutes, rate=args.rate)
            log_of = simulated
            wave = None
            if demo is not None:
                wave = (demo.drop_after, lambda now: onboarding_wave(log_of, demo, now))
            await _live(
                producer,
                LiveTraffic(simulated),
                activity_topic,
                rate=args.rate,
                minutes=minutes,
                stats=stats,
                wave=wave,
            )
    return simulated


async def _main(args: argparse.Namespace, settings: Settings, stats: Stats) -> None:
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
    await run(args, settings, stats)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    scenario = SCENARIOS.get(args.scenario) if args.scenario else None
    if scenario is not None and args.days < scenario.min_days:
        parser.error(f"--scenario {scenario.name} needs --days {scenario.min_days} or more")
    if scenario is not None and args.orgs < scenario.min_orgs:
        parser.error(f"--scenario {scenario.name} needs --orgs {scenario.min_orgs} or more")
    if args.demo and args.orgs < Demo().group_size:
        parser.error(f"--demo needs --orgs {Demo().group_size} or more")
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    if not args.no_produce:
        try:
            check_bootstrap(
                args.bootstrap or settings.kafka_bootstrap, allow_remote=args.allow_remote
            )
        except ValueError as exc:
            print(f"simulator: {exc}", file=sys.stderr)
            return 2
    stats = Stats()
    started = time.monotonic()
    status, note = 0, ""
    try:
        asyncio.run(_main(args, settings, stats))
    except (KeyboardInterrupt, asyncio.CancelledError):
        status, note = 130, " (interrupted)"
    seconds = time.monotonic() - started
    if args.topics_only:
        print(f"simulator: topics {settings.activity_topic}, {settings.profiles_topic} ready{note}")
    elif args.no_produce:
        print(
            f"simulator: generated {stats.generated} records for {args.orgs} organisations "
            f"in {seconds:.1f} s (not produced){note}"
        )
    else:
        print(
            f"simulator: produced {stats.total} records ({stats.profiles} profiles, "
            f"{stats.backfill} backfill, {stats.live} live) in {seconds:.1f} s{note}",
            flush=True,
        )
    return status


if __name__ == "__main__":
    sys.exit(main())
