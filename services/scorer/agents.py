"""Thin stream loops: decode -> domain -> tables -> outputs -> metrics.

Stateful agents run with concurrency 1: with more, Faust can commit an offset past a message
still being processed (faust-streaming issue #606), and the domain state has one writer.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import structlog
from faust.types import TP

from engagement.domain import DEFAULT_PROFILES, Figures, OrgState, Outcome, classify, target_gap
from engagement.events import (
    DeadLetterReason,
    KafkaRecord,
    OrgProfile,
    RejectedEvent,
    ScoreUpdated,
    dead_letter_headers,
    decode_activity,
    decode_org_profile,
    decode_output,
)
from engagement.ingest import to_activity
from engagement.kafka_security import KafkaSecurity, aiokafka_kwargs

from .app import Scorer
from .assess import (
    alert_record,
    assess,
    benchmark_position,
    group_key_of,
    level_changed_record,
    values_of,
)
from .profiles import read_profiles, timezones_of
from .progress import PartitionProgress
from .publish import figures_digest, month_closed, score_payload, score_record
from .state import partition_of

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
            now=scorer.clock.now_datetime(),
            max_future=timedelta(seconds=s.max_future_seconds),
            max_value_bytes=s.max_event_bytes,
        )
    except RejectedEvent as exc:
        await dead_letter(scorer, key, value, headers, exc.reason, exc.detail)
        return
    activity = to_activity(inbound)
    org_id = activity.org_id
    state = scorer.registry.state_for(org_id)
    if org_id in scorer.dirty and state.leaves_day(activity.time):
        await emit_scores(scorer, {org_id})
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
    await publish_closed_months(scorer, state, applied.closed_months)
    scorer.dirty.add(org_id)


async def publish_closed_months(scorer: Scorer, state: OrgState, months: list[Figures]) -> None:
    """Final figures of the months the state just closed: each month closes once, in the
    state (persisted with its clock), so it is published once (ids are deterministic)."""
    s = scorer.settings
    for figures in months:
        await _send(scorer.monthly_topic, month_closed(state, figures, s.output_source))
        scorer.metrics.outputs.labels(topic=s.monthly_topic).inc()


async def handle_profile(
    scorer: Scorer, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    if value is None:  # compaction tombstone: the profile was withdrawn
        if key:
            scorer.tables.profiles.pop(key.decode(errors="replace"), None)
        return
    try:
        inbound = decode_org_profile(key, value, headers, now=scorer.clock.now_datetime())
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


def enrich(scorer: Scorer, payload: ScoreUpdated) -> ScoreUpdated:
    """Add level, target and benchmark position to a score payload."""
    org_id = payload.org_id
    profile = scorer.tables.profiles.get(org_id)
    values = values_of(payload)
    classification = classify(values, DEFAULT_PROFILES)
    target = profile.get("target_level") if isinstance(profile, dict) else None
    group = group_key_of(profile)
    published = scorer.benchmark_table.get(group) if group else None
    medians = published.get("medians") if isinstance(published, dict) else None
    return payload.model_copy(
        update={
            "operating_level": scorer.assessments.announced_level(org_id),
            "level_confidence": round(classification.confidence, 3)
            if classification.level
            else None,
            "target_level": target,
            "target_gap": target_gap(values, target, DEFAULT_PROFILES) if target else None,
            "benchmark_position": benchmark_position(values, medians),
        }
    )


async def handle_score_event(
    scorer: Scorer, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]
) -> None:
    """Levels, alerts and peer figures from one of our own score events."""
    s = scorer.settings
    try:
        event = decode_output(key, value, headers)
    except RejectedEvent as exc:
        scorer.bad_input_log.warning(
            "scores:" + exc.reason.value, "unreadable score event", detail=exc.detail
        )
        return
    payload = event.data
    if not isinstance(payload, ScoreUpdated):
        return
    org_id = payload.org_id
    profile = scorer.tables.profiles.get(org_id)
    assessment = scorer.assessments.get(org_id)
    change, transitions = assess(s, assessment, payload, profile)
    if change is not None:
        await _send(
            scorer.level_changes_topic, level_changed_record(org_id, change, s.output_source)
        )
        scorer.metrics.outputs.labels(topic=s.level_changes_topic).inc()
    for transition in transitions:
        alert, record = alert_record(org_id, transition, s.output_source)
        await _send(scorer.alerts_topic, record)
        scorer.metrics.outputs.labels(topic=s.alerts_topic).inc()
        if transition.status == "firing":
            assessment.firing[transition.episode_id] = alert.model_dump(mode="json")
        else:
            assessment.firing.pop(transition.episode_id, None)
    group = group_key_of(profile)
    if assessment.group and assessment.group != group:
        await scorer.peer_topic.send(key=assessment.group, value={"org_id": org_id})
    if group:
        await scorer.peer_topic.send(
            key=group, value={"org_id": org_id, "values": values_of(payload)}
        )
    assessment.group = group
    scorer.assessments.persist(org_id)


async def handle_peer_figures(scorer: Scorer, group: str, body: dict[str, Any]) -> None:
    """Keep the group's order statistics; publish it when it changed and has k orgs."""
    s = scorer.settings
    org_id = str(body["org_id"])
    values = body.get("values")
    key = f"{group}\x1f{org_id}"
    if values is None:
        scorer.peers_table.pop(key, None)
    else:
        scorer.peers_table[key] = values
    k = s.benchmark_min_group_size
    for changed in scorer.benchmarks.apply(group, org_id, values):
        if not scorer.benchmarks.groups.published(scorer.benchmarks.split(changed), k):
            if changed in scorer.benchmark_table:
                del scorer.benchmark_table[changed]
                scorer.benchmarks.last_digest.pop(changed, None)
            continue
        published = scorer.benchmarks.published(changed, s.output_source)
        if published is None:
            continue
        payload, record = published
        await _send(scorer.benchmarks_topic, record)
        scorer.metrics.outputs.labels(topic=s.benchmarks_topic).inc()
        scorer.benchmark_table[changed] = {
            "benchmark": payload.model_dump(mode="json"),
            "medians": {name: q.median for name, q in payload.components.items()},
        }


