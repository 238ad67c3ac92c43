"""In live operation the window follows the wall clock, not only the last event."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engagement.events import decode_output, topics
from engagement.events.models import Visit
from engagement.ingest import epoch_seconds
from engagement.settings import Settings
from engagement_scorer.batch import recompute

from ..clock import TEST_NOW
from .harness import Topics, Worker, consume_to_end, produce, wait_until
from .test_ingest import ev

pytestmark = pytest.mark.kafka


async def test_silent_organisation_is_reported_at_the_wall_clock(
    created_topics: Topics, workers: list[Worker], tmp_path: Path
) -> None:
    org = "org-silent"
    log = [
        ev(topics.VISIT_TYPE, Visit(org_id=org, account_id=f"a{i}"), minutes_ago=(20 + i) * 1440)
        for i in range(5)
    ]
    worker = Worker(
        "live-" + created_topics.prefix,
        created_topics,
        tmp_path,
        extra_env={"ENGAGEMENT_LIVE_CLOCK": "true", "ENGAGEMENT_CLOCK_TICK_SECONDS": "1"},
    ).start()
    workers.append(worker)
    worker.wait_ready()
    await produce(created_topics.activity, log)
    wait_until(
        lambda: worker.counter("engagement_events_processed_total") == len(log), what="processed"
    )
    # the worker's clock starts at TEST_NOW (harness); once the partition is caught up the
    # live clock moves the silent organisation on to it
    _, body = wait_until(
        lambda: (
            (r := worker.get(f"/orgs/{org}/score"))[0] == 200
            and datetime.fromisoformat(r[1]["as_of"]) >= TEST_NOW
            and r
        ),
        what="score at the worker's clock",
    )
    as_of = datetime.fromisoformat(body["as_of"])
    newest_event = TEST_NOW - timedelta(days=20)
    assert as_of > newest_event + timedelta(days=19)  # the wall clock, not the last event
    assert (as_of - TEST_NOW).total_seconds() < 120
    # and the figures are those of the batch recomputation at that moment
    expected = recompute(log, Settings().scoring_rules(), as_of=epoch_seconds(as_of))
    want = expected.scores[org]
    assert body["components"] == want["components"]
    assert body["window_end"] == want["window_end"]
    # the score topic carries the same figures as CloudEvents with deterministic ids, and its
    # as_of never goes back
    published = await consume_to_end(created_topics.scores)
    events = [decode_output(m.key, m.value, list(m.headers)) for m in published]
    assert {e.type for e in events} == {topics.SCORE_UPDATED_TYPE}
    assert {e.data.org_id for e in events} == {org}  # type: ignore[attr-defined]
    stamps = [e.data.as_of for e in events]  # type: ignore[attr-defined]
    assert stamps == sorted(stamps)
    assert len({e.id for e in events}) == len(events)
    last = events[-1].data.model_dump(mode="json")  # type: ignore[attr-defined]
    assert last["components"] == body["components"]  # the API answers what was published
