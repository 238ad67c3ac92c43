"""Section 6 of the definition, rule by rule, on small hand-made logs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engagement.domain import (
    AccountChanged,
    Activity,
    ActivityKind,
    OrgState,
    Outcome,
    ScoringRules,
    unpack,
)

K = ActivityKind
RULES = ScoringRules()


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def act(kind: ActivityKind, account: str, when: str, **kw: object) -> Activity:
    return Activity(kind, "org", account, ts(when), **kw)  # type: ignore[arg-type]


def message(account: str, when: str, content_id: str, **kw: object) -> Activity:
    """A content.published of a channel message (action created unless given)."""
    return act(
        K.CONTENT_PUBLISHED, account, when, content_id=content_id, content_type="message", **kw
    )


def read(account: str, when: str, content_id: str) -> Activity:
    return act(K.CONTENT_VIEWED, account, when, content_id=content_id, content_type="message")


def run(*events: Activity, tz: str = "Europe/Amsterdam") -> OrgState:
    state = OrgState("org", RULES, tz)
    for e in events:
        state.apply(e)
    return state


def value(state: OrgState, name: str) -> float | None:
    return state.figures().components[name].value


class TestAccounts:
    def test_first_visit_creates_and_activates_an_implicit_account(self) -> None:
        state = run(act(K.VISIT, "a", "2026-03-02T10:00:00"))
        reach = state.figures().components["reach"]
        assert (reach.numerator, reach.denominator) == (1, 1)

    def test_created_but_never_active_lowers_reach(self) -> None:
        state = run(
            act(K.ACCOUNT_CREATED, "a", "2026-03-01T10:00:00"),
            act(K.ACCOUNT_CREATED, "b", "2026-03-01T10:00:00"),
            act(K.VISIT, "a", "2026-03-02T10:00:00"),
        )
        assert value(state, "reach") == 50.0

    def test_late_created_event_makes_an_implicit_account_a_guest(self) -> None:
        state = run(
            act(K.VISIT, "a", "2026-03-02T10:00:00"),
            act(K.VISIT, "g", "2026-03-02T10:00:00"),
            act(K.ACCOUNT_CREATED, "g", "2026-03-01T10:00:00", account_kind="guest"),
        )
        assert state.figures().components["reach"].denominator == 1

    def test_deletion_is_final_from_its_time_on(self) -> None:
        """An event at or after the (known) deletion time is counted and changes nothing; an
        older event of the account arriving after the deletion is applied as usual."""
        state = OrgState("org", RULES)
        state.apply(act(K.VISIT, "a", "2026-03-02T10:00:00"))
        state.apply(act(K.ACCOUNT_DELETED, "a", "2026-03-03T10:00:00"))
        record = state.accounts["a"]
        later = state.apply(act(K.VISIT, "a", "2026-03-04T10:00:00"))
        at_deletion = state.apply(act(K.INTERACTION, "a", "2026-03-03T10:00:00"))
        assert later.outcome is at_deletion.outcome is Outcome.AFTER_DELETION
        assert not [c for c in later.changes if isinstance(c, AccountChanged)]
        assert state.accounts["a"] == record
        older = state.apply(act(K.INTERACTION, "a", "2026-03-02T12:00:00"))
        assert older.outcome is Outcome.APPLIED
        assert state.accounts["a"] != record  # its interaction of 2 March is known now
        assert state.figures().components["reach"].denominator == 0
        assert state.figures().components["interact"].numerator == 0

    def test_earliest_deletion_counts_whatever_arrives_first(self) -> None:
        """Of two deletions the earlier (3 March) is the deletion time, whichever arrives
        first."""
        for first, second in (("2026-03-05", "2026-03-03"), ("2026-03-03", "2026-03-05")):
            state = OrgState("org", RULES)
            state.apply(act(K.VISIT, "a", "2026-03-02T10:00:00"))
            state.apply(act(K.ACCOUNT_DELETED, "a", f"{first}T10:00:00"))
            state.apply(act(K.ACCOUNT_DELETED, "a", f"{second}T10:00:00"))
            assert unpack(state.accounts["a"]).deleted_at == ts("2026-03-03T10:00:00")
            state.apply(act(K.VISIT, "b", "2026-03-04T10:00:00"))
            assert state.figures().components["reach"].denominator == 1

    @pytest.mark.parametrize(
        ("guest_at", "counts"),
        [
            ("2026-03-03T10:00:00", True),  # guest created later: stays a member
            ("2026-03-01T10:00:00", False),  # guest created earlier: a guest
            ("2026-03-02T10:00:00", True),  # same time: the lower kind code (member) wins
        ],
    )
    @pytest.mark.parametrize("guest_first", [False, True])
    def test_earliest_account_created_sets_the_kind(
        self, guest_at: str, counts: bool, guest_first: bool
    ) -> None:
        member = act(K.ACCOUNT_CREATED, "a", "2026-03-02T10:00:00", account_kind="member")
        guest = act(K.ACCOUNT_CREATED, "a", guest_at, account_kind="guest")
        created = [guest, member] if guest_first else [member, guest]
        state = run(*created, act(K.VISIT, "a", "2026-03-04T10:00:00"))
        reach = state.figures().components["reach"]
        assert (reach.numerator, reach.denominator) == ((1, 1) if counts else (0, 0))

    def test_no_accounts_gives_no_value_not_zero(self) -> None:
        state = run(act(K.ACCOUNT_CREATED, "s", "2026-03-01T10:00:00", account_kind="system"))
        assert value(state, "visit") is None
        assert state.figures().score is None


class TestWindows:
    def test_window_is_thirty_local_days_today_included(self) -> None:
        # 2026-03-01 23:30 UTC is already 2 March in Amsterdam
        state = run(
            act(K.VISIT, "a", "2026-03-01T23:30:00"),
            act(K.VISIT, "b", "2026-03-01T22:30:00"),
            act(K.VISIT, "c", "2026-03-31T10:00:00"),
        )
        first, last = state.window_days(state.as_of)
        assert last - first == 29
        assert state.figures().components["visit"].numerator == 2  # b's 1 March fell out

    def test_repeats_and_duplicates_do_not_count_twice(self) -> None:
        visit = act(K.VISIT, "a", "2026-03-02T10:00:00")
        state = run(visit, visit, act(K.VISIT, "a", "2026-03-02T11:00:00"))
        assert state.figures().components["visit"].numerator == 1

    def test_event_older_than_window_in_closed_month_is_late(self) -> None:
        state = OrgState("org", RULES)
        state.apply(act(K.VISIT, "a", "2026-03-02T10:00:00"))
        state.apply(act(K.VISIT, "a", "2026-04-15T10:00:00"))
        late = state.apply(act(K.VISIT, "b", "2026-03-10T10:00:00"))
        assert late.outcome is Outcome.LATE
        assert state.figures().components["reach"].denominator == 1

    def test_event_older_than_window_in_open_month_still_counts(self) -> None:
        state = OrgState("org", RULES)
        state.apply(act(K.VISIT, "a", "2026-03-31T10:00:00"))
        applied = state.apply(act(K.VISIT, "b", "2026-03-01T10:00:00"))
        assert applied.outcome is Outcome.APPLIED
        assert state.month_to_date().components["visit"].numerator == 2
        assert state.figures().components["visit"].numerator == 1

    def test_month_closes_after_grace_with_final_figures(self) -> None:
        state = OrgState("org", RULES)
        state.apply(act(K.VISIT, "a", "2026-03-31T10:00:00"))
        in_grace = state.apply(act(K.VISIT, "b", "2026-03-31T22:30:00"))  # 00:30 local
        assert in_grace.closed_months == []
        closing = state.apply(act(K.VISIT, "c", "2026-03-31T23:01:00"))
        (march,) = closing.closed_months
        assert march.components["visit"].numerator == 1  # b visited in April, local time
        assert march.components["reach"].denominator == 1


class TestView:
    def test_view_is_share_of_message_audience_pairs_read(self) -> None:
        state = run(
            act(K.VISIT, "a", "2026-03-02T09:00:00"),
            act(K.VISIT, "b", "2026-03-02T09:00:00"),
            act(
                K.CONTENT_PUBLISHED,
                "a",
                "2026-03-02T10:00:00",
                content_id="m1",
                content_type="message",
            ),
            act(
                K.CONTENT_PUBLISHED,
                "a",
                "2026-03-02T10:00:00",
                content_id="m2",
                content_type="message",
                audience_size=10,
            ),
            act(
                K.CONTENT_VIEWED,
                "b",
                "2026-03-02T11:00:00",
                content_id="m1",
                content_type="message",
            ),
            act(
                K.CONTENT_VIEWED,
                "b",
                "2026-03-02T11:00:00",
                content_id="m2",
                content_type="message",
            ),
            act(
                K.CONTENT_VIEWED,
                "b",
                "2026-03-02T12:00:00",
                content_id="m2",
                content_type="message",
            ),
            act(K.CONTENT_VIEWED, "b", "2026-03-02T12:00:00", content_id="p1", content_type="page"),
        )
        view = state.figures().components["view"]
        assert (view.numerator, view.denominator) == (2, 12)

    def test_reads_of_a_deleted_account_leave_the_numerator(self) -> None:
        state = run(
            act(
                K.CONTENT_PUBLISHED,
                "a",
                "2026-03-02T10:00:00",
                content_id="m1",
                content_type="message",
                audience_size=3,
            ),
            act(
                K.CONTENT_VIEWED,
                "b",
                "2026-03-02T11:00:00",
                content_id="m1",
                content_type="message",
            ),
            act(K.ACCOUNT_DELETED, "b", "2026-03-03T11:00:00"),
        )
        assert state.figures().components["view"].numerator == 0

    def test_reads_are_capped_at_the_audience(self) -> None:
        state = run(
            act(K.VISIT, "a", "2026-03-02T09:00:00"),
            act(K.VISIT, "b", "2026-03-02T09:00:00"),
            message("c", "2026-03-02T10:00:00", "m1", audience_size=1),
            read("a", "2026-03-02T11:00:00", "m1"),
            read("b", "2026-03-02T11:00:00", "m1"),
        )
        view = state.figures().components["view"]
        assert (view.numerator, view.denominator) == (1, 1)

    def test_an_edited_message_adds_nothing_to_the_denominator(self) -> None:
        state = run(
            act(K.VISIT, "b", "2026-03-02T09:00:00"),
            message("a", "2026-03-02T10:00:00", "m1", audience_size=3),
            message("a", "2026-03-02T11:00:00", "m1", audience_size=5, action="edited"),
            message("a", "2026-03-02T11:00:00", "m2", audience_size=4, action="edited"),
            read("b", "2026-03-02T12:00:00", "m2"),
        )
        view = state.figures().components["view"]
        assert (view.numerator, view.denominator) == (0, 3)

    def test_reads_of_unknown_or_out_of_window_messages_change_nothing(self) -> None:
        base = [
            act(K.VISIT, "b", "2026-03-01T09:00:00"),
            message("a", "2026-03-01T10:00:00", "old", audience_size=2),
            message("a", "2026-04-01T10:00:00", "m1", audience_size=2),
            read("b", "2026-04-01T11:00:00", "m1"),
        ]
        extra = [
            read("b", "2026-04-01T12:00:00", "nope"),  # never published
            read("b", "2026-04-01T12:00:00", "old"),  # 31 days old: outside the window
        ]
        as_of = ts("2026-04-01T12:00:00")
        with_extra, without = run(*base, *extra).figures(as_of), run(*base).figures(as_of)
        assert with_extra == without
        view = with_extra.components["view"]
        assert (view.numerator, view.denominator) == (1, 2)

    def test_a_guest_reader_is_not_counted(self) -> None:
        events = [
            act(K.ACCOUNT_CREATED, "g", "2026-03-01T09:00:00", account_kind="guest"),
            message("a", "2026-03-02T10:00:00", "m1", audience_size=5),
            read("g", "2026-03-02T11:00:00", "m1"),
        ]
        view = run(*events).figures().components["view"]
        assert (view.numerator, view.denominator) == (0, 5)
        with_guests = OrgState("org", ScoringRules(included_kinds=frozenset({"member", "guest"})))
        for e in events:
            with_guests.apply(e)
        view = with_guests.figures().components["view"]
        assert (view.numerator, view.denominator) == (1, 5)

    def test_a_deleted_authors_messages_still_count(self) -> None:
        """Deleted before its publications arrived, one published before the deletion time and
        one after: both are channel messages with their audience."""
        state = OrgState("org", RULES)
        state.apply(act(K.VISIT, "b", "2026-03-01T09:00:00"))
        state.apply(act(K.ACCOUNT_DELETED, "a", "2026-03-03T10:00:00"))
        before = state.apply(message("a", "2026-03-02T10:00:00", "m1", audience_size=2))
        after = state.apply(message("a", "2026-03-04T10:00:00", "m2", audience_size=2))
        assert (before.outcome, after.outcome) == (Outcome.APPLIED, Outcome.AFTER_DELETION)
        state.apply(read("b", "2026-03-04T11:00:00", "m1"))
        state.apply(read("b", "2026-03-04T11:00:00", "m2"))
        view = state.figures().components["view"]
        assert (view.numerator, view.denominator) == (2, 4)
        assert state.figures().components["reach"].denominator == 1  # a itself is out

    def test_a_read_sent_before_the_deletion_counts_in_the_month_before_it(self) -> None:
        """b read in March and was deleted in April's first hour (March's grace period); the
        read arrives after the deletion but before March closes: March counts it."""
        state = OrgState("org", RULES)
        state.apply(act(K.VISIT, "b", "2026-03-05T09:00:00"))
        state.apply(message("a", "2026-03-10T10:00:00", "m1", audience_size=2))
        state.apply(act(K.ACCOUNT_DELETED, "b", "2026-03-31T22:20:00"))  # 00:20 local
        sent = state.apply(read("b", "2026-03-20T10:00:00", "m1"))
        assert sent.outcome is Outcome.APPLIED
        (march,) = state.apply(act(K.VISIT, "a", "2026-04-01T00:00:00")).closed_months
        view, reach = march.components["view"], march.components["reach"]
        assert (view.numerator, view.denominator) == (1, 2)
        assert (reach.numerator, reach.denominator) == (2, 2)
        assert state.figures().components["view"].numerator == 0  # b is out now

    def test_a_readers_earliest_read_counts_whatever_arrives_first(self) -> None:
        """b read in March and again in April's first hour (March's grace period), the April
        read arriving first: March still counts b's read."""
        state = OrgState("org", RULES)
        state.apply(message("a", "2026-03-10T10:00:00", "m1", audience_size=2))
        state.apply(read("b", "2026-03-31T22:30:00", "m1"))  # 00:30 local, 1 April
        state.apply(read("b", "2026-03-20T10:00:00", "m1"))
        (march,) = state.apply(act(K.VISIT, "a", "2026-04-01T00:00:00")).closed_months
        view = march.components["view"]
        assert (view.numerator, view.denominator) == (1, 2)

    @pytest.mark.parametrize("earliest_first", [True, False])
    def test_the_earliest_publication_of_a_message_wins(self, earliest_first: bool) -> None:
        earliest = message("a", "2026-03-02T09:00:00", "m1", audience_size=2)
        later = message("a", "2026-03-02T15:00:00", "m1", audience_size=8)
        reading = read("b", "2026-03-02T16:00:00", "m1")
        events = [earliest, reading, later] if earliest_first else [later, reading, earliest]
        state = run(*events)
        view = state.figures().components["view"]
        assert (view.numerator, view.denominator) == (1, 2)
        assert state.messages["m1"].time == ts("2026-03-02T09:00:00")

    def test_read_arriving_before_its_message_counts_once_the_message_arrives(self) -> None:
        state = run(
            act(
                K.CONTENT_VIEWED,
                "b",
                "2026-03-02T11:00:00",
                content_id="m1",
                content_type="message",
            ),
            act(
                K.CONTENT_PUBLISHED,
                "a",
                "2026-03-02T10:00:00",
                content_id="m1",
                content_type="message",
                audience_size=4,
            ),
        )
        assert state.figures().components["view"].value == 25.0


