"""Thin stream loops: decode -> domain -> tables -> outputs -> metrics.

Stateful agents run with concurrency 1: with more, Faust can commit an offset past a message
still being processed (faust-streaming issue #606), and the domain state has one writer.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from engagement.domain import Outcome
from engagement.events import (
    DeadLetterReason,
    KafkaRecord,
    OrgProfile,
    RejectedEvent,
    dead_letter_headers,
    decode_activity,
    decode_org_profile,
)
from engagement.ingest import to_activity

from .app import Scorer
from .publish import figures_digest, month_closed, score_payload, score_record

__all__ = ["register_agents"]

log = structlog.get_logger("scorer.agents")


def _headers(message: Any) -> list[tuple[str, bytes]]:
    headers = message.headers or []
    if isinstance(headers, dict):
        return list(headers.items())
    return list(headers)


async def _send(topic: Any, record: KafkaRecord) -> None:
    await topic.send(key=record.key, value=record.value, headers=record.headers)


async def dead_letter(
    scorer: Scorer,
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes]],
    reason: DeadLetterReason,
    detail: str,
) -> None:
    """Original key, value and headers untouched, plus the reason headers."""
    await scorer.dead_letter_topic.send(
        key=key, value=value, headers=dead_letter_headers(headers, reason, detail)
    )
    scorer.metrics.dead_lettered.labels(reason=reason.value).inc()
    scorer.bad_input_log.warning(
        reason.value, "dead-lettered input", reason=reason.value, detail=detail
    )


async def handle_activity(
    scorer: Scorer, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    s = scorer.settings
    try:
        inbound = decode_activity(
            key,
            value,
            headers,
            now=datetime.now(UTC),
            max_future=timedelta(seconds=s.max_future_seconds),
            max_value_bytes=s.max_event_bytes,
        )
    except RejectedEvent as exc:
        await dead_letter(scorer, key, value, headers, exc.reason, exc.detail)
        return
    activity = to_activity(inbound)
    org_id = activity.org_id
    state = scorer.registry.state_for(org_id)
    applied = state.apply(activity)
    scorer.registry.persist(org_id, applied.changes)
    if applied.outcome is Outcome.LATE:
        scorer.metrics.late_events.inc()
        await dead_letter(
            scorer,
            key,
            value,
            headers,
            DeadLetterReason.LATE,
            "older than every window and open month of the organisation",
        )
    else:
        if applied.outcome is Outcome.AFTER_DELETION:
            scorer.metrics.after_deletion.inc()
        scorer.metrics.processed(inbound.type).inc()
    for figures in applied.closed_months:
        await _send(scorer.monthly_topic, month_closed(state, figures, s.output_source))
        scorer.metrics.outputs.labels(topic=s.monthly_topic).inc()
        scorer.wall_closed[org_id] = max(scorer.wall_closed.get(org_id, -1), state.closed_through)
    scorer.dirty.add(org_id)


async def handle_profile(
    scorer: Scorer, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    if value is None:  # compaction tombstone: the profile was withdrawn
        if key:
            scorer.tables.profiles.pop(key.decode(errors="replace"), None)
        return
    try:
        inbound = decode_org_profile(key, value, headers, now=datetime.now(UTC))
    except RejectedEvent as exc:
        scorer.metrics.profiles_rejected.labels(reason=exc.reason.value).inc()
        scorer.bad_input_log.warning(
            "profile:" + exc.reason.value,
            "rejected org profile",
            reason=exc.reason.value,
            detail=exc.detail,
        )
        return
    profile = inbound.data
    assert isinstance(profile, OrgProfile)
    scorer.tables.profiles[profile.org_id] = profile.model_dump(mode="json")
    scorer.metrics.events_processed.labels(type=inbound.type).inc()
    state = scorer.registry.orgs.get(profile.org_id)
    if state is not None and state.timezone != profile.timezone:
        log.warning(
            "timezone changed: applies to events processed from now on",
            org_id=profile.org_id,
            old=state.timezone,
            new=profile.timezone,
        )
        state.set_timezone(profile.timezone)
    scorer.dirty.add(profile.org_id)


async def emit_scores(scorer: Scorer, orgs: set[str]) -> int:
    """Publish a score event for each org whose figures changed since the last one."""
    s = scorer.settings
    now = int(time.time()) if s.live_clock else 0
    sent = 0
    for org_id in sorted(orgs):
        state = scorer.registry.orgs.get(org_id)
        if state is None or state.first_month < 0:
            continue
        payload = score_payload(state, max(now, state.as_of))
        digest = figures_digest(payload)
        if scorer.last_digest.get(org_id) == digest:
            continue
        await _send(scorer.scores_topic, score_record(payload, s.output_source, digest))
        scorer.last_digest[org_id] = digest
        scorer.metrics.outputs.labels(topic=s.scores_topic).inc()
        sent += 1
    return sent


async def close_months_by_wall_clock(scorer: Scorer, now: int) -> int:
    """Months that ended (plus grace) by the wall clock, for organisations that went silent.

    Read-only on the state: the event-time clock still closes the month officially when the
    organisation's next event arrives, with the same figures and so the same event id.
    """
    s, sent = scorer.settings, 0
    for org_id, state in list(scorer.registry.orgs.items()):
        for month_key in state.months_due(now):
            if scorer.wall_closed.get(org_id, -1) >= month_key:
                continue
            figures = state.month_figures(month_key)
            await _send(scorer.monthly_topic, month_closed(state, figures, s.output_source))
            scorer.wall_closed[org_id] = month_key
            scorer.metrics.outputs.labels(topic=s.monthly_topic).inc()
            sent += 1
    return sent


def register_agents(scorer: Scorer) -> None:
    app, s = scorer.app, scorer.settings

    @app.agent(scorer.activity_topic, concurrency=1, name="score-activity")
    async def score_activity(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            await handle_activity(scorer, message.key, message.value, _headers(message))

    @app.agent(scorer.profiles_topic, concurrency=1, name="org-profiles")
    async def org_profiles(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            await handle_profile(scorer, message.key, message.value, _headers(message))

    @app.timer(interval=s.emit_interval_seconds)
    async def emit_changed_scores() -> None:
        if not scorer.registry.ready or not scorer.dirty:
            return
        orgs, scorer.dirty = scorer.dirty, set()
        await emit_scores(scorer, orgs)

    if s.live_clock:

        @app.timer(interval=s.clock_tick_seconds)
        async def wall_clock_tick() -> None:
            """A silent organisation's window moves on: re-evaluate every org we own, and
            publish the final figures of months the wall clock has closed."""
            if scorer.registry.ready:
                scorer.dirty.update(scorer.registry.orgs)
                await close_months_by_wall_clock(scorer, int(time.time()))

    @scorer.tables.orgs.on_recover
    async def rebuild_state() -> None:
        scorer.registry.rebuild(scorer.owns)
        scorer.last_digest.clear()
        scorer.dirty.update(scorer.registry.orgs)
        scorer.metrics.recovery_seconds.set(scorer.registry.last_rebuild_seconds)
        scorer.metrics.tracked_orgs.set(len(scorer.registry.orgs))
        scorer.metrics.tracked_accounts.set(scorer.registry.tracked_accounts())
        log.info(
            "state rebuilt",
            organisations=len(scorer.registry.orgs),
            accounts=scorer.registry.tracked_accounts(),
            seconds=round(scorer.registry.last_rebuild_seconds, 3),
        )

    @app.timer(interval=10.0)
    async def state_gauges() -> None:
        scorer.metrics.tracked_orgs.set(len(scorer.registry.orgs))
        scorer.metrics.tracked_accounts.set(scorer.registry.tracked_accounts())
