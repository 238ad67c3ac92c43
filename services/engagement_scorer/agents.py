"""Thin stream loops: decode -> stage -> send -> count.

Stateful agents run with concurrency 1: with more, Faust can commit an offset past a message
still being processed (faust-streaming issue #606), and the domain state has one writer.
The rules are in the stages (``scoring``, ``assess``, ``benchmarking``); here only Faust.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog

from engagement.kafka_security import KafkaSecurity, aiokafka_kwargs

from .assess_plane import assess_batch
from .context import WorkerContext
from .peer_plane import peer_batch
from .profiles import read_profiles, timezones_of
from .sending import acknowledged
from .state import partition_of

__all__ = ["register_agents"]

log = structlog.get_logger("engagement_scorer.agents")


def _headers(message: Any) -> list[tuple[str, bytes]]:
    headers = message.headers or []
    if isinstance(headers, dict):
        return list(headers.items())
    return list(headers)


async def read_profiles_ahead(ctx: WorkerContext) -> None:
    """Learn the time zones of the owned organisations before their activity (why:
    ``profiles``). Runs while Faust still holds the input partitions paused."""
    s = ctx.settings
    if s.profile_read_ahead_seconds <= 0:
        return
    partitions = ctx.partitions.assigned(s.profiles_topic)
    try:
        snapshot = await read_profiles(
            s.kafka_bootstrap,
            s.profiles_topic,
            partitions,
            within=s.profile_read_ahead_seconds,
            security=aiokafka_kwargs(KafkaSecurity.from_settings(s)),
        )
    except Exception as exc:  # never fatal: the profiles agent still applies every profile
        log.warning("profiles not read ahead", error=repr(exc))
        return
    ctx.states.known_timezones = timezones_of(snapshot, ctx.clock.now_datetime())
    (log.info if snapshot.complete else log.warning)(
        "profiles read ahead" if snapshot.complete else "profiles read ahead in part (time up)",
        partitions=sorted(partitions),
        organisations=len(ctx.states.known_timezones),
        seconds=round(snapshot.seconds, 3),
    )


def register_agents(ctx: WorkerContext) -> None:
    app, s, topics, metrics = ctx.app, ctx.settings, ctx.topics, ctx.metrics
    sender = ctx.sender
    scoring, emitter = ctx.scoring, ctx.emitter

    @app.agent(topics.activity, concurrency=1, name="score-activity")
    async def score_activity(stream: Any) -> None:
        """The per-record path, used only when the batch data plane is off
        (``ENGAGEMENT_BATCH_DATA_PLANE=false``): with it on, the consumer hands this topic's
        records to ``dataplane.ActivityPlane`` and this agent only holds the subscription.
        The same batch code, one record at a time; the record is acknowledged (by Faust,
        after this iteration) once everything it caused is."""
        async for event in stream.events():
            message = event.message
            futures = await ctx.plane.handle(message.partition, [message])
            if futures:
                await asyncio.gather(*futures)

    @app.agent(topics.profiles, concurrency=1, name="org-profiles")
    async def org_profiles(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            try:
                ctx.states.writes_at(message.partition)
                applied = scoring.profile(message.key, message.value, _headers(message))
                await ctx.changelog.flush()
                if applied.rejected is not None:
                    reason = applied.rejected.value
                    metrics.profiles_rejected.labels(reason=reason).inc()
                    ctx.bad_input_log.warning(
                        "profile:" + reason,
                        "rejected org profile",
                        reason=reason,
                        detail=applied.detail,
                    )
                elif applied.event_type is not None:
                    metrics.events_processed.labels(type=applied.event_type).inc()
            finally:
                ctx.progress.profiles.processed(message.partition, message.offset)

    @app.timer(interval=s.emit_interval_seconds)
    async def emit_changed_scores() -> None:
        if not ctx.states.ready or not emitter.dirty:
            return
        try:
            await sender.send_all(emitter.emit(emitter.publishable(time.monotonic())))
        except Exception as exc:  # the producer is gone (shutting down): nothing to publish to
            if not app.should_stop:
                raise
            log.info("scores not published: the worker is stopping", error=repr(exc))

    if s.live_clock:

        @app.timer(interval=s.clock_tick_seconds)
        async def wall_clock_tick() -> None:
            """A silent organisation's window moves on with the wall clock: one tick per owned
            activity partition, through the clock topic, so the move happens in an agent
            (table writes need the partition's context)."""
            if not ctx.states.ready:
                return
            now = emitter.live_now()
            for partition in ctx.partitions.assigned(s.activity_topic):
                await topics.clock.send(partition=partition, value={"now": now})

        @app.agent(topics.clock, concurrency=1, name="clock-ticks")
        async def clock_ticks(stream: Any) -> None:
            async for event in stream.events():
                body = event.value
                if isinstance(body, dict) and isinstance(body.get("now"), int):
                    moved = scoring.clock_tick(event.message.partition, body["now"])
                    sent = sender.put(moved.outputs)  # in the step that built them
                    await sent.acknowledged()  # outputs before state: see ``dataplane``
                    await ctx.changelog.flush()

    @app.agent(topics.scores, concurrency=1, name="assess-scores")
    async def assess_scores(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            try:
                outputs, peers = assess_batch(  # one record (``assess_plane`` takes many)
                    ctx.assessing,
                    ctx.assessed_changelog,
                    message.partition,  # the org's partition
                    [message],
                    ctx.bad_input_log,
                )
                # Outputs before state, as in the first stage (``dataplane``): a score event
                # read again after a restart onto an assessment that already holds it
                # changes nothing, so its level change or alert must already be out. The
                # changelog records are then in the producer, which Faust flushes before
                # it commits this offset.
                sent = sender.put(outputs)
                await sent.acknowledged()
                await acknowledged(await ctx.assessed_changelog.flush())  # a refusal raises
                for peer in peers:
                    await topics.peer.send(key=peer.group.encode(), value=peer.body())
            finally:
                ctx.progress.scores.processed(message.partition, message.offset)

    @app.agent(topics.peer, concurrency=1, name="peer-benchmarks")
    async def peer_benchmarks(stream: Any) -> None:
        async for event in stream.events():
            outputs = peer_batch(  # one message (``peer_plane`` takes many)
                ctx.benchmarking,
                ctx.benchmark_changelog,
                ctx.clock,
                event.message.partition,  # the group's partition
                [(event.key, event.value)],
            )
            sent = sender.put(outputs)
            await sent.acknowledged()  # outputs before state, as in the other stages
            await acknowledged(await ctx.benchmark_changelog.flush())  # a refusal raises

    @ctx.tables.peers.on_recover
    async def rebuild_benchmarks() -> None:
        owned = set(ctx.partitions.assigned(topics.peer.get_topic_name()))
        n = s.topic_partitions
        ctx.benchmarking.rebuild(lambda group: partition_of(group.encode(), n) in owned)
        ctx.assessments.orgs.clear()  # reloaded lazily from the recovered table

    @ctx.tables.orgs.on_recover
    async def rebuild_state() -> None:
        await read_profiles_ahead(ctx)
        ctx.states.rebuild(emitter.owns)
        ctx.progress.reset()
        emitter.restart()
        metrics.recovery_seconds.set(ctx.states.last_rebuild_seconds)
        metrics.set_tracked(ctx.states)
        log.info(
            "state rebuilt",
            organisations=len(ctx.states.orgs),
            accounts=ctx.states.tracked_accounts(),
            seconds=round(ctx.states.last_rebuild_seconds, 3),
        )

    @app.timer(interval=10.0)
    async def state_gauges() -> None:
        metrics.set_tracked(ctx.states)
