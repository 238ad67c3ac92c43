"""Has an input partition been read to its end? The live clock's condition for closing months.

The wall clock may move an organisation's time on (and so close its months for good) only
when nothing of it is left to read: otherwise a backlog (a replay, a catch-up after an outage,
a tenant's history import) would see its months published with the figures of the events
consumed so far, and its remaining events of those months counted as late. Partitions are the
unit: an organisation's events all live in its partition, in order of arrival.
"""

from __future__ import annotations

__all__ = ["PartitionProgress"]


class PartitionProgress:
    """Next offset to process per activity partition, as the activity agent reports it."""

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
