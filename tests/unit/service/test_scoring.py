"""The first stage on plain inputs (no broker, no Faust): activity -> state -> records out."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from engagement.domain import Outcome
from engagement.events import DeadLetterReason, ScoreUpdated, decode_output
from engagement.ingest import epoch_seconds

from .fakes import FirstStage, at, created, profile, visit


def _reason(headers: list[tuple[str, bytes]]) -> bytes | None:
    return next((v for k, v in headers if "reason" in k), None)


def _score(out: object) -> ScoreUpdated:
    event = decode_output(out.key, out.value, out.headers)  # type: ignore[attr-defined]
    assert isinstance(event.data, ScoreUpdated)
    return event.data


def test_an_unreadable_record_is_dead_lettered_untouched_and_changes_nothing() -> None:
    f = FirstStage()
    applied = f.stage.activity(b"org-1", b"{not json", [("ce_type", b"intranet.visit.v1")])
    assert applied.outcome is None
    [out] = applied.outputs
    assert out.topic == f.settings.dead_letter_topic
    assert (out.key, out.value) == (b"org-1", b"{not json")
    assert ("ce_type", b"intranet.visit.v1") in out.headers
    assert out.reason is not None
    assert _reason(out.headers) == out.reason.value.encode()
    assert f.states.orgs == {}
    assert f.emitter.dirty == set()


def test_an_event_older_than_every_window_and_open_month_is_dead_lettered_as_late() -> None:
    f = FirstStage()
    f.feed(created("a", at("2025-01-02")))
    f.feed(visit("a", at("2025-05-20")))  # the state moves on: January is closed and gone
    late = visit("a", at("2025-01-03"))
    applied = f.feed(late)
    assert applied.outcome is Outcome.LATE
    [out] = applied.outputs
    assert out.topic == f.settings.dead_letter_topic
    assert out.reason is DeadLetterReason.LATE
    assert (out.key, out.value) == (late.key, late.value)


def test_a_closed_month_is_returned_once() -> None:
    f = FirstStage()
    f.feed(created("a", at("2025-03-03")))
    f.feed(visit("a", at("2025-03-10")))
    applied = f.feed(visit("a", at("2025-04-02")))  # past March's end plus grace
    monthly = [o for o in applied.outputs if o.topic == f.settings.monthly_topic]
    assert len(monthly) == 1
    assert b'"month":"2025-03"' in (monthly[0].value or b"")
    again = f.feed(visit("a", at("2025-04-03")))
    assert not [o for o in again.outputs if o.topic == f.settings.monthly_topic]


def test_an_event_on_a_later_local_day_first_publishes_the_day_it_leaves() -> None:
    f = FirstStage()
    f.feed(created("a", at("2025-03-03", 9)))
    f.feed(visit("a", at("2025-03-03", 18)))  # dirty: not yet published
    applied = f.feed(visit("a", at("2025-03-04", 8)))
    scores = [o for o in applied.outputs if o.topic == f.settings.scores_topic]
    assert len(scores) == 1
    assert _score(scores[0]).as_of == at("2025-03-03", 18)  # the last moment of that day
    assert "org-1" in f.emitter.dirty  # the new day's figures wait for the timer
    same_day = f.feed(visit("a", at("2025-03-04", 9)))
    assert not [o for o in same_day.outputs if o.topic == f.settings.scores_topic]


def test_published_as_of_never_goes_back() -> None:
    f = FirstStage()
    f.feed(created("a", at("2025-03-03", 9)))
    f.feed(created("b", at("2025-03-03", 20)))
    [first] = f.emitter.emit(set(f.emitter.dirty))
    assert _score(first).as_of == at("2025-03-03", 20)
    f.feed(visit("b", at("2025-03-03", 10)))  # older than what was published
    [second] = f.emitter.emit(set(f.emitter.dirty))
    assert _score(second).as_of == at("2025-03-03", 20)
    assert _score(second).components.visit != _score(first).components.visit
    assert f.emitter.emit(set(f.emitter.dirty)) == []  # nothing changed: nothing sent


def test_unchanged_figures_are_not_published_again() -> None:
    f = FirstStage()
    f.feed(created("a", at("2025-03-03", 9)))
    assert len(f.emitter.emit({"org-1"})) == 1
    f.feed(created("a", at("2025-03-03", 9)))  # a redelivery: same figures
    assert f.emitter.emit({"org-1"}) == []


def test_an_organisation_not_owned_any_more_is_not_published() -> None:
    f = FirstStage()
    f.feed(created("a", at("2025-03-03", 9)))
    f.partitions.owned = []
    assert f.emitter.emit({"org-1"}) == []


def test_a_restored_organisation_waits_for_the_second_stage_to_catch_up() -> None:
    f = FirstStage()
    f.feed(created("a", at("2025-03-03", 9)))
    f.emitter.restart()
    scores = f.settings.scores_topic
    f.partitions.ends[(scores, 0)] = 5
    assert f.emitter.emit({"org-1"}) == []
    assert "org-1" in f.emitter.dirty
    f.assessment_table["org-1"] = {"as_of": epoch_seconds(at("2025-03-05"))}
    f.progress.scores.processed(0, 4)  # the second stage read to the end offset
    [out] = f.emitter.emit({"org-1"})
    assert _score(out).as_of == at("2025-03-05")  # what was published before, not earlier


@pytest.mark.parametrize(
    ("published_before", "days"),
    [
        # the previous owner published the 1st at 09:00: from that day on, each day's end
        (at("2025-03-01", 9), ["2025-03-01", "2025-03-02", "2025-03-03", "2025-03-04"]),
        # it had published up to the 3rd: the days before are covered by its publications
        (at("2025-03-03", 10), ["2025-03-03", "2025-03-04"]),
    ],
)
def test_day_ends_read_while_waiting_for_the_second_stage_are_published_once_it_caught_up(
    published_before: datetime, days: list[str]
) -> None:
    """After a rebuild the worker may read a backlog (days of it) before the second stage has
    caught up: each day it leaves still gets its last score, published in order once it may
    be; a day the previous owner had already published past is not published again."""
    f = FirstStage()
    f.feed(created("a", at("2025-03-01", 9)))
    f.emitter.restart()
    scores = f.settings.scores_topic
    f.partitions.ends[(scores, 0)] = 5
    f.feed(visit("a", at("2025-03-02", 10)))  # leaves the 1st: held
    f.feed(created("b", at("2025-03-03", 10)))  # leaves the 2nd: held
    f.feed(visit("b", at("2025-03-04", 11)))  # leaves the 3rd: held
    assert f.emitter.emit({"org-1"}) == []  # still waiting
    f.assessment_table["org-1"] = {"as_of": epoch_seconds(published_before)}
    f.progress.scores.processed(0, 4)  # the second stage read to the end offset
    published = [_score(out) for out in f.emitter.emit({"org-1"})]
    assert [p.window_end.isoformat() for p in published] == days
    as_ofs = [p.as_of for p in published]
    assert as_ofs == sorted(as_ofs)  # never back
    assert as_ofs[-1] == at("2025-03-04", 11)


def test_a_restored_partition_is_not_applied_before_the_second_stage_caught_up() -> None:
    f = FirstStage()
    f.feed(created("a", at("2025-03-03", 9)))
    assert f.emitter.partition_ready(0)
    f.emitter.restart()
    f.partitions.ends[(f.settings.scores_topic, 0)] = 5
    assert not f.emitter.partition_ready(0)  # its records are read again later
    f.progress.scores.processed(0, 4)  # the second stage read to the end offset
    assert f.emitter.partition_ready(0)


def test_a_profile_sets_the_time_zone_and_a_tombstone_withdraws_it() -> None:
    f = FirstStage()
    rec = profile("org-1", timezone="Europe/Amsterdam", sector="government")
    applied = f.stage.profile(rec.key, rec.value, rec.headers)
    assert applied.event_type is not None
    assert f.read_model.profile("org-1").timezone == "Europe/Amsterdam"  # type: ignore[union-attr]
    f.feed(created("a", at("2025-03-03", 23)))  # 00:00 local on the 4th
    assert f.states.orgs["org-1"].timezone == "Europe/Amsterdam"
    bad = f.stage.profile(b"org-1", b"nope", rec.headers)
    assert bad.rejected is not None
    f.stage.profile(b"org-1", None, [])
    assert f.read_model.profile("org-1") is None


def test_the_clock_moves_a_caught_up_partition_only() -> None:
    f = FirstStage()
    activity = f.settings.activity_topic
    f.feed(created("a", at("2025-03-03", 9)))
    f.progress.activity.processed(0, 0)
    f.partitions.ends[(activity, 0)] = 2  # one record left to read
    now = epoch_seconds(at("2025-04-10"))
    assert f.stage.clock_tick(0, now).moved == 0
    f.partitions.ends[(activity, 0)] = 1
    assert f.stage.clock_tick(0, now).moved == 0  # the profiles' end is not known yet
    f.partitions.ends[(f.settings.profiles_topic, 0)] = 0  # an empty profiles partition
    moved = f.stage.clock_tick(0, now)
    assert moved.moved == 1
    topics = [o.topic for o in moved.outputs]
    # the day it left first (it was dirty), then March, closed by the clock
    assert topics == [f.settings.scores_topic, f.settings.monthly_topic]
    assert f.states.orgs["org-1"].as_of == now
    assert f.stage.clock_tick(0, now - int(timedelta(hours=1).total_seconds())).moved == 0


def test_the_clock_waits_while_restored_organisations_wait_for_the_second_stage() -> None:
    """A tick while a restored partition waits would take the day it leaves into memory only
    (its state change reaches the changelog): it waits, and a later tick moves it."""
    f = FirstStage()
    f.feed(created("a", at("2025-03-03", 9)))
    f.progress.activity.processed(0, 0)
    f.partitions.ends[(f.settings.activity_topic, 0)] = 1
    f.partitions.ends[(f.settings.profiles_topic, 0)] = 0
    f.emitter.restart()
    f.partitions.ends[(f.settings.scores_topic, 0)] = 5
    now = epoch_seconds(at("2025-03-04", 12))
    waiting = f.stage.clock_tick(0, now)
    assert (waiting.moved, waiting.outputs) == (0, [])
    assert f.states.orgs["org-1"].as_of < now
    f.progress.scores.processed(0, 4)  # the second stage read to the end offset
    moved = f.stage.clock_tick(0, now)
    assert moved.moved == 1
    assert [_score(o).window_end.isoformat() for o in moved.outputs] == ["2025-03-03"]