async def emit_scores(scorer: Scorer, orgs: set[str]) -> int:
    """Publish a score event for each org whose figures changed since the last one.

    Besides the timer (every ``emit_interval_seconds``), an organisation is published when an
    event or the live clock is about to take it into a later local day: its last score of each
    day is then in the stream however fast the events come (a backlog, a replay, a nightly
    export), so what compares days ("the score 7 local days earlier" of ``score_drop``) sees
    the same days as under live traffic.

    The as_of is the organisation's state time: its event time, moved on to the wall clock by
    the live clock once its partition is caught up (``handle_clock_tick``). It never goes back
    (section 6): an update caused by an event older than the last published as_of is published
    at that as_of, with the figures of every event consumed, so levels, alerts, benchmarks and
    any consumer keeping "the latest by as_of" see the newest figures. What was published
    before this worker took the organisation over (a restart, a rebalance) is known once the
    second stage has read the score partition as far as it was when this worker took over:
    until then the organisation waits (``last_published_known``).
    """
    s = scorer.settings
    sent = 0
    for org_id in sorted(orgs):
        # Taken out of ``dirty`` right before its figures are read (no await in between): a
        # change applied while earlier orgs are being sent marks it again.
        scorer.dirty.discard(org_id)
        state = scorer.registry.orgs.get(org_id)
        if state is None or state.first_month < 0:
            continue
        if not scorer.owns(org_id):  # revoked, the new owner publishes it from now on
            continue
        if org_id not in scorer.published_as_of:
            if not last_published_known(scorer, org_id):
                scorer.dirty.add(org_id)  # next time
                continue
            scorer.published_as_of[org_id] = scorer.assessments.last_as_of(org_id)
        as_of = scorer.as_of_now(org_id, state.as_of)
        payload = enrich(scorer, score_payload(state, as_of))
        digest = figures_digest(payload)
        if scorer.last_digest.get(org_id) == digest:
            continue
        await _send(scorer.scores_topic, score_record(payload, s.output_source, digest))
        scorer.last_digest[org_id] = digest
        scorer.last_published[org_id] = payload
        scorer.published_as_of[org_id] = as_of
        scorer.metrics.outputs.labels(topic=s.scores_topic).inc()
        sent += 1
    return sent


def publishable(scorer: Scorer, now: float) -> set[str]:
    """The changed organisations whose partitions may be published now (``EmitPacer``)."""
    s = scorer.settings
    by_partition: dict[int, list[str]] = {}
    for org_id in scorer.dirty:
        by_partition.setdefault(partition_of(org_id, s.topic_partitions), []).append(org_id)
    out: set[str] = set()
    for partition, orgs in by_partition.items():
        tp = TP(s.activity_topic, partition)
        reached = _reached(scorer, tp, scorer.progress)
        if scorer.pacer.ready(partition, reached, _highwater(scorer, tp), now):
            out.update(orgs)
    return out


