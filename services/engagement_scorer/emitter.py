"""When an organisation's score is published, and at which as_of.

``ScoreEmitter`` holds the organisations with changes to publish (``dirty``) and what was
last published for each. Scores are published:

- on the timer (every ``emit_interval_seconds``), for the partitions the ``EmitPacer``
  lets through (a burst is published once it has been read, not half-way);
- when an event or the live clock is about to take an organisation into a later local day
  (``scoring``): its last score of each day is then in the stream however fast the events
  come (a backlog, a replay, a nightly export), so what compares days ("the score 7 local days
  earlier" of ``score_drop``) sees the same days as under live traffic.

The as_of is the organisation's state time: its event time, moved on to the wall clock by the
live clock once its partition is caught up. It never goes back (docs/scoring.md, "Time:
as_of"): an update caused by an event older than the last published as_of is published at
that as_of, with the figures of every event consumed. What was published before this worker
took the organisation over (a restart, a rebalance) is known once the second stage has read
the score partition as far as it was when this worker took over: until then the organisation
waits (``last_published_known``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from engagement.events import ScoreUpdated
from engagement.settings import Settings

from .clock import WorkerClock
from .own_scores import PublishedScores
from .ports import Partitions
from .progress import EmitPacer, Progress, reached
from .publish import Outgoing, figures_digest, score_payload, score_record
from .read_model import ReadModel
from .state import OrgStates, partition_of

__all__ = ["ScoreEmitter"]


class ScoreEmitter:
    def __init__(
        self,
        settings: Settings,
        states: OrgStates,
        read_model: ReadModel,
        last_assessed: Callable[[str], int],
        partitions: Partitions,
        progress: Progress,
        pacer: EmitPacer,
        clock: WorkerClock,
        published: PublishedScores | None = None,
    ) -> None:
        """``last_assessed(org)``: the latest as_of the second stage assessed (0: none).
        ``published``: where each score record sent is kept for the second stage."""
        self.settings = settings
        self.states = states
        self.read_model = read_model
        self.last_assessed = last_assessed
        self.partitions = partitions
        self.progress = progress
        self.pacer = pacer
        self.clock = clock
        self.published = published
        self.dirty: set[str] = set()  # orgs with changes to publish
        self.last_digest: dict[str, str] = {}  # org -> digest of its last published figures
        self.last_published: dict[str, ScoreUpdated] = {}  # org -> last published payload
        #: org -> the as_of of its last published score: published as_of never goes back
        self.published_as_of: dict[str, int] = {}
        #: orgs restored by the last rebuild: published before, by this worker or another, so
        #: their last published as_of is known only once the second stage has read that far
        self.awaiting_sync: set[str] = set()
        #: score partition -> the end offset the second stage must reach (taken after rebuild)
        self.sync_targets: dict[int, int] = {}
        #: org -> day-end figures taken while it waited for the second stage (``emit``)
        self.held_day_ends: dict[str, list[ScoreUpdated]] = {}

    def live_now(self) -> int:
        """The moment the live clock reports (0 when off: pure event time)."""
        return self.clock.now() if self.settings.live_clock else 0

    def owns(self, org_id: str) -> bool:
        """True when this worker holds the active activity partition of ``org_id``."""
        s = self.settings
        partition = partition_of(org_id, s.topic_partitions)
        return partition in self.partitions.assigned(s.activity_topic)

    def as_of_now(self, org_id: str, state_as_of: int) -> int:
        """The as_of an organisation's figures are published and answered at now: its state's
        as_of, never before the last published one. Before this worker published the
        organisation, the last published one is the latest the second stage assessed (``emit``
        waits for the second stage to catch up first)."""
        published = self.published_as_of.get(org_id)
        if published is None:
            published = self.last_assessed(org_id)
        return max(state_as_of, published)

    def emit(self, orgs: Iterable[str], day_end: bool = False) -> list[Outgoing]:
        """Score records for the organisations of ``orgs`` whose figures changed since their
        last one. Synchronous: every decision is made on the same states (no event can be
        applied in between); the caller sends the records in order.

        ``day_end``: the organisations are about to leave their local day. One still waiting
        for the second stage (restored by a rebuild) cannot be published yet, but its day's
        last figures are taken now and published, in order, once it may be (unless what was
        published before the takeover is already later: that publication covered the day)."""
        out: list[Outgoing] = []
        for org_id in sorted(orgs):
            self.dirty.discard(org_id)
            state = self.states.orgs.get(org_id)
            if state is None or state.first_month < 0:
                continue
            if not self.owns(org_id):  # revoked, the new owner publishes it from now on
                continue
            if org_id not in self.published_as_of:
                if not self.last_published_known(org_id):
                    if day_end:
                        held = score_payload(state, state.as_of)
                        self.held_day_ends.setdefault(org_id, []).append(held)
                    self.dirty.add(org_id)  # next time
                    continue
                self.published_as_of[org_id] = self.last_assessed(org_id)
            for held in self.held_day_ends.pop(org_id, ()):
                if int(held.as_of.timestamp()) >= self.published_as_of[org_id]:
                    out.extend(self._publish(org_id, self.read_model.enrich(held)))
            as_of = self.as_of_now(org_id, state.as_of)
            out.extend(self._publish(org_id, self.read_model.enrich(score_payload(state, as_of))))
        return out

    def _publish(self, org_id: str, payload: ScoreUpdated) -> list[Outgoing]:
        """The score record of ``payload``, unless its figures are the last published ones."""
        s = self.settings
        digest = figures_digest(payload)
        if self.last_digest.get(org_id) == digest:
            return []
        self.last_digest[org_id] = digest
        self.last_published[org_id] = payload
        self.published_as_of[org_id] = int(payload.as_of.timestamp())
        record = score_record(payload, s.output_source, digest)
        if self.published is not None and record.value is not None:
            self.published.remember(record.key, record.value, record.headers, payload)
        return [Outgoing.of(s.scores_topic, record)]

    def publishable(self, now: float) -> set[str]:
        """The changed organisations whose partitions may be published now (``EmitPacer``;
        ``now``: a monotonic clock)."""
        s = self.settings
        by_partition: dict[int, list[str]] = {}
        for org_id in self.dirty:
            by_partition.setdefault(partition_of(org_id, s.topic_partitions), []).append(org_id)
        found: set[str] = set()
        for partition, orgs in by_partition.items():
            at = reached(self.partitions, s.activity_topic, partition, self.progress.activity)
            end = self.partitions.highwater(s.activity_topic, partition)
            if self.pacer.ready(partition, at, end, now):
                found.update(orgs)
        return found

    def partition_ready(self, partition: int) -> bool:
        """True when no organisation of activity ``partition`` waits for the second stage
        (``last_published_known``)."""
        if not self.awaiting_sync:
            return True
        n = self.settings.topic_partitions
        waiting = [o for o in self.awaiting_sync if partition_of(o, n) == partition]
        return all(self.last_published_known(o) for o in waiting)

    def last_published_known(self, org_id: str) -> bool:
        """Is the as_of last published for ``org_id`` known? Always for an organisation this
        worker created; for one restored by a rebuild, once the second stage (which records
        the latest as_of it assessed) has read the org's score partition up to the end offset
        it had when first asked after the rebuild: nothing of the org is published meanwhile."""
        if org_id not in self.awaiting_sync:
            return True
        s = self.settings
        topic, partition = s.scores_topic, partition_of(org_id, s.topic_partitions)
        target = self.sync_targets.get(partition)
        if target is None:
            target = self.partitions.highwater(topic, partition)
            if target is None:
                return False
            self.sync_targets[partition] = target
        if reached(self.partitions, topic, partition, self.progress.scores) < target:
            return False
        self.awaiting_sync.discard(org_id)
        return True

    def restart(self) -> None:
        """After a rebuild: every restored organisation waits for the second stage, then is
        published again."""
        self.awaiting_sync = set(self.states.orgs)
        self.sync_targets.clear()
        self.last_digest.clear()
        self.last_published.clear()
        self.published_as_of.clear()  # reloaded lazily from the assessments table
        self.held_day_ends.clear()
        self.dirty.update(self.states.orgs)
