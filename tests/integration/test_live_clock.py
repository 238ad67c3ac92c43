"""In live operation the window follows the wall clock, not only the last event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engagement.events import decode_output, topics
from engagement.events.models import Visit
from engagement.ingest import epoch_seconds
from engagement.settings import Settings
from scorer.batch import recompute

from .harness import Topics, Worker, consume_all, produce, wait_until
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
    _, body = wait_until(
        lambda: (r := worker.get(f"/orgs/{org}/score"))[0] == 200 and r, what="score"
    )
    as_of = datetime.fromisoformat(body["as_of"])
    newest_event = datetime.now(UTC) - timedelta(days=20)
    assert as_of > newest_event + timedelta(days=19)  # the wall clock, not the last event
    assert abs((datetime.now(UTC) - as_of).total_seconds()) < 120
    # and the figures are those of the batch recomputation at that moment
    expected = recompute(log, Settings().scoring_rules(), as_of=epoch_seconds(as_of))
    want = expected.scores[org]
    assert body["components"] == want["components"]
    assert body["window_end"] == want["window_end"]
    # the score topic carries the same figures as CloudEvents with deterministic ids
    published = await consume_all(created_topics.scores, 1)
    event = decode_output(published[0].key, published[0].value, list(published[0].headers))
    assert event.type == topics.SCORE_UPDATED_TYPE
    assert event.data.org_id == org  # type: ignore[attr-defined]
