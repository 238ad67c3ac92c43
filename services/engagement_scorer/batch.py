"""Batch recomputation: the same figures from a recorded event log, with the same domain core.

    engagement-batch --jsonl activity.jsonl [--profiles-jsonl profiles.jsonl]
    engagement-batch --topic intranet.activity [--profiles-topic intranet.org-profiles]

    engagement-batch --jsonl activity.jsonl --history   # + the history

(``python -m engagement_scorer.batch`` is the same command.)

The log is replayed in its recorded order (per organisation this is the order the stream
sees). By default every organisation is reported at its own stream time, as a replay of the
stream reports it; ``--as-of`` reports all at one later moment instead (use it to check a
worker that ran with the live clock). Output: one JSON object, org_id -> score payload.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any

from engagement.cli import parser as command_parser
from engagement.domain import Activity, Figures, OrgState, Outcome, ScoringRules, month_label
from engagement.domain.breakdowns import OrgBreakdowns
from engagement.domain.history import DEFAULT_RETENTION_DAYS, HistoryPoint, replay_with_history
from engagement.events import (
    KafkaRecord,
    OrgProfile,
    RejectedEvent,
    decode_activity,
    decode_org_profile,
)
from engagement.ingest import epoch_seconds, to_activity
from engagement.kafka_security import KafkaSecurity, aiokafka_kwargs
from engagement.recording import read_jsonl
from engagement.settings import Settings

from .breakdown_store import breakdown_view
from .publish import score_payload

__all__ = ["BatchResult", "main", "recompute", "timezones_from"]

# A recorded log may be replayed long after it was written: future-time checks are relative
# to "now" only for live input, so the batch accepts any time.
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


class BatchResult:
    def __init__(self) -> None:
        self.scores: dict[str, dict[str, Any]] = {}
        self.rejected: dict[str, int] = {}
        self.outcomes: dict[str, int] = {}
        #: org -> the calendar months the replay closed, in order (``ReplayResult.closed_months``:
        #: the figures the stream publishes once per month on ``engagement.monthly``)
        self.closed_months: dict[str, list[Figures]] = {}
        #: org -> local day ordinal -> day-end figures, and org -> month key -> closed month:
        #: the history the stream records (``engagement.domain.history``)
        self.history_days: dict[str, dict[int, HistoryPoint]] = {}
        self.history_months: dict[str, dict[int, HistoryPoint]] = {}
        #: org -> the breakdowns at the reported moment (``breakdown_store.breakdown_view``)
        self.breakdowns: dict[str, dict[str, Any]] = {}


def timezones_from(records: Iterable[KafkaRecord]) -> dict[str, str]:
    """Latest profile per org wins, as on the compacted topic."""
    zones: dict[str, str] = {}
    for record in records:
        try:
            event = decode_org_profile(record.key, record.value, record.headers, now=_FAR_FUTURE)
        except RejectedEvent:
            continue
        assert isinstance(event.data, OrgProfile)
        zones[event.data.org_id] = event.data.timezone
    return zones


def recompute(
    records: Iterable[KafkaRecord],
    rules: ScoringRules,
    timezones: dict[str, str] | None = None,
    as_of: int | None = None,
    max_value_bytes: int = 256 * 1024,
    retention_days: int = DEFAULT_RETENTION_DAYS,
) -> BatchResult:
    result = BatchResult()

    def activities() -> Iterator[Activity]:
        for record in records:
            try:
                event = decode_activity(
                    record.key,
                    record.value,
                    record.headers,
                    now=_FAR_FUTURE,
                    max_value_bytes=max_value_bytes,
                )
            except RejectedEvent as exc:
                result.rejected[exc.reason.value] = result.rejected.get(exc.reason.value, 0) + 1
                continue
            yield to_activity(event)

    breakdowns: dict[str, OrgBreakdowns] = {}

    def breakdown(state: OrgState, activity: Activity, outcome: Outcome) -> None:
        if outcome is Outcome.LATE:
            return
        found = breakdowns.get(state.org_id)
        if found is None:
            found = breakdowns[state.org_id] = OrgBreakdowns(
                rules.window_days, rules.included_kinds
            )
        found.apply(activity, state.calendar.day(activity.time))

    replayed = replay_with_history(activities(), rules, timezones, retention_days, breakdown)
    result.outcomes = {k.value: v for k, v in replayed.outcomes.items()}
    result.closed_months = {org: list(months) for org, months in replayed.closed_months.items()}
    result.history_days = replayed.days
    result.history_months = replayed.months
    for org_id, state in sorted(replayed.orgs.items()):
        moment = state.as_of if as_of is None else max(as_of, state.as_of)
        result.scores[org_id] = score_payload(state, moment).model_dump(mode="json")
        if org_id in breakdowns:
            window = state.figures(moment)
            result.breakdowns[org_id] = breakdown_view(
                breakdowns[org_id].figures(window.last_day, window.components["visit"].denominator)
            )
    return result


async def _read_topic(
    bootstrap: str, topic: str, security: dict[str, Any] | None = None
) -> list[KafkaRecord]:
    """Everything on the topic from offset 0 to the end offsets at start, partition order.
    ``security``: the client's TLS/SASL arguments (``aiokafka_kwargs``), as the worker's."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **(security or {}),
    )
    await consumer.start()
    try:
        # The consumer knows a topic's partitions once its metadata is asked for: nothing
        # subscribes here, so ask for it (without this the topic reads as empty).
        client = getattr(consumer, "_client", None)
        if client is not None:
            client.add_topic(topic)
            await client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        out: list[KafkaRecord] = []
        pending = {tp for tp in partitions if ends[tp] > 0}
        while pending:
            batch = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, messages in batch.items():
                for m in messages:
                    if m.offset < ends[tp]:
                        out.append(KafkaRecord(m.key, m.value or b"", list(m.headers or [])))
                    if m.offset + 1 >= ends[tp]:
                        pending.discard(tp)
        return out
    finally:
        await consumer.stop()


