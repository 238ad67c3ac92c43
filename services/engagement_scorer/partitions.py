"""``Partitions`` on Faust: ownership, end offsets and start offsets from the app's consumer and
partition assignor (the one module that reaches into Faust's consumer internals)."""

from __future__ import annotations

import faust
from faust.types import TP

__all__ = ["FaustPartitions"]


class FaustPartitions:
    def __init__(self, app: faust.App) -> None:
        self.app = app

    def assigned(self, topic: str) -> list[int]:
        return sorted(
            tp.partition for tp in self.app.assignor.assigned_actives() if tp.topic == topic
        )

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
