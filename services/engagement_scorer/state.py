"""The worker's in-memory organisation states, mirrored into changelog-backed Faust tables.

The domain core keeps each organisation's exact state in plain Python; this module makes it
durable. Every change ``OrgState.apply``/``advance`` reports becomes one table write (one
changelog record per changed account, message, read or organisation clock, never a rewrite of
a whole organisation), and after each rebalance the states of the partitions this worker owns
are rebuilt from the tables.

Keys: ``org_id`` (``orgs``, ``profiles``), ``org_id\\x1faccount_id`` (``accounts``),
``org_id\\x1fmessage_id`` (``messages``), ``org_id\\x1fmessage_id\\x1faccount_id``
(``reads``). They are written in an agent processing that organisation's partition (the
activity agent, or the clock agent for the partition's tick), so each write lands in the
changelog partition of the organisation's input partition.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aiokafka.partitioner import murmur2

from engagement.domain import (
    DEFAULT_TIMEZONE,
    AccountChanged,
    ClockChanged,
    MessageChanged,
    OrgState,
    ReadChanged,
    ScoringRules,
    StateChange,
)

from .ports import Table
from .writes import DELETED, PendingWrites

__all__ = ["OrgStates", "StateTables", "partition_of"]

SEP = "\x1f"


@lru_cache(maxsize=1 << 18)
def partition_of(org_id: str, partitions: int) -> int:
    """Kafka's default partitioner (murmur2 of the key bytes), as producers use it."""
    return (murmur2(org_id.encode()) & 0x7FFFFFFF) % partitions


def _text(key: Any) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)


@dataclass(slots=True)
class StateTables:
    """The first stage's tables (Faust tables; dicts in unit tests)."""

    orgs: Table  # org_id -> [clock, as_of, closed_through, first_month]
    accounts: Table  # org\x1faccount -> packed account
    messages: Table  # org\x1fmessage -> [day, time, audience]
    reads: Table  # org\x1fmessage\x1faccount -> earliest read time
    profiles: Table  # org_id -> org profile (JSON of ``OrgProfile``)