def history_json(result: BatchResult) -> dict[str, Any]:
    """org -> {"days": {date: record}, "months": {YYYY-MM: record}} (``HistoryPoint``
    records, as the worker's history tables hold them)."""
    orgs = sorted(set(result.history_days) | set(result.history_months))
    return {
        org: {
            "days": {
                date.fromordinal(d).isoformat(): p.to_record()
                for d, p in result.history_days.get(org, {}).items()
            },
            "months": {
                month_label(k): p.to_record() for k, p in result.history_months.get(org, {}).items()
            },
        }
        for org in orgs
    }


def main(argv: list[str] | None = None) -> int:
    parser = command_parser("engagement-batch", (__doc__ or "").strip())
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--jsonl", help="recorded activity log (JSON lines)")
    source.add_argument("--topic", help="activity topic to read from offset 0")
    parser.add_argument("--profiles-jsonl", help="recorded org profiles (JSON lines)")
    parser.add_argument("--profiles-topic", help="org profiles topic to read from offset 0")
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default: settings)")
    parser.add_argument("--as-of", help="report every org at this RFC 3339 moment")
    parser.add_argument("--out", help="write the JSON here instead of stdout")
    parser.add_argument(
        "--history",
        action="store_true",
        help="also report every organisation's day-end and closed-month history and its breakdowns",
    )
    args = parser.parse_args(argv)
    settings = Settings()
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    # the same TLS/SASL settings (ENGAGEMENT_KAFKA_*) as the worker's own clients
    security = aiokafka_kwargs(KafkaSecurity.from_settings(settings))

    if args.jsonl:
        records: list[KafkaRecord] = list(read_jsonl(args.jsonl))
    else:
        records = asyncio.run(_read_topic(bootstrap, args.topic, security))
    profiles: list[KafkaRecord] = []
    if args.profiles_jsonl:
        profiles = list(read_jsonl(args.profiles_jsonl))
    elif args.profiles_topic:
        profiles = asyncio.run(_read_topic(bootstrap, args.profiles_topic, security))
    as_of = None
    if args.as_of:
        as_of = epoch_seconds(datetime.fromisoformat(args.as_of.replace("Z", "+00:00")))
    result = recompute(
        records,
        settings.scoring_rules(),
        timezones_from(profiles),
        as_of,
        settings.max_event_bytes,
        settings.history_retention_days,
    )
    output: dict[str, Any] = {
        "scores": result.scores,
        "rejected": result.rejected,
        "outcomes": result.outcomes,
    }
    if args.history:
        output["history"] = history_json(result)
        output["breakdowns"] = result.breakdowns
    body = json.dumps(
        output,
        indent=2,
        sort_keys=True,
    )
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(body + "\n")
    else:
        sys.stdout.write(body + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
