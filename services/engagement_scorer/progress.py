"""Has an input partition been read to its end? The live clock's condition for closing months.

The wall clock may move an organisation's time on (and so close its months for good) only
when nothing of it is left to read: otherwise a backlog (a replay, a catch-up after an outage,
a tenant's history import) would see its months published with the figures of the events
consumed so far, and its remaining events of those months counted as late. Partitions are the
unit: an organisation's events all live in its partition, in order of arrival.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .ports import Partitions

__all__ = ["EmitPacer", "PartitionProgress", "Progress", "caught_up", "reached"]


class PartitionProgress:
    """Next offset to process per partition of one topic, as its agent reports it."""

    def __init__(self) -> None:
        self._next: dict[int, int] = {}

    def processed(self, partition: int, offset: int) -> None:
        """The record at ``offset`` of ``partition`` has been applied to the state."""
        if offset + 1 > self._next.get(partition, -1):
            self._next[partition] = offset + 1

    def next_offset(self, partition: int) -> int | None:
        return self._next.get(partition)

    @staticmethod
    def caught_up(next_offset: int | None, highwater: int | None) -> bool:
        """True when every record of the partition up to ``highwater`` (the broker's end offset
        as the consumer last saw it) has been processed. Unknown either way: not caught up."""
        return next_offset is not None and highwater is not None and next_offset >= highwater


@dataclass(slots=True)
class Progress:
    """How far this worker's agents have processed their partitions (reset on every rebuild)."""

    activity: PartitionProgress = field(default_factory=PartitionProgress)
    scores: PartitionProgress = field(default_factory=PartitionProgress)  # the second stage
    profiles: PartitionProgress = field(default_factory=PartitionProgress)

    def reset(self) -> None:
        """After a rebuild: the first stage's partitions start again. The second stage's
        progress is kept: it is not rebuilt, and a score tail it read just before the
        rebuild must still count (the restored organisations wait for it: ``emitter``)."""
        self.activity = PartitionProgress()
        self.profiles = PartitionProgress()


def reached(partitions: Partitions, topic: str, partition: int, progress: PartitionProgress) -> int:
    """The next offset of the partition to process: from ``progress``, or where reading
    started when nothing has been processed since the assignment."""
    next_offset = progress.next_offset(partition)
    committed = partitions.committed(topic, partition) or 0
    return committed if next_offset is None else max(next_offset, committed)


def caught_up(
    partitions: Partitions, topic: str, partition: int, progress: PartitionProgress
) -> bool:
    """Nothing of the partition is left to read (see the module doc)."""
    return PartitionProgress.caught_up(
        reached(partitions, topic, partition, progress), partitions.highwater(topic, partition)
    )


class EmitPacer:
    """When may the score updates of a partition's organisations be published?

    Updates caused by events still being read in a burst (a backlog, a nightly export) show
    the figures of however much of the burst the worker happened to have read at the timer's
    tick: moments that depend on read speed, not on the log. Levels and alerts evaluated on
    those would differ from one run to the next (an export read half-way at 23:30, with its
    visits before its reactions, looks like a drop). So a partition's organisations are
    published when it is read to its end, or when nothing of it was processed since the
    previous tick (what is left is no data: a transaction marker), and, while a long burst
    is read, at least every ``max_delay`` seconds. Each local day's end is published anyway
    (``emitter.ScoreEmitter``).
    """

    def __init__(self, max_delay: float) -> None:
        self.max_delay = max_delay
        self._seen: dict[int, int | None] = {}  # next offset at the previous tick
        self._since: dict[int, float] = {}  # last time the partition was ready (monotonic)

    def ready(
        self, partition: int, next_offset: int | None, highwater: int | None, now: float
    ) -> bool:
        idle = partition in self._seen and self._seen[partition] == next_offset
        self._seen[partition] = next_offset
        since = self._since.setdefault(partition, now)
        if (
            PartitionProgress.caught_up(next_offset, highwater)
            or idle
            or now - since >= self.max_delay
        ):
            self._since[partition] = now
            return True
        return False