def _committed_offset(scorer: Scorer, tp: TP) -> int | None:
    """Where this worker's reading of ``tp`` started: Faust's record of the group's committed
    offset (set when the partition was assigned; None for offset 0 or no commit yet)."""
    committed = getattr(scorer.app.consumer, "_committed_offset", {})
    value = committed.get(tp) if hasattr(committed, "get") else None
    return int(value) if value is not None else None


def _highwater(scorer: Scorer, tp: TP) -> int | None:
    """The broker's end offset of ``tp`` as the consumer last saw it (None: not known)."""
    try:
        highwater = scorer.app.consumer.highwater(tp)
    except Exception:  # not assigned (any more), or the consumer is restarting
        return None
    return None if highwater is None else int(highwater)


def _reached(scorer: Scorer, tp: TP, progress: PartitionProgress) -> int:
    """The next offset of ``tp`` to process: from ``progress``, or where reading started when
    nothing has been processed since the assignment."""
    next_offset = progress.next_offset(tp.partition)
    return next_offset if next_offset is not None else _committed_offset(scorer, tp) or 0


def last_published_known(scorer: Scorer, org_id: str) -> bool:
    """Is the as_of last published for ``org_id`` known? Always for an organisation this
    worker created; for one restored by a rebuild, once the second stage (which records the
    latest as_of it assessed) has read the org's score partition up to the end offset it had
    when first asked after the rebuild: nothing of the org is published meanwhile."""
    if org_id not in scorer.awaiting_sync:
        return True
    s = scorer.settings
    tp = TP(s.scores_topic, partition_of(org_id, s.topic_partitions))
    target = scorer.sync_targets.get(tp.partition)
    if target is None:
        target = _highwater(scorer, tp)
        if target is None:
            return False
        scorer.sync_targets[tp.partition] = target
    if _reached(scorer, tp, scorer.score_progress) < target:
        return False
    scorer.awaiting_sync.discard(org_id)
    return True


def partition_caught_up(
    scorer: Scorer, topic: str, progress: PartitionProgress, partition: int
) -> bool:
    """Nothing of ``partition`` of ``topic`` is left to read (scorer.progress)."""
    tp = TP(topic, partition)
    return PartitionProgress.caught_up(_reached(scorer, tp, progress), _highwater(scorer, tp))


async def handle_clock_tick(scorer: Scorer, partition: int, now: int) -> int:
    """The live clock reached ``now``: organisations of ``partition`` move on to it, closing
    the months that ended (plus grace) for good, but only when the partition is caught up, so
    a backlog is never cut short (see scorer.progress). Runs in the clock agent, in the
    partition's context, so the state changes go to the right changelog partitions.
    Returns how many organisations moved."""
    s = scorer.settings
    if now <= 0 or not scorer.registry.ready:
        return 0
    # Nothing of the partition left to read: no activity, and no profile (whose time zone
    # decides which months are over).
    if not partition_caught_up(scorer, s.activity_topic, scorer.progress, partition):
        return 0
    if not partition_caught_up(scorer, s.profiles_topic, scorer.profile_progress, partition):
        return 0
    # The day each organisation leaves is published first (see emit_scores), then the check
    # is made again, since events may have been applied while that was sent.
    leaving = {
        org_id
        for org_id in scorer.registry.orgs_of_partition(partition)
        if org_id in scorer.dirty and scorer.registry.orgs[org_id].leaves_day(now)
    }
    if leaving:
        await emit_scores(scorer, leaving)
        if not partition_caught_up(scorer, s.activity_topic, scorer.progress, partition):
            return 0
    # Every move first, with no await in between (the check above stays true for all of
    # them: no event can be applied meanwhile); then the months they closed are published.
    closed: list[tuple[OrgState, list[Figures]]] = []
    for org_id in scorer.registry.orgs_of_partition(partition):
        state = scorer.registry.orgs[org_id]
        if state.as_of >= now:
            continue
        applied = state.advance(now)
        scorer.registry.persist(org_id, applied.changes)
        closed.append((state, applied.closed_months))
        scorer.dirty.add(org_id)
    for state, months in closed:
        await publish_closed_months(scorer, state, months)
    return len(closed)


