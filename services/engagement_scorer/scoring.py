"""First stage: activity and profiles in; state changes, closed months, dead letters and score
publications out.

Each handler applies one input to the organisation states (``OrgStates``, persisted to the
tables as it goes) and returns the records it produced, in the order they are to be sent:

- ``activity``: a day-end score (``ScoreEmitter``) when the event takes an organisation into a
  later local day, a dead letter for an unreadable or LATE record, the months it closed;
- ``profile``: the profile stored, or withdrawn (tombstone); a new time zone applies to the
  events processed from then on;
- ``clock_tick``: the live clock moving a caught-up partition's organisations on, with the
  day-end scores first and the months that closed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from engagement.domain import Activity, Figures, OrgState, Outcome
from engagement.events import (
    DeadLetterReason,
    OrgProfile,
    RejectedEvent,
    decode_activity,
    decode_org_profile,
)
from engagement.fast_ingest import DecodeStats, decode_to_activity
from engagement.ingest import to_activity
from engagement.settings import Settings

from .breakdown_store import Breakdowns
from .clock import WorkerClock
from .emitter import ScoreEmitter
from .history import History
from .ports import Partitions
from .progress import Progress, caught_up
from .publish import Outgoing, dead_letter, month_closed
from .state import OrgStates

__all__ = [
    "ActivityApplied",
    "ActivityDecoder",
    "BatchApplied",
    "ClockMoved",
    "ProfileApplied",
    "ScoringStage",
    "reference_decode",
]

log = structlog.get_logger("engagement_scorer.scoring")

LATE_DETAIL = "older than every window and open month of the organisation"

#: (key, value, headers, *, now, max_future, max_value_bytes) -> (CloudEvents type, Activity);
#: raises ``RejectedEvent`` exactly as ``decode_activity`` does
ActivityDecoder = Callable[..., tuple[str, Activity]]


def _header_list(headers: Any) -> list[tuple[str, bytes]]:
    if isinstance(headers, dict):
        return list(headers.items())
    return list(headers or ())


def reference_decode(
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes]],
    *,
    now: datetime,
    max_future: timedelta,
    max_value_bytes: int,
) -> tuple[str, Activity]:
    """The CloudEvents SDK decoder and the contract's models, then the domain's Activity."""
    inbound = decode_activity(
        key, value, headers, now=now, max_future=max_future, max_value_bytes=max_value_bytes
    )
    return inbound.type, to_activity(inbound)


@dataclass(slots=True)
class ActivityApplied:
    outputs: list[Outgoing] = field(default_factory=list)
    outcome: Outcome | None = None  # None: the record was refused (dead-lettered)
    event_type: str | None = None  # the CloudEvents type of an accepted record


@dataclass(slots=True)
class BatchApplied:
    outputs: list[Outgoing] = field(default_factory=list)  # in the order to send them
    processed: dict[str, int] = field(default_factory=dict)  # applied, by CloudEvents type
    late: int = 0  # dead-lettered as LATE (not in ``processed``)
    after_deletion: int = 0  # applied after the account's deletion (also in ``processed``)


@dataclass(slots=True)
class ProfileApplied:
    event_type: str | None = None  # set when a profile was stored
    rejected: DeadLetterReason | None = None  # why a record was refused (counted, not sent)
    detail: str = ""


@dataclass(slots=True)
class ClockMoved:
    outputs: list[Outgoing] = field(default_factory=list)
    moved: int = 0  # organisations moved on to the tick's moment


class ScoringStage:
    def __init__(
        self,
        settings: Settings,
        states: OrgStates,
        emitter: ScoreEmitter,
        clock: WorkerClock,
        partitions: Partitions,
        progress: Progress,
        history: History | None = None,
        breakdowns: Breakdowns | None = None,
    ) -> None:
        self.settings = settings
        self.history = history  # closed months recorded (issue 16)
        self.breakdowns = breakdowns  # the breakdowns' facts (issue 16)
        self.states = states
        self.emitter = emitter
        self.clock = clock
        self.partitions = partitions
        self.progress = progress
        #: the fast decoder, proved identical, with the reference one behind it (``fast_ingest``)
        self.decode_stats = DecodeStats()
        self.decode: ActivityDecoder = functools.partial(
            decode_to_activity, stats=self.decode_stats
        )
        self._max_future = timedelta(seconds=settings.max_future_seconds)

    def activity(
        self, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> ActivityApplied:
        """One record (the per-record path and unit tests); ``activity_batch`` for many."""
        result = ActivityApplied()
        now = self.clock.now_datetime()
        result.outcome, result.event_type = self._apply_record(
            key, value, headers, result.outputs, now
        )
        if result.outcome is None:
            result.event_type = None
        return result

    def activity_batch(self, partition: int, records: Sequence[Any]) -> BatchApplied:
        """The records of one activity partition, in offset order (``dataplane``): each as
        ``activity`` would apply it, the state changes left in ``states.writes`` for one
        write per changed key, the counts summed.

        "Now" (the future-time check) is read once per batch: the clock counts whole
        seconds, and a batch takes a fraction of one."""
        self.states.writes_at(partition)
        batch = BatchApplied()
        outputs, processed = batch.outputs, batch.processed
        apply = self._apply_record
        now = self.clock.now_datetime()
        late, after_deletion = Outcome.LATE, Outcome.AFTER_DELETION
        for record in records:
            headers = record.headers
            if type(headers) is not list:
                headers = (
                    list(headers.items()) if isinstance(headers, dict) else list(headers or ())
                )
            outcome, event_type = apply(record.key, record.value, headers, outputs, now)
            if outcome is None:
                continue
            if outcome is late:
                batch.late += 1
                continue
            if outcome is after_deletion:
                batch.after_deletion += 1
            processed[event_type] = processed.get(event_type, 0) + 1
        if records:
            self.progress.activity.processed(partition, records[-1].offset)
        return batch

    def _apply_record(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        outputs: list[Outgoing],
        now: datetime,
    ) -> tuple[Outcome | None, str]:
        """Apply one record; its records go to ``outputs``. Returns its outcome (None: it was
        dead-lettered) and CloudEvents type."""
        s = self.settings
        try:
            event_type, activity = self.decode(
                key,
                value,
                headers,
                now=now,
                max_future=self._max_future,
                max_value_bytes=s.max_event_bytes,
            )
        except RejectedEvent as exc:
            outputs.append(
                dead_letter(s.dead_letter_topic, key, value, headers, exc.reason, exc.detail)
            )
            return None, ""
        org_id = activity.org_id
        states = self.states
        state = states.orgs.get(org_id)
        if state is None:
            state = states.state_for(org_id)
        emitter = self.emitter
        dirty = emitter.dirty
        if org_id in dirty and state.leaves_day(activity.time):
            outputs.extend(emitter.emit({org_id}, day_end=True))  # the day it leaves, first
        applied = state.apply(activity)
        outcome = applied.outcome
        if applied.changes:
            states.persist(org_id, applied.changes)
        if outcome is Outcome.LATE:
            late = DeadLetterReason.LATE
            outputs.append(dead_letter(s.dead_letter_topic, key, value, headers, late, LATE_DETAIL))
        elif self.breakdowns is not None:  # the breakdowns' facts (written with the batch)
            self.breakdowns.apply_on(org_id, activity, state.calendar)
        if applied.closed_months:
            outputs.extend(self.closed_months(state, applied.closed_months))
        dirty.add(org_id)
        return outcome, event_type

    def closed_months(self, state: OrgState, months: list[Figures]) -> list[Outgoing]:
        """Final figures of the months the state just closed: each month closes once, in the
        state (persisted with its clock), so it is published once (ids are deterministic)."""
        s = self.settings
        for figures in months:  # history of closed months (issue 16 hook)
            if self.history is not None:
                self.history.record_month(state.org_id, figures)
        return [
            Outgoing.of(s.monthly_topic, month_closed(state, figures, s.output_source))
            for figures in months
        ]

    def profile(
        self, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
    ) -> ProfileApplied:
        if value is None:  # compaction tombstone: the profile was withdrawn
            if key:
                self.states.set_profile(key.decode(errors="replace"), None)
            return ProfileApplied()
        try:
            inbound = decode_org_profile(key, value, headers, now=self.clock.now_datetime())
        except RejectedEvent as exc:
            return ProfileApplied(rejected=exc.reason, detail=exc.detail)
        profile = inbound.data
        assert isinstance(profile, OrgProfile)
        self.states.set_profile(profile.org_id, profile.model_dump(mode="json"))
        state = self.states.orgs.get(profile.org_id)
        if state is not None and state.timezone != profile.timezone:
            log.warning(
                "timezone changed: applies to events processed from now on",
                org_id=profile.org_id,
                old=state.timezone,
                new=profile.timezone,
            )
            state.set_timezone(profile.timezone)
        self.emitter.dirty.add(profile.org_id)
        return ProfileApplied(event_type=inbound.type)

    def clock_tick(self, partition: int, now: int) -> ClockMoved:
        """The live clock reached ``now``: organisations of ``partition`` move on to it,
        closing the months that ended (plus grace) for good, but only when the partition is
        caught up, so a backlog is never cut short (see ``progress``). Run in the clock
        agent, in the partition's context, so the state changes go to the right changelog
        partitions. Synchronous: nothing can be applied between the check and the moves."""
        s = self.settings
        moved = ClockMoved()
        if now <= 0 or not self.states.ready:
            return moved
        # Nothing of the partition left to read: no activity, and no profile (whose time zone
        # decides which months are over).
        if not caught_up(self.partitions, s.activity_topic, partition, self.progress.activity):
            return moved
        if not caught_up(self.partitions, s.profiles_topic, partition, self.progress.profiles):
            return moved
        # Restored organisations waiting for the second stage could only hold the day they
        # leave in memory, lost with the worker while their new state is in the changelog: a
        # later tick (the clock only goes on) moves them once they may be published.
        if not self.emitter.partition_ready(partition):
            return moved
        self.states.writes_at(partition)
        orgs = self.states.orgs_of_partition(partition)
        # The day each organisation leaves is published first (see ``emitter``).
        leaving = {
            org_id
            for org_id in orgs
            if org_id in self.emitter.dirty and self.states.orgs[org_id].leaves_day(now)
        }
        if leaving:
            moved.outputs.extend(self.emitter.emit(leaving, day_end=True))
        months: list[Outgoing] = []
        for org_id in orgs:
            state = self.states.orgs[org_id]
            if state.as_of >= now:
                continue
            applied = state.advance(now)
            self.states.persist(org_id, applied.changes)
            months.extend(self.closed_months(state, applied.closed_months))
            self.emitter.dirty.add(org_id)
            moved.moved += 1
        moved.outputs.extend(months)
        return moved
