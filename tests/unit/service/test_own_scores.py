"""The second stage answers the score records this worker sent with the payload it encoded
(``own_scores``), instead of decoding them: allowed only because decoding those exact bytes
gives that payload, which these tests hold true on the emitter's real payloads and on random
ones, and only for a record read back byte for byte as it was sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st
from pydantic import BaseModel

from engagement.events import ComponentFigure, Components, OrgProfile, ScoreUpdated, decode_output
from engagement_scorer.assess import AssessingStage, Assessments
from engagement_scorer.org_profile import PeerGroupKey
from engagement_scorer.own_scores import PublishedScores
from engagement_scorer.publish import figures_digest, score_record
from engagement_scorer.read_model import ReadModel

from ...integration.synthetic import Shape, activity
from .fakes import NOW, FirstStage, score, settings

NAMES = ("reach", "visit", "view", "interact", "contribute")


class Recording(PublishedScores):
    """Keeps every record remembered, for the test to decode."""

    def __init__(self, capacity: int = 20_000) -> None:
        super().__init__(capacity)
        self.records: list[tuple[bytes | None, bytes, list[tuple[str, bytes]], ScoreUpdated]] = []

    def remember(self, key: Any, value: bytes, headers: Any, payload: ScoreUpdated) -> None:
        self.records.append((key, value, list(headers), payload))
        super().remember(key, value, headers, payload)


def same(a: Any, b: Any) -> bool:
    """Equal and of the same types all the way down (``==`` alone would take 1 for 1.0, a
    str for an equal enum, a datetime in another tzinfo class for the same instant)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, BaseModel):
        return all(same(getattr(a, f), getattr(b, f)) for f in type(a).model_fields)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(
            same(k1, k2) and same(a[k1], b[k2]) for k1, k2 in zip(a, b, strict=True)
        )
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, datetime):
        return a == b and type(a.tzinfo) is type(b.tzinfo) and a.isoformat() == b.isoformat()
    return bool(a == b)


def _first_stage_publishing() -> tuple[FirstStage, Recording, list[Any]]:
    """Two organisations' weeks of activity through the first stage (day-end scores on the
    way, the last figures at the end), one with a profile that enriches its scores."""
    one = FirstStage()
    published = Recording()
    one.emitter.published = published
    one.states.set_profile(
        "b",
        OrgProfile(
            org_id="b", name="b", sector="government", employees=800, target_level="engaging"
        ).model_dump(mode="json"),
    )
    outputs: list[Any] = []
    end = NOW - timedelta(days=1)
    for org, shape in (("a", Shape(90, 70, 40, 20, 5)), ("b", Shape(80, 60, 50, 30, 10))):
        for rec in activity(org, [(9, shape), (9, Shape(70, 40, 20, 10, 2))], end, accounts=40):
            outputs.extend(one.feed(rec).outputs)
    outputs.extend(one.emitter.emit(set(one.states.orgs)))
    return one, published, outputs


def test_decoding_an_emitted_score_record_gives_the_payload_that_was_encoded() -> None:
    one, published, outputs = _first_stage_publishing()
    scores = [o for o in outputs if o.topic == one.settings.scores_topic]
    assert len(published.records) == len(scores) > 20  # day ends of both orgs, and the last
    assert any(p.target_level for *_, p in published.records)  # enriched ones among them
    for key, value, headers, payload in published.records:
        assert same(decode_output(key, value, headers).data, payload)
    sent = [(o.key, o.value, o.headers) for o in scores]
    assert sent == [(k, v, h) for k, v, h, _ in published.records]


def _figure(numerator: int, denominator: int) -> ComponentFigure:
    return ComponentFigure.from_counts(numerator, denominator)


LEVELS = ("initiation", "informing", "engaging", "co_creating")
PROFILE = OrgProfile(
    org_id="o", name="o", sector="government", employees=800, timezone="Europe/Amsterdam"
)