def test_engagement_score_leaves_out_a_component_without_value() -> None:
    """No message: View has no value, so with equal weights the score is the mean of the
    other four (divided by 4, not by 5)."""
    state = run(
        act(K.ACCOUNT_CREATED, "a", "2026-03-01T10:00:00"),
        act(K.VISIT, "b", "2026-03-02T10:00:00"),
    )
    figures = state.figures()
    assert figures.components["view"].value is None
    assert [figures.components[n].value for n in ("reach", "visit", "interact", "contribute")] == [
        50.0,
        100.0,
        0.0,
        0.0,
    ]
    assert figures.score == 37.5


def test_engagement_score_is_weighted_mean_of_components_with_a_value() -> None:
    rules = ScoringRules(
        weights={"reach": 3, "visit": 1, "view": 0, "interact": 0, "contribute": 0}
    )
    state = OrgState("org", rules)
    state.apply(act(K.ACCOUNT_CREATED, "a", "2026-03-01T10:00:00"))
    state.apply(act(K.VISIT, "b", "2026-03-02T10:00:00"))
    # reach 50, visit 100 -> (3*50 + 1*100) / 4
    assert state.figures().score == 62.5


class TestBoundedState:
    def test_messages_and_reads_leave_state_once_no_window_or_open_month_needs_them(self) -> None:
        state = run(
            act(
                K.CONTENT_PUBLISHED,
                "a",
                "2026-03-02T10:00:00",
                content_id="m1",
                content_type="message",
            ),
            act(
                K.CONTENT_VIEWED,
                "b",
                "2026-03-02T11:00:00",
                content_id="m1",
                content_type="message",
            ),
            # a read of a message not seen (yet): held as pending
            act(
                K.CONTENT_VIEWED,
                "b",
                "2026-03-02T12:00:00",
                content_id="m9",
                content_type="message",
            ),
        )
        assert (state.tracked_messages(), state.tracked_reads()) == (1, 2)
        # 10 days on: still inside the window
        state.apply(act(K.VISIT, "a", "2026-03-12T10:00:00"))
        assert (state.tracked_messages(), state.tracked_reads()) == (1, 2)
        # past the window and March closed: forgotten, accounts kept
        state.apply(act(K.VISIT, "a", "2026-05-10T10:00:00"))
        assert (state.tracked_messages(), state.tracked_reads()) == (0, 0)
        assert state.tracked_accounts() == 2


def test_leaves_day_is_about_the_local_day_of_the_organisation() -> None:
    """The adapter publishes the day an event takes the organisation out of (its last score of
    the day); local midnight in Amsterdam is 23:00 UTC in winter."""
    assert not OrgState("org", RULES, "Europe/Amsterdam").leaves_day(ts("2026-01-10T09:00"))
    state = run(act(K.VISIT, "a", "2026-01-10T09:00"))
    assert not state.leaves_day(ts("2026-01-10T22:59"))  # 23:59 local, same day
    assert state.leaves_day(ts("2026-01-10T23:00"))  # 00:00 local, the next day
    assert not state.leaves_day(ts("2026-01-09T12:00"))  # older: the day is not left
