"""The domain core against the naive reference, over generated messy logs."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement.domain import (
    AccountChanged,
    Activity,
    ActivityKind,
    ClockChanged,
    MessageChanged,
    OrgState,
    ReadChanged,
    ScoringRules,
)

from . import naive

T0 = int(datetime(2026, 1, 20, tzinfo=UTC).timestamp())
DAY = 86_400
TIMEZONES = ["Europe/Amsterdam", "America/New_York", "Asia/Kathmandu", "Pacific/Auckland", "UTC"]


@st.composite
def org_logs(draw: st.DrawFn) -> tuple[str, list[Activity]]:
    tz = draw(st.sampled_from(TIMEZONES))
    span_days = draw(st.integers(1, 75))
    accounts = [f"a{i}" for i in range(draw(st.integers(1, 7)))]
    n = draw(st.integers(1, 60))
    events: list[Activity] = []
    publish_times: dict[str, int] = {}
    for _ in range(n):
        t = T0 + draw(st.integers(0, span_days * DAY))
        acc = draw(st.sampled_from(accounts))
        kind = draw(st.sampled_from(list(ActivityKind)))
        if kind is ActivityKind.ACCOUNT_DELETED and draw(st.integers(0, 3)):
            kind = ActivityKind.VISIT  # keep deletions rarer than activity
        if kind is ActivityKind.ACCOUNT_CREATED:
            activated_at = draw(st.none() | st.integers(T0 - 40 * DAY, t))
            events.append(
                Activity(
                    kind,
                    "o",
                    acc,
                    t,
                    account_kind=draw(st.sampled_from(["member", "member", "guest", "system"])),
                    activated_at=activated_at,
                )
            )
        elif kind is ActivityKind.CONTENT_PUBLISHED:
            ctype = draw(st.sampled_from(["message", "message", "page", "document"]))
            cid = f"m{len(publish_times)}"
            action = draw(st.sampled_from(["created", "created", "edited"]))
            if ctype == "message" and action == "created":
                publish_times[cid] = t
            events.append(
                Activity(
                    kind,
                    "o",
                    acc,
                    t,
                    content_id=cid,
                    content_type=ctype,
                    action=action,
                    audience_size=draw(st.none() | st.integers(1, 3)),
                )
            )
        elif kind is ActivityKind.CONTENT_VIEWED:
            if publish_times and draw(st.integers(0, 3)):
                cid = draw(st.sampled_from(sorted(publish_times)))
                t = max(t, publish_times[cid])  # a read never precedes its message
            else:
                cid = f"unknown{draw(st.integers(0, 2))}"
            ctype = draw(st.sampled_from(["message", "message", "page"]))
            events.append(Activity(kind, "o", acc, t, content_id=cid, content_type=ctype))
        else:
            events.append(Activity(kind, "o", acc, t))
    # arrival order: mostly by time, with disorder (late arrivals) and duplicates
    jitter = [
        draw(st.sampled_from([0, 0, 0, 0, 0, 1, 2]))
        * draw(st.integers(0, 3 * DAY))
        * draw(st.sampled_from([1, 1, 1, 12]))  # now and then an event arrives weeks late
        for _ in events
    ]
    order = sorted(range(len(events)), key=lambda i: events[i].time + jitter[i])
    log = [events[i] for i in order]
    for _ in range(draw(st.integers(0, 5))):
        i = draw(st.integers(0, len(log) - 1))
        j = draw(st.integers(i, len(log)))
        log.insert(j, log[i])
    return tz, log


def comps_of(state_figures) -> dict[str, tuple[int, int]]:  # type: ignore[no-untyped-def]
    return {k: (c.numerator, c.denominator) for k, c in state_figures.components.items()}


RULES = ScoringRules(window_days=30, grace_seconds=3600)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(org_logs())
def test_rolling_window_equals_naive_recomputation(case: tuple[str, list[Activity]]) -> None:
    tz, log = case
    state = OrgState("o", RULES, tz)
    for act in log:
        state.apply(act)
    ref = naive.run_org(log, tz, RULES)
    first, last = state.window_days(state.as_of)
    assert state.as_of == ref.clock
    assert last == naive.local_day(ref.clock, tz)
    expected = naive.figures(ref.accepted, ref.clock, first, last, tz, RULES)
    assert comps_of(state.figures()) == expected.comps


@SETTINGS
@given(org_logs())
def test_month_to_date_and_closed_months_equal_naive(case: tuple[str, list[Activity]]) -> None:
    tz, log = case
    state = OrgState("o", RULES, tz)
    closed = []
    for act in log:
        closed.extend(state.apply(act).closed_months)
    ref = naive.run_org(log, tz, RULES)
    assert [comps_of(f) for f in closed] == [f.comps for _, f in ref.closed]
    mtd = state.month_to_date()
    first, _ = naive.month_days(naive.month_of_day(naive.local_day(ref.clock, tz)))
    expected = naive.figures(
        ref.accepted, ref.clock, first, naive.local_day(ref.clock, tz), tz, RULES
    )
    assert (mtd.first_day, mtd.last_day) == (first, naive.local_day(ref.clock, tz))
    assert comps_of(mtd) == expected.comps


@SETTINGS
@given(org_logs(), st.integers(0, 40 * DAY))
def test_wall_clock_advance_equals_naive(case: tuple[str, list[Activity]], later: int) -> None:
    """A silent organisation's window moves on with the wall clock and its figures fall."""
    tz, log = case
    state = OrgState("o", RULES, tz)
    for act in log:
        state.apply(act)
    ref = naive.run_org(log, tz, RULES)
    as_of = ref.clock + later
    state.advance(as_of)
    first, last = state.window_days(as_of)
    expected = naive.figures(ref.accepted, as_of, first, last, tz, RULES)
    assert comps_of(state.figures()) == expected.comps


@SETTINGS
@given(org_logs(), st.data())
def test_restore_from_persisted_changes_gives_same_state(
    case: tuple[str, list[Activity]], data: st.DataObject
) -> None:
    """What apply asks to persist is enough to rebuild the state after a restart."""
    tz, log = case
    cut = data.draw(st.integers(0, len(log)))
    state = OrgState("o", RULES, tz)
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
        "o",
        RULES,
        tz,
        clock,
        accounts.items(),
        messages.items(),
        [(m, a, t) for (m, a), t in reads.items()],
    )
    for act in log[cut:]:
        state.apply(act)
        restored.apply(act)
    assert comps_of(restored.figures()) == comps_of(state.figures())
    assert comps_of(restored.month_to_date()) == comps_of(state.month_to_date())
    assert restored.tracked_accounts() == state.tracked_accounts()