class OrgStates:
    """The states of the organisations this worker owns (``orgs``), and their persistence."""

    def __init__(
        self,
        rules: ScoringRules,
        tables: StateTables,
        partitions: int = 1,
        writes: PendingWrites | None = None,
    ) -> None:
        self.rules = rules
        self.tables = tables
        #: where changes go until the data plane writes them (None: straight to the tables)
        self.writes = writes
        self.partitions = partitions
        self.orgs: dict[str, OrgState] = {}
        #: time zones read ahead from the profiles topic (``profiles``), for organisations
        #: whose profile the profiles agent has not applied yet
        self.known_timezones: dict[str, str] = {}
        self.ready = False
        self.last_rebuild_seconds = 0.0

    def timezone_of(self, org_id: str) -> str:
        profile = self.profile_of(org_id)
        if isinstance(profile, dict):
            return str(profile.get("timezone") or DEFAULT_TIMEZONE)
        return self.known_timezones.get(org_id, DEFAULT_TIMEZONE)

    def writes_at(self, partition: int) -> None:
        """The changes recorded from now on belong to input partition ``partition``."""
        if self.writes is not None:
            self.writes.at(partition)

    def profile_of(self, org_id: str) -> Any:
        """The stored profile, including one written in this batch and not yet flushed."""
        if self.writes is not None:
            pending = self.writes.get("profiles", org_id)
            if pending is not DELETED and pending is not None:
                return pending
            if pending is DELETED:
                return None
        return self.tables.profiles.get(org_id)

    def state_for(self, org_id: str) -> OrgState:
        state = self.orgs.get(org_id)
        if state is None:
            state = self.orgs[org_id] = OrgState(org_id, self.rules, self.timezone_of(org_id))
        return state

    def persist(self, org_id: str, changes: Iterable[StateChange]) -> None:
        """Record the changes as table writes: into ``writes`` when the worker's data plane
        writes them out per batch (``changelog``), else straight into the tables."""
        put, drop = self._put, self._drop
        for change in changes:
            if isinstance(change, AccountChanged):
                put("accounts", f"{org_id}{SEP}{change.account_id}", change.record)
            elif isinstance(change, ReadChanged):
                key = f"{org_id}{SEP}{change.message_id}{SEP}{change.account_id}"
                if change.time is None:
                    drop("reads", key)
                else:
                    put("reads", key, change.time)
            elif isinstance(change, MessageChanged):
                key = f"{org_id}{SEP}{change.message_id}"
                if change.record is None:
                    drop("messages", key)
                else:
                    put("messages", key, list(change.record))
            elif isinstance(change, ClockChanged):
                put("orgs", org_id, list(change.record))

    def set_profile(self, org_id: str, profile: dict[str, Any] | None) -> None:
        """Store (or, with None, withdraw) an organisation's profile."""
        if profile is None:
            self._drop("profiles", org_id)
        else:
            self._put("profiles", org_id, profile)

    def _put(self, table: str, key: str, value: Any) -> None:
        if self.writes is not None:
            self.writes.set(table, key, value)
        else:
            getattr(self.tables, table)[key] = value

    def _drop(self, table: str, key: str) -> None:
        if self.writes is not None:
            self.writes.delete(table, key)
        else:
            getattr(self.tables, table).pop(key, None)

    def orgs_of_partition(self, partition: int) -> list[str]:
        """The organisations held whose input partition is ``partition``."""
        n = self.partitions
        return [o for o in list(self.orgs) if partition_of(o, n) == partition]

    def tracked_accounts(self) -> int:
        return sum(s.tracked_accounts() for s in self.orgs.values())

    def tracked_messages(self) -> int:
        return sum(s.tracked_messages() for s in self.orgs.values())

    def tracked_reads(self) -> int:
        return sum(s.tracked_reads() for s in self.orgs.values())

    def rebuild(self, owns: Callable[[str], bool]) -> None:
        """Rebuild the states of the organisations this worker owns from the tables."""
        started = time.perf_counter()
        accounts: dict[str, list[tuple[str, int]]] = defaultdict(list)
        messages: dict[str, list[tuple[str, tuple[int, int, int]]]] = defaultdict(list)
        reads: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
        owned: dict[str, bool] = {}

        def mine(org_id: str) -> bool:
            verdict = owned.get(org_id)
            if verdict is None:
                verdict = owned[org_id] = owns(org_id)
            return verdict

        for key, value in list(self.tables.accounts.items()):
            org_id, account_id = _text(key).split(SEP, 1)
            if mine(org_id):
                accounts[org_id].append((account_id, int(value)))
        for key, value in list(self.tables.messages.items()):
            org_id, message_id = _text(key).split(SEP, 1)
            if mine(org_id):
                day, at, audience = value
                messages[org_id].append((message_id, (int(day), int(at), int(audience))))
        for key, value in list(self.tables.reads.items()):
            org_id, message_id, account_id = _text(key).split(SEP, 2)
            if mine(org_id):
                reads[org_id].append((message_id, account_id, int(value)))
        clocks = {_text(k): tuple(int(x) for x in v) for k, v in list(self.tables.orgs.items())}
        self.orgs = {}
        for org_id in set(accounts) | set(messages) | set(reads) | set(clocks):
            if not mine(org_id):
                continue
            clock = clocks.get(org_id)
            self.orgs[org_id] = OrgState.restore(
                org_id,
                self.rules,
                self.timezone_of(org_id),
                clock if clock is not None and len(clock) == 4 else None,
                accounts.get(org_id, ()),
                messages.get(org_id, ()),
                reads.get(org_id, ()),
            )
        self.last_rebuild_seconds = time.perf_counter() - started
        self.ready = True
