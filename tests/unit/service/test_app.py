"""``create_app`` builds the whole worker without a broker: agents, tables, routes, metrics,
and the sender that puts the stages' records on the topics and counts them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from engagement.events import DeadLetterReason
from engagement.settings import Settings
from engagement_scorer.app import create_app
from engagement_scorer.context import WorkerContext
from engagement_scorer.publish import Outgoing, dead_letter

ROUTES = {
    "/health",
    "/ready",
    "/metrics",
    "/orgs",
    "/orgs/{org_id}/score",
    "/orgs/{org_id}/level",
    "/orgs/{org_id}/alerts",
    "/orgs/{org_id}/history",
    "/orgs/{org_id}/advice",
    "/orgs/{org_id}/breakdowns",
    "/benchmarks",
    "/ui",
    "/ui/",
    "/ui/orgs/{org_id}",
    "/ui/assets/{name}",
    "/ui/profiles.json",
    "/ui/api/orgs/{org_id}/profile",
    "/ui/api/orgs/{org_id}/trend",
}


def _build(tmp_path: Path, **overrides: Any) -> tuple[WorkerContext, CollectorRegistry]:
    prometheus = CollectorRegistry()
    s = Settings(store="memory://", data_dir=tmp_path, **overrides)
    return create_app(s, prometheus), prometheus


def test_create_app_registers_agents_tables_routes_and_metrics(tmp_path: Path) -> None:
    ctx, prometheus = _build(tmp_path, live_clock=True)
    assert set(ctx.app.agents) == {
        "score-activity",
        "org-profiles",
        "clock-ticks",
        "assess-scores",
        "peer-benchmarks",
    }
    assert set(ctx.app.tables) == {
        "orgs",
        "accounts",
        "messages",
        "reads",
        "profiles",
        "assessments",
        "peers",
        "benchmarks",
        "history-days",
        "history-months",
        "breakdowns",
    }
    routes = {str(r.resource.canonical) for r in ctx.app.web.web_app.router.routes()}
    assert routes >= ROUTES
    names = set(prometheus._names_to_collectors)
    for family in (
        "engagement_events_processed_total",
        "engagement_outputs_emitted_total",
        "engagement_org_score_ratio",
        "engagement_orgs_by_level",
    ):
        assert family in names
    s = ctx.settings
    assert ctx.topics.activity.get_topic_name() == s.activity_topic
    assert ctx.topics.peer.get_topic_name() == f"{s.app_id}-peer-figures"
    assert set(ctx.topics.outputs()) == {
        s.dead_letter_topic,
        s.scores_topic,
        s.monthly_topic,
        s.level_changes_topic,
        s.alerts_topic,
        s.benchmarks_topic,
    }


def test_without_the_live_clock_there_is_no_clock_agent(tmp_path: Path) -> None:
    ctx, _ = _build(tmp_path, live_clock=False)
    assert "clock-ticks" not in ctx.app.agents


class _Topic:
    def __init__(self) -> None:
        self.sent: list[tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]] = []

    async def send(self, *, key: Any, value: Any, headers: Any, force: bool = False) -> Any:
        self.sent.append((key, value, headers))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_the_sender_counts_outputs_and_dead_letters_apart(tmp_path: Path) -> None:
    ctx, prometheus = _build(tmp_path)
    sender = ctx.sender
    s = ctx.settings
    topics = {s.scores_topic: _Topic(), s.dead_letter_topic: _Topic()}
    sender.topics = topics  # type: ignore[assignment]
    await sender.send_all(
        [
            Outgoing(s.scores_topic, b"o", b"{}", []),
            dead_letter(s.dead_letter_topic, b"o", b"x", [], DeadLetterReason.LATE, "old"),
        ]
    )
    assert topics[s.scores_topic].sent == [(b"o", b"{}", [])]
    [(key, value, headers)] = topics[s.dead_letter_topic].sent
    assert (key, value) == (b"o", b"x")
    assert headers
    outputs = prometheus.get_sample_value(
        "engagement_outputs_emitted_total", {"topic": s.scores_topic}
    )
    late = prometheus.get_sample_value("engagement_events_dead_lettered_total", {"reason": "late"})
    assert (outputs, late) == (1.0, 1.0)
    dead_as_output = prometheus.get_sample_value(
        "engagement_outputs_emitted_total", {"topic": s.dead_letter_topic}
    )
    assert dead_as_output is None
