"""The packed account record: its bit layout is the changelog format (it must never change), and
the hot path's shortcuts (field readers, the cheap exit for events that change nothing) agree
with the readable ``Account`` logic."""

from __future__ import annotations

from dataclasses import astuple, replace

from hypothesis import given, settings
from hypothesis import strategies as st

from engagement.domain import ActivityKind
from engagement.domain.accounts import (
    ACTIVITY_SLOTS,
    Account,
    pack,
    packed_activated_at,
    packed_created_at,
    packed_deleted_at,
    packed_kind,
    packed_last_day,
    unpack,
)
from engagement.domain.calendar import month_key_of
from engagement.domain.org import _SLOT_OF_KIND, _activity_changes_nothing

MAX_DAY = 3_652_059  # date.max.toordinal()


def layout_pack(a: Account) -> int:
    """The changelog's layout, written out field by field (the original encoder)."""
    value = (a.kind_at << 2) | a.kind
    for t in (a.created_at, a.activated_at, a.deleted_at):
        value = (value << 36) | t
    for day in (
        a.visit_last,
        a.visit_prev,
        a.interact_last,
        a.interact_prev,
        a.contribute_last,
        a.contribute_prev,
    ):
        value = (value << 22) | day
    return value


def layout_record_activity(a: Account, slot: str, day: int) -> None:
    """The original rule for (last, prev) of a slot."""
    last, prev = getattr(a, f"{slot}_last"), getattr(a, f"{slot}_prev")
    if last == 0:
        new_last, new_prev = day, prev
    else:
        last_month, month = month_key_of(last), month_key_of(day)
        if month == last_month:
            new_last, new_prev = max(last, day), prev
        elif month > last_month:
            new_last, new_prev = day, last
        else:
            new_last, new_prev = last, max(prev, day)
    setattr(a, f"{slot}_last", new_last)
    setattr(a, f"{slot}_prev", new_prev)


times = st.one_of(st.just(0), st.integers(1, 2**36 - 1), st.integers(1_700_000_000, 1_700_100_000))
days = st.one_of(st.just(0), st.integers(1, MAX_DAY), st.integers(739_000, 739_100))
accounts = st.builds(
    Account,
    kind=st.integers(0, 3),
    kind_at=st.one_of(times, st.integers(2**36, 2**40)),
    created_at=times,
    activated_at=times,
    deleted_at=times,
    visit_last=days,
    visit_prev=days,
    interact_last=days,
    interact_prev=days,
    contribute_last=days,
    contribute_prev=days,
)


@settings(max_examples=500)
@given(account=accounts)
def test_pack_keeps_the_changelog_layout_and_round_trips(account: Account) -> None:
    packed = pack(account)
    assert packed == layout_pack(account)
    assert unpack(packed) == account
    assert packed_kind(packed) == account.kind
    assert packed_created_at(packed) == account.created_at
    assert packed_activated_at(packed) == account.activated_at
    assert packed_deleted_at(packed) == account.deleted_at
    for slot in ACTIVITY_SLOTS:
        assert packed_last_day(packed, slot) == getattr(account, f"{slot}_last")


@settings(max_examples=500)
@given(account=accounts, slot=st.sampled_from(ACTIVITY_SLOTS), day=st.integers(1, MAX_DAY))
def test_record_activity_follows_the_rule(account: Account, slot: str, day: int) -> None:
    before = replace(account)
    expected = replace(account)
    layout_record_activity(expected, slot, day)
    changed = account.record_activity(slot, day)
    assert account == expected
    assert changed == (astuple(account) != astuple(before))


activity_kinds = st.sampled_from(
    [
        ActivityKind.VISIT,
        ActivityKind.INTERACTION,
        ActivityKind.CONTENT_PUBLISHED,
        ActivityKind.CONTENT_VIEWED,
    ]
)


@settings(max_examples=1000)
@given(
    account=accounts,
    kind=activity_kinds,
    t=st.integers(1_700_000_000, 1_700_100_000),
    day=st.integers(739_000, 739_100),
)
def test_the_cheap_exit_only_skips_events_that_change_nothing(
    account: Account, kind: ActivityKind, t: int, day: int
) -> None:
    record = pack(account)
    full = unpack(record)
    full.activate(t)
    slot = _SLOT_OF_KIND.get(kind)
    if slot is not None:
        full.record_activity(slot, day)
    if _activity_changes_nothing(record, kind, t, day):
        assert pack(full) == record


def test_the_cheap_exit_takes_a_repeat_visit_and_not_a_first_one() -> None:
    seen = Account(created_at=1_700_000_000, activated_at=1_700_000_000, visit_last=739_010)
    record = pack(seen)
    assert _activity_changes_nothing(record, ActivityKind.VISIT, 1_700_000_100, 739_010)
    assert _activity_changes_nothing(record, ActivityKind.CONTENT_VIEWED, 1_700_000_100, 739_011)
    assert not _activity_changes_nothing(record, ActivityKind.VISIT, 1_700_000_100, 739_011)
    assert not _activity_changes_nothing(record, ActivityKind.INTERACTION, 1_700_000_100, 739_010)
    assert not _activity_changes_nothing(record, ActivityKind.VISIT, 1_699_999_999, 739_010)
