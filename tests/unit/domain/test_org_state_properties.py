"""The domain core against the naive reference, over generated messy logs.

The logs mix every case section 6 settles (implicit, guest, system and re-kinded accounts,
deletions with events on both sides, messages with and without audience, re-published and
edited messages, reads of known, unknown and old messages, page views, exact duplicates) and
arrive in a disorderly order with late events, across year, month and DST boundaries. The
counting rules (window length, included kinds, weights) are drawn too.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement.domain import (
    COMPONENTS,
    AccountChanged,
    Activity,
    ActivityKind,
    ClockChanged,
    Figures,
    MessageChanged,
    OrgState,
    Outcome,
    ReadChanged,
    ScoringRules,
)

from . import naive

K = ActivityKind
ORG = "o"
DAY = 86_400
HOUR = 3_600
#: Start dates: mid-December crosses the year boundary, March and October cross DST changes.
STARTS = [
    int(datetime(y, m, d, tzinfo=UTC).timestamp())
    for y, m, d in ((2025, 12, 14), (2026, 1, 20), (2026, 3, 18), (2026, 10, 12))
]
TIMEZONES = ["Europe/Amsterdam", "America/New_York", "Asia/Kathmandu", "Pacific/Auckland", "UTC"]
KIND_CHOICES = [frozenset({"member"}), frozenset({"member", "guest"})]


@st.composite
def scoring_rules(draw: st.DrawFn) -> ScoringRules:
    window_days = draw(st.sampled_from([1, 7, 30]))
    included = draw(st.sampled_from(KIND_CHOICES))
    if draw(st.booleans()):
        return ScoringRules(window_days=window_days, included_kinds=included)
    weights = draw(
        st.fixed_dictionaries({name: st.sampled_from([0.0, 0.5, 1.0, 3.0]) for name in COMPONENTS})
    )
    return ScoringRules(window_days=window_days, included_kinds=included, weights=weights)


@st.composite
def start_times(draw: st.DrawFn) -> int:
    return draw(st.sampled_from(STARTS)) + draw(st.integers(0, 5 * DAY))


@st.composite
def org_events(draw: st.DrawFn, tz: str, t0: int, span_days: int) -> list[Activity]:
    """One organisation's events (the set, in generation order, no duplicates yet)."""
    end = t0 + span_days * DAY
    # local month ends inside the span: events in the last hours and in the grace period
    month_ends = [
        naive.month_end(m, tz)
        for m in range(naive.month_of(t0, tz), naive.month_of(end, tz) + 1)
        if t0 <= naive.month_end(m, tz) <= end
    ]

    def when(lo: int = t0) -> int:
        if month_ends and draw(st.integers(0, 4)) == 0:
            t = draw(st.sampled_from(month_ends)) + draw(st.integers(-3 * HOUR, 2 * HOUR))
            return min(max(t, lo), end)
        return draw(st.integers(lo, end))

    events: list[Activity] = []
    accounts = [f"a{i}" for i in range(draw(st.integers(1, 7)))]
    deleted: dict[str, int] = {}
    for acc in accounts:
        role = draw(st.sampled_from(["member", "member", "implicit", "guest", "system", "rekind"]))
        if role == "rekind":  # two account.created with different kinds and times
            kinds = draw(st.permutations(["member", "guest", "system"]))[:2]
        else:
            kinds = [] if role == "implicit" else [role]
        for kind in kinds:
            t = when()
            activated = draw(st.none() | st.integers(t - 40 * DAY, t))
            events.append(
                Activity(K.ACCOUNT_CREATED, ORG, acc, t, account_kind=kind, activated_at=activated)
            )
        if draw(st.integers(0, 3)) == 0:
            deleted[acc] = when()
            events.append(Activity(K.ACCOUNT_DELETED, ORG, acc, deleted[acc]))
            if draw(st.integers(0, 3)) == 0:  # deleted twice
                events.append(Activity(K.ACCOUNT_DELETED, ORG, acc, when()))

    messages: dict[str, int] = {}  # content_id of created messages -> earliest time so far
    contents = 0

    def publish(acc: str, t: int) -> None:
        nonlocal contents
        ctype = draw(st.sampled_from(["message", "message", "page", "document"]))
        action = draw(st.sampled_from(["created", "created", "edited"]))
        if messages and draw(st.integers(0, 3)) == 0:  # re-published or edited message
            cid = draw(st.sampled_from(sorted(messages)))
            if ctype == "message" and action == "created":
                # Re-published the same local day (earlier or later, another audience). Not
                # on another day: see test_arrival_order.py, the known limitation there.
                first = messages[cid]
                again = first + draw(st.integers(-3 * HOUR, 3 * HOUR))
                t = again if naive.local_day(again, tz) == naive.local_day(first, tz) else first
        else:
            contents += 1
            cid = f"c{contents}"
        if ctype == "message" and action == "created":
            messages[cid] = min(t, messages.get(cid, t))
        audience = draw(st.none() | st.integers(1, 4))
        events.append(
            Activity(
                K.CONTENT_PUBLISHED,
                ORG,
                acc,
                t,
                content_id=cid,
                content_type=ctype,
                action=action,
                audience_size=audience,
            )
        )

    for acc, t in deleted.items():  # the deleted author's channel message, after the deletion
        if draw(st.booleans()):
            publish(acc, when(t))
    for _ in range(draw(st.integers(1, 45))):
        acc = draw(st.sampled_from(accounts))
        t = when()
        kind = draw(
            st.sampled_from(
                [K.VISIT, K.VISIT, K.INTERACTION, K.CONTENT_PUBLISHED, K.CONTENT_PUBLISHED]
                + [K.CONTENT_VIEWED] * 3
            )
        )
        if kind is K.CONTENT_PUBLISHED:
            publish(acc, t)
        elif kind is K.CONTENT_VIEWED:
            ctype = draw(st.sampled_from(["message", "message", "message", "page"]))
            if messages and draw(st.integers(0, 4)) > 0:
                cid = draw(st.sampled_from(sorted(messages)))
                t = max(t, messages[cid])  # a read never precedes its message
            else:
                cid = f"unknown{draw(st.integers(0, 2))}"
            events.append(Activity(kind, ORG, acc, t, content_id=cid, content_type=ctype))
        else:
            events.append(Activity(kind, ORG, acc, t))
    return events


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, ScoringRules, list[Activity]]:
    """A log in a disorderly arrival order: late events, weeks-late events, duplicates."""
    tz = draw(st.sampled_from(TIMEZONES))
    rules = draw(scoring_rules())
    events = draw(org_events(tz, draw(start_times()), draw(st.integers(1, 75))))
    jitter = [
        draw(st.sampled_from([0, 0, 0, 0, 0, 1, 2]))
        * draw(st.integers(0, 3 * DAY))
        * draw(st.sampled_from([1, 1, 1, 12]))  # now and then an event arrives weeks late
        for _ in events
    ]
    order = sorted(range(len(events)), key=lambda i: events[i].time + jitter[i])
    log = [events[i] for i in order]
    for _ in range(draw(st.integers(0, 5))):  # exact duplicates, delivered again later
        i = draw(st.integers(0, len(log) - 1))
        log.insert(draw(st.integers(i, len(log))), log[i])
    return tz, rules, log


