"""A deliberately naive reference: recomputes every figure from the raw event list.

It shares no code with the domain core beyond the calendar helpers' *meaning* (it recomputes
local days with zoneinfo itself) and never keeps incremental state: acceptance is decided by
walking the log in arrival order (late events, deletion is final), then each figure is a
filter-and-count over the accepted events, exactly as section 6 of the definition reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from engagement.domain import Activity, ActivityKind, ScoringRules


def local_day(ts: int, tz: str) -> int:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).toordinal()


def month_of_day(day: int) -> int:
    d = date.fromordinal(day)
    return d.year * 12 + d.month - 1


def month_end(month: int, tz: str) -> int:
    y, m = divmod(month + 1, 12)
    nxt = datetime(y, m + 1, 1, tzinfo=ZoneInfo(tz))
    return int(nxt.astimezone(UTC).timestamp()) - 1


def month_days(month: int) -> tuple[int, int]:
    y, m = divmod(month, 12)
    first = date(y, m + 1, 1).toordinal()
    y2, m2 = divmod(month + 1, 12)
    return first, date(y2, m2 + 1, 1).toordinal() - 1


@dataclass
class NaiveFigures:
    comps: dict[str, tuple[int, int]]


@dataclass
class NaiveOrg:
    accepted: list[Activity]
    closed: list[tuple[int, NaiveFigures]]  # (month, figures at month end)
    clock: int
    late: int
    after_deletion: int


def closed_through(first_month: int, as_of: int, tz: str, grace: int) -> int:
    m = first_month - 1
    while month_end(m + 1, tz) + grace < as_of:
        m += 1
    return m


def run_org(log: list[Activity], tz: str, rules: ScoringRules) -> NaiveOrg:
    accepted: list[Activity] = []
    closed: list[tuple[int, NaiveFigures]] = []
    deleted: set[str] = set()
    clock = 0
    first_month = None
    late = after_deletion = 0
    done_through = None
    for act in log:
        if first_month is None:
            first_month = month_of_day(local_day(act.time, tz))
            done_through = first_month - 1
        clock = max(clock, act.time)
        ct = closed_through(first_month, clock, tz, rules.grace_seconds)
        while done_through < ct:
            done_through += 1
            first, last = month_days(done_through)
            closed.append(
                (
                    done_through,
                    figures(accepted, month_end(done_through, tz), first, last, tz, rules),
                )
            )
        day = local_day(act.time, tz)
        if day < local_day(clock, tz) - rules.window_days + 1 and month_of_day(day) <= ct:
            late += 1
            continue
        if act.account_id in deleted:
            after_deletion += 1
            continue
        if act.kind is ActivityKind.ACCOUNT_DELETED:
            deleted.add(act.account_id)
        accepted.append(act)
    return NaiveOrg(accepted, closed, clock, late, after_deletion)


ACTIVITY = {
    ActivityKind.VISIT,
    ActivityKind.CONTENT_PUBLISHED,
    ActivityKind.CONTENT_VIEWED,
    ActivityKind.INTERACTION,
}


def figures(
    accepted: list[Activity], as_of: int, first: int, last: int, tz: str, rules: ScoringRules
) -> NaiveFigures:
    accounts = {a.account_id for a in accepted}
    counted: set[str] = set()
    activated: set[str] = set()
    for acc in accounts:
        events = [a for a in accepted if a.account_id == acc]
        created = [a for a in events if a.kind is ActivityKind.ACCOUNT_CREATED]
        kind = created[0].account_kind if created else "member"
        times = [a.time for a in events] + [a.activated_at for a in created if a.activated_at]
        deletions = [a.time for a in events if a.kind is ActivityKind.ACCOUNT_DELETED]
        if kind not in rules.included_kinds or min(times) > as_of:
            continue
        if deletions and deletions[0] <= as_of:
            continue
        counted.add(acc)
        activations = [a.time for a in events if a.kind in ACTIVITY]
        activations += [a.activated_at for a in created if a.activated_at]
        if activations and min(activations) <= as_of:
            activated.add(acc)

    def in_period(a: Activity) -> bool:
        return a.time <= as_of and first <= local_day(a.time, tz) <= last

    comps = {"reach": (len(activated), len(counted))}
    for name, kind in (
        ("visit", ActivityKind.VISIT),
        ("interact", ActivityKind.INTERACTION),
        ("contribute", ActivityKind.CONTENT_PUBLISHED),
    ):
        active = {a.account_id for a in accepted if a.kind is kind and in_period(a)}
        comps[name] = (len(active & activated), len(activated))
    publications: dict[str, Activity] = {}
    for a in accepted:
        if a.is_view_message and a.content_id not in publications:
            publications[a.content_id] = a
    reads_sum = audience_sum = 0
    for content_id, pub in publications.items():
        if not in_period(pub):
            continue
        audience = pub.audience_size or len(activated)
        readers = {
            a.account_id
            for a in accepted
            if a.is_message_read and a.content_id == content_id and a.time <= as_of
        }
        reads_sum += min(len(readers & counted), audience)
        audience_sum += audience
    comps["view"] = (reads_sum, audience_sum)
    return NaiveFigures(comps)
