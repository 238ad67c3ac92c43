"""Where the stages' records go: the worker's Faust topics, counted."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from faust.types import TopicT

from engagement.logging import RateLimitedLog

from .metrics import ScorerMetrics
from .publish import Outgoing

__all__ = ["TopicSender"]


class TopicSender:
    """Sends ``Outgoing`` records on the worker's Faust topics and counts them: dead letters
    by reason (and logged, rate-limited), everything else as an output of its topic."""

    def __init__(
        self, topics: dict[str, TopicT], metrics: ScorerMetrics, bad_input_log: RateLimitedLog
    ) -> None:
        self.topics = topics
        self.metrics = metrics
        self.bad_input_log = bad_input_log

    async def send(self, out: Outgoing) -> asyncio.Future[Any]:
        """Hands the record to the producer; returns its future (done when acknowledged)."""
        future = cast(
            "asyncio.Future[Any]",
            await self.topics[out.topic].send(key=out.key, value=out.value, headers=out.headers),
        )
        metrics = self.metrics
        if out.reason is None:
            metrics.outputs.labels(topic=out.topic).inc()
            return future
        reason = out.reason.value
        metrics.dead_lettered.labels(reason=reason).inc()
        self.bad_input_log.warning(reason, "dead-lettered input", reason=reason, detail=out.detail)
        return future

    async def send_all(self, outs: list[Outgoing]) -> None:
        for out in outs:
            await self.send(out)
