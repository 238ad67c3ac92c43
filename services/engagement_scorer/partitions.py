"""``Partitions`` on Faust: ownership, end offsets and start offsets from the app's consumer and
partition assignor (the one module that reaches into Faust's consumer internals)."""

from __future__ import annotations

import faust
from faust.types import TP

__all__ = ["FaustPartitions"]


class FaustPartitions:
    def __init__(self, app: faust.App) -> None:
        self.app = app
        #: the assignor's assignment the cache was made from, and topic -> partitions of it
        self._cached_for: object = None
        self._cached: dict[str, list[int]] = {}

    def assigned(self, topic: str) -> list[int]:
        """The active partitions of ``topic`` this worker holds. Asked for every published
        score (``ScoreEmitter.owns``): the assignor builds a set of every assigned partition
        on each call, so the answer is kept per assignment. The assignor replaces its
        assignment object on every rebalance (never changes it in place), which is what the
        cache is keyed on; a rebalance therefore shows at once."""
        assignor = self.app.assignor
        assignment = getattr(assignor, "_assignment", None)
        if assignment is None:  # another assignor: ask it every time
            return sorted(tp.partition for tp in assignor.assigned_actives() if tp.topic == topic)
        if assignment is not self._cached_for:
            self._cached_for, self._cached = assignment, {}
        found = self._cached.get(topic)
        if found is None:
            found = self._cached[topic] = sorted(
                tp.partition for tp in assignor.assigned_actives() if tp.topic == topic
            )
        return list(found)

    def highwater(self, topic: str, partition: int) -> int | None:
        try:
            highwater = self.app.consumer.highwater(TP(topic, partition))
        except Exception:  # not assigned (any more), or the consumer is restarting
            return None
        return None if highwater is None else int(highwater)

    def committed(self, topic: str, partition: int) -> int | None:
        """Faust's record of the group's committed offset (set when the partition was
        assigned; None for offset 0 or no commit yet): a private attribute, read defensively."""
        committed = getattr(self.app.consumer, "_committed_offset", {})
        value = committed.get(TP(topic, partition)) if hasattr(committed, "get") else None
        return int(value) if value is not None else None
