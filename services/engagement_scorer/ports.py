"""The narrow seams between the stages and Faust/Kafka, as ``typing.Protocol`` s: what a unit
test fakes (a dict for a table, a small class for the partitions, a list for a sender)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any, Protocol

from .publish import Outgoing

__all__ = ["Partitions", "Sender", "Table"]

#: A table as the stages read and write it: a Faust table, or a dict in unit tests.
Table = MutableMapping[str, Any]


class Partitions(Protocol):
    """The worker's view of its Kafka partitions (``partitions.FaustPartitions`` on Faust)."""

    def assigned(self, topic: str) -> list[int]:
        """The partitions of ``topic`` this worker actively owns."""
        ...

    def highwater(self, topic: str, partition: int) -> int | None:
        """The broker's end offset as the consumer last saw it (None: not known)."""
        ...

    def committed(self, topic: str, partition: int) -> int | None:
        """Where this worker's reading of the partition started (None: offset 0, no commit)."""
        ...


class Sender(Protocol):
    """Where a stage's outputs go (``sending.TopicSender`` on Faust, a list in tests)."""

    async def send(self, out: Outgoing) -> None: ...