async def read_profiles_ahead(scorer: Scorer) -> None:
    """Learn the time zones of the owned organisations before their activity (why:
    ``scorer.profiles``). Runs while Faust still holds the input partitions paused."""
    s = scorer.settings
    if s.profile_read_ahead_seconds <= 0:
        return
    topic = s.profiles_topic
    actives = scorer.app.assignor.assigned_actives()
    partitions = [tp.partition for tp in actives if tp.topic == topic]
    try:
        snapshot = await read_profiles(
            s.kafka_bootstrap,
            topic,
            partitions,
            within=s.profile_read_ahead_seconds,
            security=aiokafka_kwargs(KafkaSecurity.from_settings(s)),
        )
    except Exception as exc:  # never fatal: the profiles agent still applies every profile
        log.warning("profiles not read ahead", error=repr(exc))
        return
    scorer.registry.known_timezones = timezones_of(snapshot, scorer.clock.now_datetime())
    (log.info if snapshot.complete else log.warning)(
        "profiles read ahead" if snapshot.complete else "profiles read ahead in part (time up)",
        partitions=sorted(partitions),
        organisations=len(scorer.registry.known_timezones),
        seconds=round(snapshot.seconds, 3),
    )


def register_agents(scorer: Scorer) -> None:
    app, s = scorer.app, scorer.settings

    @app.agent(scorer.activity_topic, concurrency=1, name="score-activity")
    async def score_activity(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            try:
                await handle_activity(scorer, message.key, message.value, _headers(message))
            finally:  # a record that failed is still behind us: never wait for it
                scorer.progress.processed(message.partition, message.offset)

    @app.agent(scorer.profiles_topic, concurrency=1, name="org-profiles")
    async def org_profiles(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            try:
                await handle_profile(scorer, message.key, message.value, _headers(message))
            finally:
                scorer.profile_progress.processed(message.partition, message.offset)

    @app.timer(interval=s.emit_interval_seconds)
    async def emit_changed_scores() -> None:
        if not scorer.registry.ready or not scorer.dirty:
            return
        await emit_scores(scorer, publishable(scorer, time.monotonic()))

    if s.live_clock:

        @app.timer(interval=s.clock_tick_seconds)
        async def wall_clock_tick() -> None:
            """A silent organisation's window moves on with the wall clock: one tick per owned
            activity partition, through the clock topic, so the move happens in an agent
            (table writes need the partition's context)."""
            if not scorer.registry.ready:
                return
            now = scorer.live_now()
            topic = s.activity_topic
            for tp in sorted(app.assignor.assigned_actives()):
                if tp.topic == topic:
                    await scorer.clock_topic.send(partition=tp.partition, value={"now": now})

        @app.agent(scorer.clock_topic, concurrency=1, name="clock-ticks")
        async def clock_ticks(stream: Any) -> None:
            async for event in stream.events():
                body = event.value
                if isinstance(body, dict) and isinstance(body.get("now"), int):
                    await handle_clock_tick(scorer, event.message.partition, body["now"])

    @app.agent(scorer.scores_topic, concurrency=1, name="assess-scores")
    async def assess_scores(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            try:
                await handle_score_event(scorer, message.key, message.value, _headers(message))
            finally:
                scorer.score_progress.processed(message.partition, message.offset)

    @app.agent(scorer.peer_topic, concurrency=1, name="peer-benchmarks")
    async def peer_benchmarks(stream: Any) -> None:
        async for event in stream.events():
            if isinstance(event.key, str) and isinstance(event.value, dict):
                await handle_peer_figures(scorer, event.key, event.value)

    @scorer.peers_table.on_recover
    async def rebuild_benchmarks() -> None:
        topic = scorer.peer_topic.get_topic_name()
        active = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == topic}
        rows = []
        for key, values in list(scorer.peers_table.items()):
            group, org_id = str(key).split("\x1f", 1)
            if partition_of(group, s.topic_partitions) in active:
                rows.append((group, org_id, values))
        scorer.benchmarks.rebuild(rows)
        scorer.assessments.orgs.clear()  # reloaded lazily from the recovered table

    @scorer.tables.orgs.on_recover
    async def rebuild_state() -> None:
        await read_profiles_ahead(scorer)
        scorer.registry.rebuild(scorer.owns)
        scorer.progress = PartitionProgress()
        scorer.score_progress = PartitionProgress()
        scorer.profile_progress = PartitionProgress()
        scorer.awaiting_sync = set(scorer.registry.orgs)
        scorer.sync_targets.clear()
        scorer.last_digest.clear()
        scorer.last_published.clear()
        scorer.published_as_of.clear()  # reloaded lazily from the assessments table
        scorer.dirty.update(scorer.registry.orgs)
        scorer.metrics.recovery_seconds.set(scorer.registry.last_rebuild_seconds)
        scorer.metrics.set_tracked(scorer.registry)
        log.info(
            "state rebuilt",
            organisations=len(scorer.registry.orgs),
            accounts=scorer.registry.tracked_accounts(),
            seconds=round(scorer.registry.last_rebuild_seconds, 3),
        )

    @app.timer(interval=10.0)
    async def state_gauges() -> None:
        scorer.metrics.set_tracked(scorer.registry)
