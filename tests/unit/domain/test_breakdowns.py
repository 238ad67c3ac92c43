"""Each breakdown's counting rule on hand-made events (docs/scoring.md, "Breakdowns")."""

from __future__ import annotations

from engagement.domain import Activity, ActivityKind
from engagement.domain.breakdowns import OrgBreakdowns

K = ActivityKind
D = 739_000  # a local day ordinal


def act(kind: ActivityKind, account: str, **kw: object) -> Activity:
    return Activity(kind, "o", account, 0, **kw)  # type: ignore[arg-type]


def visit(b: OrgBreakdowns, account: str, day: int) -> None:
    b.apply(act(K.VISIT, account), day)


def publish(
    b: OrgBreakdowns, account: str, content: str, day: int, type_: str = "message", **kw: object
) -> None:
    b.apply(act(K.CONTENT_PUBLISHED, account, content_id=content, content_type=type_, **kw), day)


def read(b: OrgBreakdowns, account: str, content: str, day: int, type_: str = "message") -> None:
    b.apply(act(K.CONTENT_VIEWED, account, content_id=content, content_type=type_), day)


def test_visit_frequency_counts_distinct_days_in_the_window_per_account() -> None:
    b = OrgBreakdowns()
    visit(b, "once", D)
    for d in (D, D, D + 1, D + 2):  # a repeat on day D counts once: 3 days
        visit(b, "three", d)
    for d in range(D, D + 7):
        visit(b, "seven", d)
    for d in range(D - 5, D + 12):  # 17 days
        visit(b, "often", d)
    visit(b, "old", D - 40)  # before the window: dropped
    freq = b.figures(D + 15, activated=5)["visit_frequency"]
    assert freq == {"1": 1, "2-4": 1, "5-9": 1, "10+": 1}
    # 30 days later only the last days of "often" are left: days D+11 .. D+11 in window
    later = b.figures(D + 40, activated=5)["visit_frequency"]
    assert later == {"1": 1, "2-4": 0, "5-9": 0, "10+": 0}


def test_views_per_channel_are_distinct_reads_capped_at_the_audience() -> None:
    b = OrgBreakdowns()
    publish(b, "author", "m1", D, channel_id="news")  # audience: the activated accounts
    publish(b, "author", "m2", D, channel_id="team-1", audience_size=2)
    publish(b, "author", "m3", D + 1, channel_id="team-1", audience_size=2)
    for reader in ("a", "b", "c"):
        read(b, reader, "m2", D + 1)  # 3 readers, audience 2: 2 count
    read(b, "a", "m1", D + 1)
    read(b, "a", "m1", D + 2)  # the same read again
    read(b, "b", "m9", D + 2)  # an unknown message: nowhere
    channels = b.figures(D + 2, activated=10)["channels"]
    assert channels == [
        {"channel": "news", "messages": 1, "reads": 1, "audience": 10, "view": 10.0},
        {"channel": "team-1", "messages": 2, "reads": 2, "audience": 4, "view": 50.0},
    ]


def test_a_read_before_its_message_counts_once_the_message_arrives() -> None:
    b = OrgBreakdowns()
    read(b, "a", "m1", D)
    publish(b, "author", "m1", D, channel_id="news", audience_size=4)
    (row,) = b.figures(D, activated=4)["channels"]
    assert (row["reads"], row["audience"]) == (1, 4)


def test_contributions_and_viewers_by_content_type() -> None:
    b = OrgBreakdowns()
    publish(b, "x", "m1", D, channel_id="news")
    publish(b, "x", "p1", D, "page")
    publish(b, "y", "p1", D + 1, "page", action="edited")  # another author edits the page
    publish(b, "x", "p1", D + 2, "page", action="edited")  # the same (page, author) again
    publish(b, "z", "d1", D, "document")
    read(b, "a", "p1", D, "page")
    read(b, "a", "p1", D + 1, "page")  # the same viewer
    read(b, "b", "d1", D, "document")
    read(b, "b", "m1", D)
    types = b.figures(D + 2, activated=5)["content_types"]
    assert types == {
        "message": {"contributions": 1, "contributors": 1, "viewers": 1},
        "page": {"contributions": 1, "contributors": 2, "viewers": 1},
        "document": {"contributions": 1, "contributors": 1, "viewers": 1},
        "event": {"contributions": 0, "contributors": 0, "viewers": 0},
    }


def test_concentration_is_the_share_of_the_top_tenth_of_contributors() -> None:
    b = OrgBreakdowns()
    for i in range(30):  # one heavy communicator: 30 pieces
        publish(b, "heavy", f"h{i}", D, "page")
    for i in range(11):  # eleven others: one piece each -> 12 contributors, top 10 % = 2
        publish(b, f"c{i}", f"c{i}", D, "page")
    concentration = b.figures(D, activated=20)["concentration"]
    assert concentration == {
        "contributors": 12,
        "contributions": 41,
        "top_contributors": 2,
        "top_contributions": 31,
        "top_share": 75.6,
    }
    assert OrgBreakdowns().figures(D, 0)["concentration"]["top_share"] is None


def test_deleted_and_excluded_kinds_leave_every_breakdown() -> None:
    b = OrgBreakdowns()
    visit(b, "a", D)
    visit(b, "g", D)
    publish(b, "a", "p1", D, "page")
    b.apply(act(K.ACCOUNT_DELETED, "a"), D + 1)
    b.apply(act(K.ACCOUNT_CREATED, "g", account_kind="guest"), D + 1)
    figures = b.figures(D + 1, activated=3)
    assert figures["visit_frequency"]["1"] == 0
    assert figures["content_types"]["page"]["contributors"] == 0
    assert figures["excluded_accounts"] == 2


def test_repeats_change_nothing_and_report_no_change() -> None:
    b = OrgBreakdowns()
    assert b.apply(act(K.VISIT, "a"), D)
    assert b.apply(act(K.VISIT, "a"), D) == []
    publish(b, "a", "m1", D, channel_id="news")
    assert b.apply(act(K.CONTENT_PUBLISHED, "a", content_id="m1", content_type="message"), D) == []


def test_the_state_holds_one_window_and_restores_from_its_facts() -> None:
    b = OrgBreakdowns()
    facts: dict[str, object] = {}

    def apply(activity: Activity, day: int) -> None:
        for change in b.apply(activity, day):
            if change.value is None:
                facts.pop(change.key, None)
            else:
                facts[change.key] = change.value

    for d in range(D, D + 100):
        apply(act(K.VISIT, f"v{d % 7}"), d)
        apply(
            act(
                K.CONTENT_PUBLISHED,
                "x",
                content_id=f"m{d}",
                content_type="message",
                channel_id="news",
            ),
            d,
        )
        apply(act(K.CONTENT_VIEWED, f"v{d % 5}", content_id=f"m{d}", content_type="message"), d)
    assert len(b.messages) <= 30  # one window of messages, not 100
    assert len(b.readers) <= 30
    again = OrgBreakdowns.restore(facts.items())
    for day in (D + 99, D + 105):
        assert again.figures(day, 7) == b.figures(day, 7)