Summary = tuple[int, int, int, dict[str, tuple[int, int]], float | None]


def summary(f: Figures) -> Summary:
    comps = {k: (c.numerator, c.denominator) for k, c in f.components.items()}
    return f.as_of, f.first_day, f.last_day, comps, f.score


def naive_summary(f: naive.NaiveFigures) -> Summary:
    return f.as_of, f.first_day, f.last_day, f.comps, f.score


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(cases())
def test_rolling_window_and_outcomes_equal_naive(
    case: tuple[str, ScoringRules, list[Activity]],
) -> None:
    tz, rules, log = case
    state = OrgState(ORG, rules, tz)
    outcomes = Counter(state.apply(act).outcome for act in log)
    ref = naive.run_org(log, tz, rules)
    assert state.as_of == ref.clock
    assert outcomes[Outcome.LATE] == ref.late
    assert outcomes[Outcome.AFTER_DELETION] == ref.after_deletion
    expected = naive.window_figures(ref.accepted, ref.clock, tz, rules)
    assert summary(state.figures()) == naive_summary(expected)


@SETTINGS
@given(cases())
def test_month_to_date_and_closed_months_equal_naive(
    case: tuple[str, ScoringRules, list[Activity]],
) -> None:
    tz, rules, log = case
    state = OrgState(ORG, rules, tz)
    closed = []
    for act in log:
        closed.extend(state.apply(act).closed_months)
    ref = naive.run_org(log, tz, rules)
    assert [summary(f) for f in closed] == [naive_summary(f) for _, f in ref.closed]
    expected = naive.month_to_date(ref.accepted, ref.clock, tz, rules)
    assert summary(state.month_to_date()) == naive_summary(expected)


