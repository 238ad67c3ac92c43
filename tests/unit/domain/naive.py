"""A deliberately naive reference for section 6 of the definition, written from its text.

It shares no code with the domain core beyond the ``Activity``/``ActivityKind``/``ScoringRules``
data types: it recomputes local days and months with zoneinfo itself, has its own predicates
(what a channel message and a message read are), its own kind table and its own score, and it
never keeps incremental state.

Order-free by construction. Only *acceptance* walks the log in arrival order, because only the
grace rule depends on it: an event is late when, at its arrival, its day is older than the
rolling window and its month is already closed (stream time past the month's end plus the
grace period). Every figure is then a filter-and-count over the SET of accepted events with
event time <= as_of: the earliest ``account.created`` gives the kind, the earliest deletion
deletes, the earliest publication of a content_id is the message, and so on; nothing there
looks at the order in which the events came.

Besides the figures it counts what the domain reports as outcomes: ``late`` (as above) and
``after_deletion`` (an accepted event of an account whose deletion had already been accepted,
with an event time at or after that deletion). Those two are the only arrival-dependent
numbers and are not figures.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from engagement.domain import Activity, ActivityKind, ScoringRules

#: The five components in the order of the definition (the score sums them in this order).
NAMES = ("reach", "visit", "view", "interact", "contribute")

#: Kind codes for the tie-break between account.created events at the same time.
KIND_ORDER = {"member": 1, "guest": 2, "system": 3}

ACTIVITY = {
    ActivityKind.VISIT,
    ActivityKind.CONTENT_PUBLISHED,
    ActivityKind.CONTENT_VIEWED,
    ActivityKind.INTERACTION,
}
WINDOWED = {
    "visit": ActivityKind.VISIT,
    "interact": ActivityKind.INTERACTION,
    "contribute": ActivityKind.CONTENT_PUBLISHED,
}


# ---- calendar ---------------------------------------------------------------------------


def local_day(ts: int, tz: str) -> int:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).toordinal()


def month_of_day(day: int) -> int:
    d = date.fromordinal(day)
    return d.year * 12 + d.month - 1


def month_of(ts: int, tz: str) -> int:
    return month_of_day(local_day(ts, tz))


def month_end(month: int, tz: str) -> int:
    """Last epoch second of a local month."""
    y, m = divmod(month + 1, 12)
    nxt = datetime(y, m + 1, 1, tzinfo=ZoneInfo(tz))
    return int(nxt.astimezone(UTC).timestamp()) - 1


def month_days(month: int) -> tuple[int, int]:
    y, m = divmod(month, 12)
    first = date(y, m + 1, 1).toordinal()
    y2, m2 = divmod(month + 1, 12)
    return first, date(y2, m2 + 1, 1).toordinal() - 1


def window(as_of: int, tz: str, rules: ScoringRules) -> tuple[int, int]:
    """The rolling window's days at as_of: the last ``window_days`` local days, today included."""
    last = local_day(as_of, tz)
    return last - rules.window_days + 1, last


def month_closed(month: int, clock: int, tz: str, rules: ScoringRules) -> bool:
    return month_end(month, tz) + rules.grace_seconds < clock


# ---- what an event is -------------------------------------------------------------------


def is_channel_message(a: Activity) -> bool:
    """A created channel message: it is one of View's messages."""
    return (
        a.kind is ActivityKind.CONTENT_PUBLISHED
        and a.content_type == "message"
        and a.action == "created"
    )


def is_read(a: Activity) -> bool:
    return a.kind is ActivityKind.CONTENT_VIEWED and a.content_type == "message"


def kind_of(a: Activity) -> str:
    return a.account_kind if a.account_kind in KIND_ORDER else "member"


# ---- figures ----------------------------------------------------------------------------


@dataclass
class NaiveFigures:
    as_of: int
    first_day: int
    last_day: int
    comps: dict[str, tuple[int, int]]
    score: float | None


def score(comps: dict[str, tuple[int, int]], rules: ScoringRules) -> float | None:
    """Weighted mean of the components that have a value, over unrounded percentages."""
    total = weight_sum = 0.0
    for name in NAMES:
        num, den = comps[name]
        weight = rules.weights.get(name, 0.0)
        if den == 0 or weight <= 0:
            continue
        total += weight * (100.0 * num / den)
        weight_sum += weight
    return None if weight_sum == 0 else round(total / weight_sum, 1)