@hyp_settings(max_examples=200, deadline=None)
@given(
    seconds=st.integers(min_value=0, max_value=10**9),
    counts=st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), min_size=10, max_size=10
    ),
    target=st.none() | st.sampled_from(LEVELS),
    announced=st.none() | st.sampled_from(LEVELS),
    medians=st.none() | st.lists(st.floats(0, 100), min_size=5, max_size=5),
)
def test_decoding_a_random_score_record_gives_its_payload(
    seconds: int,
    counts: list[tuple[int, int]],
    target: str | None,
    announced: str | None,
    medians: list[float] | None,
) -> None:
    """Payloads built as the emitter builds them: validated from counts, then enriched by the
    read model (announced level, target and its gap, benchmark position)."""
    as_of = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    figures = [_figure(n, n + d) for n, d in counts]
    window, month = (
        Components(**dict(zip(NAMES, figures[:5], strict=True))),
        Components(**dict(zip(NAMES, figures[5:], strict=True))),
    )
    plain = ScoreUpdated(
        org_id="o",
        as_of=as_of,
        timezone="Europe/Amsterdam",
        window_start=(as_of - timedelta(days=29)).date(),
        window_end=as_of.date(),
        components=window,
        engagement_score=sum(f.value or 0.0 for f in figures[:5]) / 5,
        month=f"{as_of:%Y-%m}",
        month_to_date=month,
        month_engagement_score=sum(f.value or 0.0 for f in figures[5:]) / 5,
    )
    profile = PROFILE.model_copy(update={"target_level": target}).model_dump(mode="json")
    group = PeerGroupKey("government", "500-1999", "intranet").encode()
    table = {group: {"medians": dict(zip(NAMES, medians, strict=True))}} if medians else {}
    payload = ReadModel({"o": profile}, table, lambda org: announced, 5).enrich(plain)
    record = score_record(payload, "urn:test", figures_digest(payload))
    assert record.value is not None
    published = PublishedScores()
    published.remember(record.key, record.value, record.headers, payload)
    assert same(decode_output(record.key, record.value, record.headers).data, payload)
    assert published.take(record.key, record.value, record.headers) is payload


def test_only_a_record_read_back_byte_for_byte_is_answered_and_only_once() -> None:
    payload = score(datetime(2026, 3, 18, 9, tzinfo=UTC), interact=30)
    record = score_record(payload, "urn:test", figures_digest(payload))
    other = score_record(payload, "urn:other-worker", figures_digest(payload))
    assert record.value is not None
    assert other.value is not None
    published = PublishedScores()
    published.remember(record.key, record.value, record.headers, payload)
    assert published.take(other.key, other.value, other.headers) is None  # other headers
    published.remember(record.key, record.value, record.headers, payload)
    assert published.take(b"another-org", record.value, record.headers) is None  # other key
    published.remember(record.key, record.value, record.headers, payload)
    assert published.take(record.key, record.value, tuple(record.headers)) is payload
    assert published.take(record.key, record.value, record.headers) is None  # taken once
    assert (published.hits, published.misses) == (1, 3)


def test_the_oldest_records_go_first_beyond_the_capacity() -> None:
    published = PublishedScores(capacity=2)
    payloads = [score(datetime(2026, 3, 18, h, tzinfo=UTC), interact=30) for h in (9, 10, 11)]
    records = [score_record(p, "urn:test", figures_digest(p)) for p in payloads]
    for r, p in zip(records, payloads, strict=True):
        assert r.value is not None
        published.remember(r.key, r.value, r.headers, p)
    assert published.take(records[0].key, records[0].value, records[0].headers) is None
    assert published.take(records[2].key, records[2].value, records[2].headers) is payloads[2]


def test_the_second_stage_decides_the_same_with_and_without_them() -> None:
    one, published, outputs = _first_stage_publishing()
    scores = [o for o in outputs if o.topic == one.settings.scores_topic]
    results = []
    for memo in (published, None):
        table: dict[str, Any] = {}
        profiles = dict(one.tables.profiles)
        stage = AssessingStage(settings(), Assessments(settings(), table), profiles, published=memo)
        assessed = [stage.score_event(o.key, o.value, o.headers) for o in scores]
        results.append(
            (
                [[(x.topic, x.key, x.value, x.headers) for x in a.outputs] for a in assessed],
                [a.peers for a in assessed],
                table,
            )
        )
    assert published.hits == len(scores)  # every one answered from memory
    assert results[0] == results[1]
    assert any(results[0][0])  # levels or alerts among them: the comparison decides something