@SETTINGS
@given(cases(), st.integers(0, 40 * DAY))
def test_wall_clock_advance_equals_naive(
    case: tuple[str, ScoringRules, list[Activity]], later: int
) -> None:
    """A silent organisation's window moves on with the wall clock and its figures fall."""
    tz, rules, log = case
    state = OrgState(ORG, rules, tz)
    for act in log:
        state.apply(act)
    ref = naive.run_org(log, tz, rules)
    as_of = ref.clock + later
    state.advance(as_of)
    expected = naive.window_figures(ref.accepted, as_of, tz, rules)
    assert summary(state.figures()) == naive_summary(expected)
    expected = naive.month_to_date(ref.accepted, as_of, tz, rules)
    assert summary(state.month_to_date()) == naive_summary(expected)


@SETTINGS
@given(cases(), st.data())
def test_restore_from_persisted_changes_gives_same_state(
    case: tuple[str, ScoringRules, list[Activity]], data: st.DataObject
) -> None:
    """What apply asks to persist is enough to rebuild the state after a restart."""
    tz, rules, log = case
    cut = data.draw(st.integers(0, len(log)))
    state = OrgState(ORG, rules, tz)
    accounts: dict[str, int] = {}
    messages: dict[str, tuple[int, int, int]] = {}
    reads: dict[tuple[str, str], int] = {}
    clock = None
    for act in log[:cut]:
        for change in state.apply(act).changes:
            if isinstance(change, AccountChanged):
                accounts[change.account_id] = change.record
            elif isinstance(change, MessageChanged):
                if change.record is None:
                    messages.pop(change.message_id, None)
                else:
                    messages[change.message_id] = change.record
            elif isinstance(change, ReadChanged):
                if change.time is None:
                    reads.pop((change.message_id, change.account_id), None)
                else:
                    reads[(change.message_id, change.account_id)] = change.time
            elif isinstance(change, ClockChanged):
                clock = change.record
    restored = OrgState.restore(
        ORG,
        rules,
        tz,
        clock,
        accounts.items(),
        messages.items(),
        [(m, a, t) for (m, a), t in reads.items()],
    )
    closed, closed_restored = [], []
    for act in log[cut:]:
        closed.extend(state.apply(act).closed_months)
        closed_restored.extend(restored.apply(act).closed_months)
    # as_of itself may step back within the day after a restart (OrgState docs); not figures
    assert summary(restored.figures())[1:] == summary(state.figures())[1:]
    assert summary(restored.month_to_date())[1:] == summary(state.month_to_date())[1:]
    assert [summary(f) for f in closed_restored] == [summary(f) for f in closed]
    assert restored.tracked_accounts() == state.tracked_accounts()