def figures(
    events: Iterable[Activity],
    as_of: int,
    first: int,
    last: int,
    tz: str,
    rules: ScoringRules,
) -> NaiveFigures:
    """The figures of period [first, last] (local days) at as_of, from a set of events."""
    known = {a for a in events if a.time <= as_of}  # a set: duplicates are one event
    by_account: dict[str, list[Activity]] = defaultdict(list)
    for a in known:
        by_account[a.account_id].append(a)

    counted: set[str] = set()  # exists at as_of, not deleted, kind included
    activated: set[str] = set()  # ... and activated at as_of
    for account, evs in by_account.items():
        if any(a.kind is ActivityKind.ACCOUNT_DELETED for a in evs):
            continue  # deleted at or before as_of: out, whatever else it did
        created = [a for a in evs if a.kind is ActivityKind.ACCOUNT_CREATED]
        kind = "member"  # never created: implicit, counts as a member
        if created:
            first_created = min(created, key=lambda a: (a.time, KIND_ORDER[kind_of(a)]))
            kind = kind_of(first_created)
        if kind not in rules.included_kinds:
            continue
        counted.add(account)
        if any(a.kind in ACTIVITY for a in evs) or any(
            a.activated_at is not None and a.activated_at <= as_of for a in created
        ):
            activated.add(account)

    def in_period(a: Activity) -> bool:
        return first <= local_day(a.time, tz) <= last

    comps = {"reach": (len(activated), len(counted))}
    for name, kind in WINDOWED.items():
        active = {a.account_id for a in known if a.kind is kind and in_period(a)}
        comps[name] = (len(active & activated), len(activated))

    earliest: dict[str, Activity] = {}  # content_id -> its earliest publication
    for a in known:
        if not is_channel_message(a):
            continue
        other = earliest.get(a.content_id)
        if other is None or (a.time, a.audience_size or 0) < (
            other.time,
            other.audience_size or 0,
        ):
            earliest[a.content_id] = a
    readers: dict[str, set[str]] = defaultdict(set)
    for a in known:
        if is_read(a):
            readers[a.content_id].add(a.account_id)
    read_sum = audience_sum = 0
    for content_id, message in earliest.items():
        if not in_period(message):
            continue
        audience = message.audience_size or len(activated)
        read_sum += min(len(readers[content_id] & counted), audience)
        audience_sum += audience
    comps["view"] = (read_sum, audience_sum)
    return NaiveFigures(as_of, first, last, comps, score(comps, rules))


def window_figures(
    events: Iterable[Activity], as_of: int, tz: str, rules: ScoringRules
) -> NaiveFigures:
    first, last = window(as_of, tz, rules)
    return figures(events, as_of, first, last, tz, rules)


def month_to_date(
    events: Iterable[Activity], as_of: int, tz: str, rules: ScoringRules
) -> NaiveFigures:
    last = local_day(as_of, tz)
    first, _ = month_days(month_of_day(last))
    return figures(events, as_of, first, last, tz, rules)


def month_figures(
    events: Iterable[Activity], month: int, tz: str, rules: ScoringRules
) -> NaiveFigures:
    first, last = month_days(month)
    return figures(events, month_end(month, tz), first, last, tz, rules)


# ---- the log in arrival order: acceptance (grace) and closing -----------------------------


@dataclass
class NaiveOrg:
    accepted: list[Activity]
    closed: list[tuple[int, NaiveFigures]]  # (month, final figures), in closing order
    clock: int
    late: int = 0
    after_deletion: int = 0
    deleted_at: dict[str, int] = field(default_factory=dict)


def run_org(log: Iterable[Activity], tz: str, rules: ScoringRules) -> NaiveOrg:
    """Walk the log in arrival order.

    Stream time is the latest event time so far. A month closes once stream time passes its
    end plus the grace period; its final figures are those of the events accepted by then, at
    its last second. Reporting starts with the earliest month an accepted event falls in, so a
    month that closes before any event of it was accepted is never reported.
    """
    org = NaiveOrg([], [], 0)
    closed_through: int | None = None
    first_month: int | None = None
    for act in log:
        org.clock = max(org.clock, act.time)
        if closed_through is None:  # the month before the first event may be in its grace
            closed_through = month_of(act.time, tz)
            while not month_closed(closed_through, org.clock, tz, rules):
                closed_through -= 1
        while month_closed(closed_through + 1, org.clock, tz, rules):
            closed_through += 1
            if first_month is not None and closed_through >= first_month:
                org.closed.append(
                    (closed_through, month_figures(org.accepted, closed_through, tz, rules))
                )
        day = local_day(act.time, tz)
        first_day, _ = window(org.clock, tz, rules)
        if day < first_day and month_of_day(day) <= closed_through:
            org.late += 1
            continue
        if month_of_day(day) > closed_through:
            month = month_of_day(day)
            first_month = month if first_month is None else min(first_month, month)
        deleted_at = org.deleted_at.get(act.account_id)
        if deleted_at is not None and act.time >= deleted_at:
            org.after_deletion += 1
        elif act.kind is ActivityKind.ACCOUNT_DELETED:
            org.deleted_at[act.account_id] = act.time
        org.accepted.append(act)  # figures are a function of the set: accepted either way
    return org
