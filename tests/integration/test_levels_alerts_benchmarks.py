"""Levels, alerts and benchmarks on the real broker, from synthetic organisations whose
30-day figures are laid out to sit on (or move between) the level profiles."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engagement.domain import DEFAULT_PROFILES, LEVELS
from engagement.events import decode_output

from ..clock import TEST_NOW
from .harness import Topics, Worker, consume_to_end, produce, wait_until
from .synthetic import Shape, activity, profile

pytestmark = pytest.mark.kafka

END = TEST_NOW - timedelta(hours=2)


def shape_of(level: str) -> Shape:
    p = DEFAULT_PROFILES[level]
    return Shape(p.reach, p.visit, p.view, p.interact, p.contribute)


def consumed(worker: Worker, n: int) -> bool:
    applied = worker.counter("engagement_events_processed_total") - worker.counter(
        "engagement_events_processed_total", type="intranet.org.profile.v1"
    )
    return applied + worker.counter("engagement_events_dead_lettered_total") >= n


async def start(
    topics: Topics, tmp_path: Path, workers: list[Worker], profiles: list[Any], **env: str
) -> Worker:
    worker = Worker("lvl-" + topics.prefix, topics, tmp_path, extra_env=env).start()
    workers.append(worker)
    worker.wait_ready()
    await produce(topics.profiles, profiles)
    wait_until(
        lambda: (
            worker.counter("engagement_events_processed_total", type="intranet.org.profile.v1")
            >= len(profiles)
        ),
        what="profiles",
    )
    return worker


async def decoded(topic: str) -> list[Any]:
    """The whole topic, every partition to its end: "once" and "never" hold over all of it."""
    messages = await consume_to_end(topic)
    return [decode_output(m.key, m.value, list(m.headers)).data for m in messages]


async def test_levels_are_classified_and_a_move_is_announced_once(
    created_topics: Topics, workers: list[Worker], tmp_path: Path
) -> None:
    orgs = {f"at-{level}": level for level in LEVELS}
    log = []
    for org, level in orgs.items():
        log += activity(org, [(40, shape_of(level))], END)
    informing, engaging = shape_of("informing"), shape_of("engaging")
    log += activity("mover", [(20, informing), (28, engaging)], END)
    profiles = [profile(org) for org in [*orgs, "mover"]]
    worker = await start(created_topics, tmp_path, workers, profiles)
    await produce(created_topics.activity, log)
    wait_until(lambda: consumed(worker, len(log)), timeout=300, what="all consumed")

    for org, level in orgs.items():
        status, body = wait_until(
            lambda o=org, lv=level: (
                (r := worker.get(f"/orgs/{o}/level"))[1].get("operating_level") == lv and r
            ),
            timeout=60,
            what=f"{org} at {level}",
        )
        assert status == 200
        assert body["best_fit"] == level
    # the second stage (levels) follows the score stream: give it time to catch up
    wait_until(
        lambda: worker.get("/orgs/mover/level")[1].get("operating_level") == "engaging",
        timeout=90,
        what="mover announced as engaging",
    )

    changes = await decoded(created_topics.level_changes)
    by_org: dict[str, list[tuple[Any, Any]]] = {}
    for change in changes:
        by_org.setdefault(change.org_id, []).append((change.from_level, change.to_level))
    for org, level in orgs.items():
        assert by_org[org] == [(None, level)]  # announced once, never flapping
    assert by_org["mover"] == [(None, "informing"), ("informing", "engaging")]
    # the score events carry the announced level and the target gap
    status, score = worker.get("/orgs/mover/score")
    assert score["operating_level"] == "engaging"


async def test_benchmark_group_below_k_is_never_published_one_at_k_is(
    created_topics: Topics, workers: list[Worker], tmp_path: Path
) -> None:
    big = [f"alpha-{i}" for i in range(5)]  # k = 5 (default)
    small = [f"beta-{i}" for i in range(4)]
    profiles = [profile(o, sector="alpha", employees=150) for o in big]
    profiles += [profile(o, sector="beta", employees=150) for o in small]
    log = []
    for i, org in enumerate(big + small):
        shape = Shape(95, 60 + 5 * (i % 5), 40, 20 + 5 * (i % 5), 10)
        log += activity(org, [(5, shape)], END, accounts=20)
    worker = await start(created_topics, tmp_path, workers, profiles)
    await produce(created_topics.activity, log)
    wait_until(lambda: consumed(worker, len(log)), timeout=300, what="all consumed")

    groups = wait_until(
        lambda: (g := worker.get("/benchmarks")[1]["groups"]) and g, what="a published group"
    )
    assert [g["group"]["sector"] for g in groups] == ["alpha"]
    assert groups[0]["org_count"] == 5
    assert groups[0]["group"]["size_band"] == "100-499"
    published = await decoded(created_topics.benchmarks)
    assert {b.group.sector for b in published} == {"alpha"}  # beta never, not even once
    # each alpha score now says where the org stands against its group's median
    positions = wait_until(
        lambda: all(worker.get(f"/orgs/{o}/score")[1]["benchmark_position"] for o in big),
        what="benchmark positions",
    )
    assert positions
    assert worker.get(f"/orgs/{small[0]}/score")[1]["benchmark_position"] is None


async def test_silent_organisation_fires_alerts_and_resolves_them_when_activity_returns(
    created_topics: Topics, workers: list[Worker], tmp_path: Path
) -> None:
    """Days of silence are days of the (live) wall clock: the worker is restarted with its
    clock moved on, as if it had kept running while the organisation went quiet. The clock is
    injected (TEST_NOW), so the activity that returns lies before or after the worker's clock
    time of day depending on ENGAGEMENT_TEST_NOW, never on when the test runs."""
    # The returning activity (06:00-11:00) is hours older than the worker's clock (14:30): a
    # platform that exports nightly. Pinned, so the case is tested whatever TEST_NOW's hour.
    now = TEST_NOW.replace(hour=14, minute=30, second=0)
    lively = Shape(reach=100, visit=100, view=60, interact=60, contribute=30)
    history = activity(
        "quiet", [(30, lively)], now - timedelta(days=10), accounts=60, rotating=True
    )
    live = {"ENGAGEMENT_LIVE_CLOCK": "true", "ENGAGEMENT_CLOCK_TICK_SECONDS": "1"}
    worker = await start(
        created_topics,
        tmp_path,
        workers,
        [profile("quiet", target="engaging")],
        ENGAGEMENT_CLOCK_START=(now - timedelta(days=10)).isoformat(),
        **live,
    )
    await produce(created_topics.activity, history)
    wait_until(lambda: consumed(worker, len(history)), timeout=120, what="history consumed")
    wait_until(
        lambda: worker.get("/orgs/quiet/score")[1]["components"]["visit"]["value"] == 100,
        what="lively figures",
    )
    # while the history streamed in, partial windows may have fired alerts: they settle
    wait_until(lambda: worker.get("/orgs/quiet/alerts")[1]["firing"] == [], what="no alerts")

    # nine silent days later
    worker.stop()
    worker.extra_env["ENGAGEMENT_CLOCK_START"] = (now - timedelta(days=1)).isoformat()
    worker.start()
    worker.wait_ready()
    firing = wait_until(
        lambda: len(f := worker.get("/orgs/quiet/alerts")[1]["firing"]) >= 2 and f,
        timeout=60,
        what="alerts firing",
    )
    names = {(a["alert"], a["component"]) for a in firing}
    assert ("score_drop", None) in names
    assert ("component_below_threshold", "interact") in names
    for alert in firing:
        assert alert["status"] == "firing"
        assert alert["text"]
        assert alert["value"] is not None

    # activity returns: everyone visits and most interact again
    back = activity(
        "quiet", [(1, Shape(100, 100, 60, 70, 30))], now - timedelta(days=1), accounts=60
    )
    back = back[60:]  # the accounts exist already
    await produce(created_topics.activity, back)
    wait_until(
        lambda: worker.get("/orgs/quiet/alerts")[1]["firing"] == [],
        timeout=60,
        what="alerts resolved",
    )
    alerts = await decoded(created_topics.alerts)
    silence_began = now - timedelta(days=5)
    mine = [a for a in alerts if a.org_id == "quiet" and a.at > silence_began]
    for name in names:
        statuses = [a.status for a in mine if (a.alert, a.component) == name]
        assert statuses == ["firing", "resolved"], name  # once per episode, then resolved
