"""The history: stream (first stage -> score events -> second stage -> history tables, on
dicts) equals the batch, day by day and month by month; retention; the API's JSON and CSV."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from engagement.domain import COMPONENTS, Component
from engagement.domain.history import HistoryPoint, month_last_day, point_of
from engagement.events import ScoreUpdated, decode_output
from engagement_scorer.assess import AssessingStage
from engagement_scorer.batch import recompute, timezones_from
from engagement_scorer.breakdown_store import Breakdowns
from engagement_scorer.history import History, HistoryTables
from engagement_scorer.history_views import (
    CSV_COLUMNS,
    BadQuery,
    history_csv,
    history_response,
)
from engagement_scorer.scoring import ScoringStage
from engagement_simulator.traffic import generate

from .fakes import FirstStage, settings

END = datetime(2025, 6, 20, 18, tzinfo=UTC)


class Pipeline(FirstStage):
    """First stage, the score events it publishes read back by the second stage, both
    recording into one history (as ``create_app`` wires them)."""

    def __init__(self, retention_days: int = 400, seed: int = 0) -> None:
        super().__init__(settings(history_retention_days=retention_days))
        self.history_tables = HistoryTables(days={}, months={})
        self.history = History(self.history_tables, retention_days)
        self.breakdown_table: dict[str, Any] = {}
        self.breakdowns = Breakdowns(self.settings, self.breakdown_table)
        self.stage = ScoringStage(
            self.settings,
            self.states,
            self.emitter,
            self.clock,
            self.partitions,
            self.progress,
            self.history,
            self.breakdowns,
        )
        self.second = AssessingStage(self.settings, self.assessments, {}, self.history)
        self.random = random.Random(seed)
        self.scores: list[ScoreUpdated] = []

    def read_back(self, outputs: list[Any]) -> None:
        for out in outputs:
            if out.topic != self.settings.scores_topic:
                continue
            self.second.score_event(out.key, out.value, out.headers)
            event = decode_output(out.key, out.value, out.headers)
            assert isinstance(event.data, ScoreUpdated)
            self.scores.append(event.data)

    def run(self, records: list[Any], emit_every: float = 0.02) -> None:
        for rec in records:
            self.read_back(self.stage.activity(rec.key, rec.value, rec.headers).outputs)
            if self.random.random() < emit_every:  # the timer, at arbitrary moments
                self.read_back(self.emitter.emit(set(self.emitter.dirty)))
        self.read_back(self.emitter.emit(set(self.emitter.dirty)))


def stream_days(p: Pipeline, org: str) -> dict[int, tuple[Any, ...]]:
    return {d: pt.comparable() for d, pt in p.history.days(org, 0, 10**7)}


def stream_months(p: Pipeline, org: str) -> dict[int, tuple[Any, ...]]:
    return {k: pt.comparable() for k, pt in p.history.months(org, 0, 10**7)}


LOG = generate(
    seed=7, orgs=6, days=40, end=END, duplicates=0.03, disorder=0.05, accounts_per_org=(5, 15)
)


@pytest.mark.parametrize("emit_every", [0.0, 0.02, 0.5])
def test_stream_history_equals_batch_day_by_day_and_month_by_month(emit_every: float) -> None:
    zones = timezones_from(LOG.profiles)
    p = Pipeline(seed=int(emit_every * 100))
    for rec in LOG.profiles:
        p.stage.profile(rec.key, rec.value, rec.headers)
    p.run(list(LOG.activity), emit_every)
    batch = recompute(LOG.activity, p.settings.scoring_rules(), zones)
    assert set(batch.history_days) == {s.org_id for s in p.scores}
    for org, days in batch.history_days.items():
        assert len(days) >= 25  # the log spans 40 days: most days have figures
        assert stream_days(p, org) == {d: pt.comparable() for d, pt in days.items()}
        months = batch.history_months[org]
        assert months, "the log spans a month end"
        assert stream_months(p, org) == {k: pt.comparable() for k, pt in months.items()}
        # the newest day is the current figures
        last = max(days)
        assert days[last].comparable() == point_of(0, *_figures(batch.scores[org])).comparable()[0:]


def _figures(score: dict[str, Any]) -> tuple[dict[str, Component], float | None]:
    comps = {
        n: Component(score["components"][n]["numerator"], score["components"][n]["denominator"])
        for n in COMPONENTS
    }
    return comps, score["engagement_score"]


def test_a_day_keeps_the_figures_it_had_when_the_organisation_left_it() -> None:
    """A late event of a past day changes the following days (their windows hold it), not
    the day already recorded: in the stream and in the batch alike."""
    from .fakes import at, visit

    records = [
        visit("a", at("2025-06-10", 9)),
        visit("b", at("2025-06-11", 9)),
        visit("c", at("2025-06-10", 15)),  # late: day 10 was left already
    ]
    p = Pipeline()
    p.run(records, emit_every=0.0)
    days = {date.fromordinal(d).isoformat(): pt for d, pt in p.history.days("org-1", 0, 10**7)}
    assert days["2025-06-10"].components["visit"] == Component(1, 1)
    assert days["2025-06-11"].components["visit"] == Component(3, 3)
    batch = recompute(records, p.settings.scoring_rules())
    assert {d: pt.comparable() for d, pt in batch.history_days["org-1"].items()} == {
        d: pt.comparable() for d, pt in p.history.days("org-1", 0, 10**7)
    }


def test_retention_keeps_the_last_n_days_in_the_stream_and_the_batch() -> None:
    p = Pipeline(retention_days=10)
    p.run(list(LOG.activity), 0.05)
    batch = recompute(LOG.activity, p.settings.scoring_rules(), retention_days=10)
    for org, days in batch.history_days.items():
        assert len(days) <= 10
        assert max(days) - min(days) < 10
        assert stream_days(p, org) == {d: pt.comparable() for d, pt in days.items()}
        # nothing older than the span is left in the table either
        first, last = p.history.day_span(org) or (0, 0)
        assert last - first < 10
        stale = [k for k in p.history_tables.days if k.startswith(org + "\x1f")]
        assert len(stale) == len(days)
        for key in batch.history_months.get(org, {}):
            assert month_last_day(key) >= max(days) - 40


def test_a_point_survives_its_record_and_a_bad_record_is_refused() -> None:
    comps = {n: Component(i, 10) for i, n in enumerate(COMPONENTS)}
    point = point_of(1_750_000_000, comps, 20.0)
    again = HistoryPoint.from_record(point.to_record())
    assert again == point
    assert point.level is not None
    with pytest.raises(ValueError, match="history record of 3 fields"):
        HistoryPoint.from_record([1, 2, 3])


class Ctx:
    def __init__(self, history: History) -> None:
        self.history = history


def test_the_api_answers_days_and_months_with_a_range_and_as_csv() -> None:
    p = Pipeline()
    p.run(list(LOG.activity), 0.05)
    org = sorted(p.history.tables.months)[0].split("\x1f")[0]
    ctx: Any = Ctx(p.history)
    everything = history_response(ctx, org, {})
    assert everything.granularity == "day"
    assert len(everything.points) >= 25
    periods = [pt.period for pt in everything.points]
    assert periods == sorted(periods)
    lo, hi = periods[3], periods[9]
    some = history_response(ctx, org, {"from": lo, "to": hi})
    assert [pt.period for pt in some.points] == [x for x in periods if lo <= x <= hi]
    months = history_response(ctx, org, {"granularity": "month"})
    assert [pt.period for pt in months.points] == [
        f"{k // 12:04d}-{k % 12 + 1:02d}" for k, _ in p.history.months(org, 0, 10**7)
    ]
    assert history_response(ctx, org, {"granularity": "month", "from": "2099-01"}).points == []

    text = history_csv(some)
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == 1 + len(some.points)
    for row, pt in zip(rows[1:], some.points, strict=True):
        cells = dict(zip(CSV_COLUMNS, row, strict=True))
        assert cells["period"] == pt.period
        assert cells["org_id"] == org
        for name in COMPONENTS:
            figure = getattr(pt.components, name)
            assert int(cells[f"{name}_numerator"]) == figure.numerator
            assert int(cells[f"{name}_denominator"]) == figure.denominator
            assert cells[name] == ("" if figure.value is None else str(figure.value))
        assert cells["level"] == (pt.level or "")


@pytest.mark.parametrize(
    "query",
    [
        {"granularity": "week"},
        {"from": "yesterday"},
        {"from": "2025-06-10", "to": "2025-06-01"},
        {"granularity": "month", "to": "2025-13"},
    ],
)
def test_a_bad_query_is_refused_with_the_reason(query: dict[str, str]) -> None:
    ctx: Any = Ctx(History(HistoryTables(days={}, months={}), 400))
    with pytest.raises(BadQuery):
        history_response(ctx, "org-1", query)


def test_history_moments_are_never_in_the_future_of_their_day() -> None:
    p = Pipeline()
    p.run(list(LOG.activity), 0.05)
    for org in {s.org_id for s in p.scores}:
        for day, pt in p.history.days(org, 0, 10**7):
            assert pt.as_of <= END.timestamp() + 86_400
            assert date.fromordinal(day) <= (END + timedelta(days=1)).date()


def test_stream_breakdowns_equal_the_batch_and_survive_a_rebuild() -> None:
    zones = timezones_from(LOG.profiles)
    p = Pipeline()
    for rec in LOG.profiles:
        p.stage.profile(rec.key, rec.value, rec.headers)
    p.run(list(LOG.activity), 0.05)
    batch = recompute(LOG.activity, p.settings.scoring_rules(), zones)
    assert set(batch.breakdowns) == set(p.breakdowns.orgs)
    rebuilt = Breakdowns(p.settings, p.breakdown_table)
    rebuilt.rebuild(lambda org: True)
    for org, expected in batch.breakdowns.items():
        window = p.states.orgs[org].figures()
        assert p.breakdowns.figures(org, window) == expected
        assert rebuilt.figures(org, window) == expected
        assert sum(expected["visit_frequency"].values()) > 0
        assert expected["channels"]
