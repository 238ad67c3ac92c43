"""One organisation's exact adoption state, updated event by event.

The state is the minimum that exact counting needs (see the product definition, section 6):
every account that exists (Reach is not windowed), the channel messages still inside a window or
an open month with their distinct readers, and per-day histograms that make the windowed
numerators a sum over at most ~60 buckets instead of a scan of the accounts.

Time only moves forward through ``as_of`` (event time, or the wall clock when an adapter advances
it in live operation); nothing here reads a clock. ``apply`` returns what changed so an adapter
can persist exactly that (a changelog record per changed account, message or read), and the
months that closed so it can publish their final figures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from itertools import repeat
from sys import intern

from .accounts import (
    ACTIVITY_SLOTS,
    KIND_CODES,
    Account,
    kind_name,
    pack,
    packed_activated_at,
    packed_created_at,
    packed_deleted_at,
    packed_kind,
    packed_last_day,
    unpack,
)
from .activity import Activity, ActivityKind
from .calendar import LocalCalendar, month_key_of
from .figures import Component, Figures, engagement_score
from .rules import DEFAULT_TIMEZONE, ScoringRules

__all__ = [
    "AccountChanged",
    "Applied",
    "ClockChanged",
    "Message",
    "MessageChanged",
    "OrgState",
    "Outcome",
    "ReadChanged",
    "StateChange",
]

_SLOT_OF_KIND = {
    ActivityKind.VISIT: "visit",
    ActivityKind.INTERACTION: "interact",
    ActivityKind.CONTENT_PUBLISHED: "contribute",
}
_LAST_FIELDS = tuple((slot, f"{slot}_last") for slot in ACTIVITY_SLOTS)


def _activity_changes_nothing(record: int, kind: ActivityKind, t: int, day: int) -> bool:
    """True only if an activity event (not account.created/deleted) at ``t`` on ``day`` leaves
    the existing, not deleted account ``record`` exactly as it is: already known and activated
    no later than ``t``, and, for Visit/Interact/Contribute, already active later in the same
    month. False means "apply it in full" (which may still change nothing)."""
    created_at = packed_created_at(record)
    activated_at = packed_activated_at(record)
    if not (created_at and created_at <= t and activated_at and activated_at <= t):
        return False
    slot = _SLOT_OF_KIND.get(kind)
    if slot is None:
        return True
    last = packed_last_day(record, slot)
    return last != 0 and day <= last and month_key_of(day) == month_key_of(last)


class Outcome(Enum):
    APPLIED = "applied"
    LATE = "late"  # older than every window and open month: counted, otherwise ignored
    # an event at or after its account's (already known) deletion: deletion is final
    AFTER_DELETION = "after_deletion"


@dataclass(frozen=True, slots=True)
class AccountChanged:
    account_id: str
    record: int


@dataclass(frozen=True, slots=True)
class MessageChanged:
    """``record`` is (day, time, audience) or None when the message left the state."""

    message_id: str
    record: tuple[int, int, int] | None


@dataclass(frozen=True, slots=True)
class ReadChanged:
    """A read (earliest read time), or None when it left the state."""

    message_id: str
    account_id: str
    time: int | None


@dataclass(frozen=True, slots=True)
class ClockChanged:
    record: tuple[int, int, int, int]  # (clock, as_of, closed_through, first_month)


StateChange = AccountChanged | MessageChanged | ReadChanged | ClockChanged


@dataclass(slots=True)
class Applied:
    outcome: Outcome
    changes: list[StateChange] = field(default_factory=list)
    closed_months: list[Figures] = field(default_factory=list)


@dataclass(slots=True)
class Message:
    """A created channel message. ``audience`` 0 means the default audience (activated
    accounts); ``readers`` maps account -> earliest read time; ``counted_reads`` is how many
    of the readers count right now (kept up to date as accounts are deleted or re-kinded)."""

    day: int
    time: int
    audience: int
    readers: dict[str, int] = field(default_factory=dict)
    counted_reads: int = 0


class OrgState:
    """Exact state of one organisation. Not thread-safe; one writer (the org's partition)."""

    def __init__(self, org_id: str, rules: ScoringRules, timezone: str = DEFAULT_TIMEZONE) -> None:
        self.org_id = org_id
        self.rules = rules
        self.calendar = LocalCalendar(timezone)
        self.clock = 0  # max event time accepted (epoch seconds)
        self.as_of = 0  # max(clock, wall clock pushed by the adapter)
        self.closed_through = -1  # month key of the latest closed month
        self.first_month = -1  # month key of the first event: reporting starts there
        self.accounts: dict[str, int] = {}
        self.existing = 0
        self.activated = 0
        self._last_days: dict[str, dict[int, int]] = {slot: {} for slot in ACTIVITY_SLOTS}
        self.messages: dict[str, Message] = {}
        self.pending_reads: dict[str, dict[str, int]] = {}
        self._floor_day = 0
        # Boundaries derived from as_of, recomputed only when as_of crosses them (hot path).
        self._close_deadline = -1  # the next month closes once as_of passes this
        self._as_of_day = -1
        self._as_of_window_first = 0
        self._day_memo_as_of = -1  # as_of whose local day is _day_memo (hot path)
        self._day_memo = 0
        self._persisted_clock_key: tuple[int, int, int] | None = None

    # ---- reading -------------------------------------------------------------------------

    @property
    def timezone(self) -> str:
        return self.calendar.timezone

    def window_days(self, as_of: int) -> tuple[int, int]:
        last = self.calendar.day(as_of)
        return last - self.rules.window_days + 1, last

    def figures(self, as_of: int | None = None) -> Figures:
        """The rolling-window figures at ``as_of`` (default and minimum: the state's as_of)."""
        as_of = self.as_of if as_of is None else max(as_of, self.as_of)
        first, last = self.window_days(as_of)
        return self._live_figures(as_of, first, last)

    def month_to_date(self, as_of: int | None = None) -> Figures:
        as_of = self.as_of if as_of is None else max(as_of, self.as_of)
        last = self.calendar.day(as_of)
        return self._live_figures(as_of, self.calendar.month_first_day(month_key_of(last)), last)

    def leaves_day(self, t: int) -> bool:
        """Whether moving to time ``t`` takes the state into a later local day than its as_of
        (the adapter then publishes the day it leaves: its last score of the day)."""
        if t <= self.as_of or self.first_month < 0:
            return False
        return self.calendar.day(t) > self._local_day_of_as_of()

    def tracked_accounts(self) -> int:
        return len(self.accounts)

    def tracked_messages(self) -> int:
        """Channel messages held: only those a window or an open month can still count."""
        return len(self.messages)

    def tracked_reads(self) -> int:
        """(message, reader) pairs held, including reads of messages not seen yet."""
        held = sum(len(m.readers) for m in self.messages.values())
        return held + sum(len(readers) for readers in self.pending_reads.values())

    def _live_figures(self, as_of: int, first: int, last: int) -> Figures:
        """Figures from the counters. Exact because nothing in the state is later than as_of."""
        comps = {"reach": Component(self.activated, self.existing)}
        for slot in ACTIVITY_SLOTS:
            hist = self._last_days[slot]
            num = sum(map(hist.get, range(first, last + 1), repeat(0)))  # hist.get(day, 0)
            comps[slot] = Component(num, self.activated)
        read_sum = audience_sum = 0
        for message in self.messages.values():
            if first <= message.day <= last:
                audience = message.audience or self.activated
                read_sum += min(message.counted_reads, audience)
                audience_sum += audience
        comps["view"] = Component(read_sum, audience_sum)
        score = engagement_score(comps, self.rules.weights)
        return Figures(self.org_id, as_of, first, last, comps, score)

    def month_figures(self, month_key: int) -> Figures:
        """Figures of a calendar month at its last second, by a scan that honours every time.

        Used once per month and organisation (closing), so a scan of the accounts is fine;
        it needs times because events of the grace period after the month are already in.
        """
        cal = self.calendar
        end = cal.month_end(month_key)
        first, last = cal.month_first_day(month_key), cal.month_last_day(month_key)
        existing = activated = 0
        nums = dict.fromkeys(ACTIVITY_SLOTS, 0)
        counted: set[str] = set()
        for account_id, record in self.accounts.items():
            account = unpack(record)
            if not (self._kind_counts_at(account, end) and account.exists_at(end)):
                continue
            counted.add(account_id)
            existing += 1
            if account.activated_by(end):
                activated += 1
            for slot in ACTIVITY_SLOTS:
                if account.active_in_month(slot, month_key):
                    nums[slot] += 1
        comps = {"reach": Component(activated, existing)}
        comps.update({slot: Component(nums[slot], activated) for slot in ACTIVITY_SLOTS})
        read_sum = audience_sum = 0
        for message in self.messages.values():
            if first <= message.day <= last:
                audience = message.audience or activated
                reads = sum(1 for a, t in message.readers.items() if t <= end and a in counted)
                read_sum += min(reads, audience)
                audience_sum += audience
        comps["view"] = Component(read_sum, audience_sum)
        return Figures(
            self.org_id, end, first, last, comps, engagement_score(comps, self.rules.weights)
        )

    # ---- writing -------------------------------------------------------------------------

    def set_timezone(self, timezone: str) -> None:
        """Applies to events processed from now on; days already recorded keep their dates."""
        if timezone != self.calendar.timezone:
            self.calendar = LocalCalendar(timezone)
            self._close_deadline = self._as_of_day = self._day_memo_as_of = -1

    def advance(self, as_of: int) -> Applied:
        """Move the state's time forward (e.g. by the wall clock): closes due months."""
        result = Applied(Outcome.APPLIED, [], [])
        if as_of > self.as_of and self.first_month >= 0:
            self.as_of = as_of
            self._close_due_months(result)
            self._prune(result)
            self._persist_clock_if_material(result)
        return result

    def apply(self, activity: Activity) -> Applied:
        t = activity.time
        result = Applied(Outcome.APPLIED, [], [])
        cal = self.calendar
        if self.first_month < 0:
            self.first_month = cal.month_of(t)
            self.closed_through = self.first_month - 1
            if t <= cal.month_end(self.closed_through) + self.rules.grace_seconds:
                # The month before is still in its grace period: an event of it arriving
                # next is applied (and that month reported), as in any other arrival order.
                self.closed_through -= 1
        day = cal.day(t)
        clock_moved = persist = t > self.clock
        if clock_moved:
            self.clock = t
            if t > self.as_of:
                self.as_of = t
                self._day_memo_as_of, self._day_memo = t, day
                self._close_due_months(result)
        if self._is_late(day):
            result.outcome = Outcome.LATE
        else:
            self._apply_accepted(activity, day, result)
            if self.first_month > self.closed_through + 1 and month_key_of(day) < self.first_month:
                self.first_month = month_key_of(day)  # reporting starts at the earliest month
                persist = True
        if clock_moved:
            self._prune(result)
        if persist:
            self._persist_clock_if_material(result)
        return result

    def _persist_clock_if_material(self, result: Applied) -> None:
        """Persist the clock only when something the figures depend on moved: the local day
        of as_of, the closed months. So the clock costs a changelog record per organisation
        and day, not per event; after a restart as_of may step back within the same day
        until the organisation's next event, with the same figures."""
        key = (self._local_day_of_as_of(), self.closed_through, self.first_month)
        if key != self._persisted_clock_key:
            self._persisted_clock_key = key
            result.changes.append(self._clock_record())

    def _local_day_of_as_of(self) -> int:
        """``calendar.day(as_of)``, memoised while as_of stays put (most events move it
        by less than a day, and several checks per event need it)."""
        if self.as_of != self._day_memo_as_of:
            self._day_memo = self.calendar.day(self.as_of)
            self._day_memo_as_of = self.as_of
        return self._day_memo

    def _window_first(self) -> int:
        """First day of the window at the state's as_of (memoised per local day)."""
        as_of_day = self._local_day_of_as_of()
        if as_of_day != self._as_of_day:
            self._as_of_day = as_of_day
            self._as_of_window_first = as_of_day - self.rules.window_days + 1
        return self._as_of_window_first

    def _is_late(self, day: int) -> bool:
        return day < self._window_first() and month_key_of(day) <= self.closed_through

    def _apply_accepted(self, act: Activity, day: int, result: Applied) -> None:
        """Apply one in-grace event. Every rule here is order-free (section 6, Order): the
        account keeps minima (existence, activation, deletion), the earliest account.created
        sets the kind, the earliest publication of a message wins and the earliest read of a
        reader counts, so any arrival order of the same events leaves the same state."""
        account_id = act.account_id
        record = self.accounts.get(account_id)
        t = act.time
        kind = act.kind
        if record is not None:
            deleted_at = packed_deleted_at(record)
            if deleted_at and t >= deleted_at:
                # Deletion is final: nothing at or after it can make the account count
                # again, so the account is left as it is (and the event counted). A message
                # it created still has its audience: View does not depend on its author.
                result.outcome = Outcome.AFTER_DELETION
                if act.is_view_message:
                    self._add_message(act, day, result)
                return
            if (
                kind is not ActivityKind.ACCOUNT_CREATED
                and kind is not ActivityKind.ACCOUNT_DELETED
                and _activity_changes_nothing(record, kind, t, day)
            ):
                # The cheap exit (most events): the account stays exactly as it is.
                self._after_account(act, day, record, result)
                return
            after = unpack(record)
        else:
            after = Account()
        if kind is ActivityKind.ACCOUNT_DELETED:
            after.delete(t)
        elif kind is ActivityKind.ACCOUNT_CREATED:
            after.set_kind(KIND_CODES.get(act.account_kind, KIND_CODES["member"]), t)
            after.note_existence(t)
            if act.activated_at is not None:
                # Activated from its own time on: a figure at an earlier as_of does not see
                # this event (section 6, Order), e.g. a month closing in its grace period.
                after.activate(max(act.activated_at, t))
        else:
            after.activate(t)
            slot = _SLOT_OF_KIND.get(kind)
            if slot is not None:
                after.record_activity(slot, day)
        record = self._replace_account(account_id, record, after, result)
        self._after_account(act, day, record, result)

    def _after_account(self, act: Activity, day: int, record: int, result: Applied) -> None:
        """The message or read an event adds, once its account (``record``) is up to date."""
        if act.is_view_message:
            self._add_message(act, day, result)
        elif act.is_message_read:
            self._add_read(act.content_id, act.account_id, act.time, result, record)

    # ---- accounts and counters -----------------------------------------------------------

    def _kind_counts(self, account: Account) -> bool:
        return kind_name(account.kind) in self.rules.included_kinds

    def _kind_counts_at(self, account: Account, ts: int) -> bool:
        """Whether the kind the account had at ``ts`` counts: an account.created later than
        ``ts`` (e.g. in a month's grace period) was not there yet, so it was implicit."""
        if account.kind_at > ts:
            return kind_name(KIND_CODES["implicit"]) in self.rules.included_kinds
        return self._kind_counts(account)

    def _counts_now(self, account: Account | None) -> bool:
        return account is not None and not account.deleted and self._kind_counts(account)

    def _account_counts_now(self, account_id: str) -> bool:
        return self._record_counts_now(self.accounts.get(account_id))

    def _record_counts_now(self, record: int | None) -> bool:
        """``_counts_now(unpack(record))``, read off the packed record."""
        return (
            record is not None
            and not packed_deleted_at(record)
            and kind_name(packed_kind(record)) in self.rules.included_kinds
        )

    def _contribute(self, account: Account | None, sign: int) -> None:
        """Add (sign=1) or remove (sign=-1) one account's share of the counters."""
        if self._counts_now(account):
            assert account is not None
            self._add_share(account, sign)

    def _add_share(self, account: Account, sign: int) -> None:
        """``_contribute`` for an account known to count now."""
        self.existing += sign
        if account.activated_at:
            self.activated += sign
        for slot, last_field in _LAST_FIELDS:
            last = getattr(account, last_field)
            if last >= self._floor_day and last:
                hist = self._last_days[slot]
                count = hist.get(last, 0) + sign
                if count:
                    hist[last] = count
                else:
                    hist.pop(last, None)

    def _replace_account(
        self, account_id: str, record: int | None, after: Account, result: Applied
    ) -> int:
        """Store ``after`` as the account's new state; returns its packed record."""
        packed = pack(after)
        if packed == record:
            return packed
        before = unpack(record) if record is not None else None
        counted_before, counted_after = self._counts_now(before), self._counts_now(after)
        if counted_before:
            assert before is not None
            self._add_share(before, -1)
        if counted_after:
            self._add_share(after, +1)
        self.accounts[intern(account_id)] = packed  # one str per account, shared by its reads
        result.changes.append(AccountChanged(account_id, packed))
        if counted_before != counted_after:
            delta = 1 if counted_after else -1
            for message in self.messages.values():
                if account_id in message.readers:
                    message.counted_reads += delta
        return packed

    # ---- messages and reads --------------------------------------------------------------

    def _add_message(self, act: Activity, day: int, result: Applied) -> None:
        """A created message. Of several publications of one content_id the earliest wins
        (then the smaller audience code), whichever arrives first; its readers stay."""
        audience = act.audience_size or 0
        message = self.messages.get(act.content_id)
        if message is not None:
            if (act.time, audience) >= (message.time, message.audience):
                return  # a duplicate or a later re-publication changes nothing
            message.day, message.time, message.audience = day, act.time, audience
        else:
            message = Message(day, act.time, audience)
            pending = self.pending_reads.pop(act.content_id, None)
            if pending:
                message.readers = pending
                message.counted_reads = sum(1 for a in pending if self._account_counts_now(a))
            self.messages[act.content_id] = message
        result.changes.append(MessageChanged(act.content_id, (day, act.time, message.audience)))

    def _add_read(
        self, message_id: str, account_id: str, t: int, result: Applied, record: int
    ) -> None:
        """A read by ``account_id``, whose current packed state is ``record``."""
        message = self.messages.get(message_id)
        if message is not None:
            readers = message.readers
        else:  # read before its publication arrived: kept until the message shows up
            readers = self.pending_reads.setdefault(message_id, {})
        earlier = readers.get(account_id)
        if earlier is not None and earlier <= t:
            return
        readers[intern(account_id)] = t
        if message is not None and earlier is None and self._record_counts_now(record):
            message.counted_reads += 1
        result.changes.append(ReadChanged(message_id, account_id, t))

    # ---- time ----------------------------------------------------------------------------

    def _clock_record(self) -> ClockChanged:
        return ClockChanged((self.clock, self.as_of, self.closed_through, self.first_month))

    def _close_due_months(self, result: Applied) -> None:
        if self._close_deadline >= 0 and self.as_of <= self._close_deadline:
            return
        cal, grace = self.calendar, self.rules.grace_seconds
        while cal.month_end(self.closed_through + 1) + grace < self.as_of:
            self.closed_through += 1
            if self.closed_through >= self.first_month:  # none before the first event's
                result.closed_months.append(self.month_figures(self.closed_through))
        self._close_deadline = cal.month_end(self.closed_through + 1) + grace

    def _prune(self, result: Applied) -> None:
        """Forget what no window and no open month can need any more."""
        window_first = self._window_first()
        if window_first <= self._floor_day:
            return  # the floor is the smaller of this and the open month's first day
        floor = min(window_first, self.calendar.month_first_day(self.closed_through + 1))
        if floor <= self._floor_day:
            return
        self._floor_day = floor
        for hist in self._last_days.values():
            for day in [d for d in hist if d < floor]:
                del hist[day]
        for message_id in [m for m, msg in self.messages.items() if msg.day < floor]:
            message = self.messages.pop(message_id)
            result.changes.append(MessageChanged(message_id, None))
            result.changes.extend(ReadChanged(message_id, a, None) for a in message.readers)
        for message_id, readers in list(self.pending_reads.items()):
            stale = [a for a, t in readers.items() if self.calendar.day(t) < floor]
            for account_id in stale:
                del readers[account_id]
                result.changes.append(ReadChanged(message_id, account_id, None))
            if not readers:
                del self.pending_reads[message_id]

    # ---- recovery ------------------------------------------------------------------------

    @classmethod
    def restore(
        cls,
        org_id: str,
        rules: ScoringRules,
        timezone: str,
        clock_record: tuple[int, int, int, int] | None,
        accounts: Iterable[tuple[str, int]],
        messages: Iterable[tuple[str, tuple[int, int, int]]],
        reads: Iterable[tuple[str, str, int]],
    ) -> OrgState:
        """Rebuild the state (counters included) from what ``apply`` asked to persist."""
        state = cls(org_id, rules, timezone)
        if clock_record is not None:
            state.clock, state.as_of, state.closed_through, state.first_month = clock_record
            state._persisted_clock_key = (
                state.calendar.day(state.as_of),
                state.closed_through,
                state.first_month,
            )
            window_first, _ = state.window_days(state.as_of)
            state._floor_day = min(
                window_first, state.calendar.month_first_day(state.closed_through + 1)
            )
        for account_id, record in accounts:
            state.accounts[intern(account_id)] = record
            state._contribute(unpack(record), +1)
        for message_id, (day, time, audience) in messages:
            state.messages[message_id] = Message(day, time, audience)
        for message_id, account_id, time in reads:
            message = state.messages.get(message_id)
            if message is None:
                state.pending_reads.setdefault(message_id, {})[intern(account_id)] = time
            else:
                message.readers[intern(account_id)] = time
        for message in state.messages.values():
            message.counted_reads = sum(1 for a in message.readers if state._account_counts_now(a))
        return state
