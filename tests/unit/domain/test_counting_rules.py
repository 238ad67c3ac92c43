"""Section 6 of the definition, rule by rule, on small hand-made logs."""

from __future__ import annotations

from datetime import UTC, datetime

from engagement.domain import Activity, ActivityKind, OrgState, Outcome, ScoringRules

K = ActivityKind
RULES = ScoringRules()


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def act(kind: ActivityKind, account: str, when: str, **kw: object) -> Activity:
    return Activity(kind, "org", account, ts(when), **kw)  # type: ignore[arg-type]


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

    def test_deletion_is_final(self) -> None:
        state = OrgState("org", RULES)
        state.apply(act(K.VISIT, "a", "2026-03-02T10:00:00"))
        state.apply(act(K.ACCOUNT_DELETED, "a", "2026-03-03T10:00:00"))
        later = state.apply(act(K.VISIT, "a", "2026-03-04T10:00:00"))
        assert later.outcome is Outcome.AFTER_DELETION
        assert state.figures().components["reach"].denominator == 0

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
