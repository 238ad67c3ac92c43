"""The stages' table writes, collected: one write per changed key per batch.

The stages never write a Faust table directly. ``OrgStates.persist`` and the profile handler
record each change here under the input partition being processed (``at``); the data plane
(``changelog.ChangelogWriter``) then writes what is pending to the local stores and the
changelog topics in one go, after the batch: the last value of a key is what compaction and
recovery keep anyway, so a key changed three times in a batch is one changelog record, and
the records go out through the producer's batches instead of one Faust table write each.

Unit tests read the same writes back with ``apply_to`` (dict tables), so the rules are tested
without Faust.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, MutableMapping
from typing import Any

__all__ = [
    "BENCHMARK_TABLES",
    "DELETED",
    "EXTRA_TABLES",
    "SECOND_STAGE_TABLES",
    "TABLES",
    "PendingTable",
    "PendingWrites",
]

#: The first stage's tables, by name (``state.StateTables``' fields).
TABLES: tuple[str, ...] = ("orgs", "accounts", "messages", "reads", "profiles")
#: Tables the first stage's helpers write (``breakdown_store``, ``history``), by Faust name.
EXTRA_TABLES: tuple[str, ...] = ("breakdowns", "history-months")
#: The second stage's tables (``assess``, ``history`` days), by Faust name: written the same
#: way, from their own ``PendingWrites``, after the score event's outputs are acknowledged.
SECOND_STAGE_TABLES: tuple[str, ...] = ("assessments", "history-days")
#: The benchmark stage's tables (``benchmarking``), written the same way per peer batch.
BENCHMARK_TABLES: tuple[str, ...] = ("peers", "benchmarks")


class _Deleted:
    """The value of a key removed in this batch (a changelog tombstone)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "DELETED"


DELETED: Any = _Deleted()


class PendingWrites:
    """Writes not yet written: table -> partition -> key -> value (or ``DELETED``)."""

    __slots__ = ("_pending", "partition")

    def __init__(self, tables: Iterable[str] = (*TABLES, *EXTRA_TABLES)) -> None:
        """``tables``: the names written through this instance (the first stage's default)."""
        self._pending: dict[str, dict[int, dict[str, Any]]] = {name: {} for name in tables}
        #: the input partition the writes belong to (the changelog partition they go to)
        self.partition = 0

    def at(self, partition: int) -> PendingWrites:
        """Record the following writes under ``partition``; returns self."""
        self.partition = partition
        return self

    def set(self, table: str, key: str, value: Any) -> None:
        by_partition = self._pending[table]
        keys = by_partition.get(self.partition)
        if keys is None:
            keys = by_partition[self.partition] = {}
        keys[key] = value

    def delete(self, table: str, key: str) -> None:
        self.set(table, key, DELETED)

    def get(self, table: str, key: str) -> Any:
        """The pending value of ``key`` (``DELETED`` when removed), None when not pending."""
        for keys in self._pending[table].values():
            if key in keys:
                return keys[key]
        return None

    def __len__(self) -> int:
        return sum(len(keys) for parts in self._pending.values() for keys in parts.values())

    def __bool__(self) -> bool:
        return any(keys for parts in self._pending.values() for keys in parts.values())

    def take(self) -> Iterator[tuple[str, int, dict[str, Any]]]:
        """(table, partition, {key: value}) for everything pending, which is then cleared."""
        for table, by_partition in self._pending.items():
            if not by_partition:
                continue
            self._pending[table] = {}
            for partition, keys in by_partition.items():
                if keys:
                    yield table, partition, keys

    def apply_to(self, tables: Mapping[str, MutableMapping[str, Any]]) -> int:
        """Write what is pending into plain mappings (unit tests, the batch tool): returns
        the number of keys written."""
        n = 0
        for table, _partition, keys in self.take():
            target = tables[table]
            for key, value in keys.items():
                if value is DELETED:
                    target.pop(key, None)
                else:
                    target[key] = value
                n += 1
        return n


class PendingTable(MutableMapping[str, Any]):
    """A table as a helper (breakdowns, history, assessments) writes it: writes go to
    ``writes`` under ``name`` (written out with the batch, ``changelog``); reads see them
    first, then the table."""

    def __init__(self, name: str, writes: PendingWrites, table: MutableMapping[str, Any]) -> None:
        self.name = name
        self.writes = writes
        self.table = table

    def __getitem__(self, key: str) -> Any:
        pending = self.writes.get(self.name, key)
        if pending is DELETED:
            raise KeyError(key)
        if pending is not None:
            return pending
        return self.table[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self.writes.set(self.name, key, value)

    def __delitem__(self, key: str) -> None:
        self.writes.delete(self.name, key)

    def pop(self, key: str, default: Any = None) -> Any:
        try:
            value = self[key]
        except KeyError:
            value = default
        self.writes.delete(self.name, key)
        return value

    def __iter__(self) -> Iterator[str]:  # the table as written out (a rebuild's view)
        return iter(self.table)

    def __len__(self) -> int:
        return len(self.table)
