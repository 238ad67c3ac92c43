"""Benchmark stage: peer figures in, published and withdrawn peer groups out.

Runs on the internal peer topic (keyed by group, so one worker owns each group). Each
organisation's latest values are kept in the ``peers`` table (rebuilt after a rebalance) and
in the domain's ``PeerGroups`` order statistics. A group is published (benchmark event, plus
its entry in the global ``benchmarks`` table every worker reads for benchmark positions) when
its figures change and it has at least k organisations; when it falls below k its entry is
withdrawn, so no score event or page shows the figures of a group under k any more. (A
benchmark event already published stays on its compacted topic: the k-rule is about what is
published from then on.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engagement.domain import PeerGroups

from .org_profile import PeerGroupKey
from .ports import Table
from .publish import Outgoing, benchmark_digest, benchmark_payload, benchmark_record

__all__ = ["BenchmarkingStage", "GroupsChanged", "peer_row_key", "split_peer_row"]

SEP = "\x1f"


def peer_row_key(group: PeerGroupKey, org_id: str) -> str:
    """Key of an organisation's row in the ``peers`` table."""
    return f"{group.encode()}{SEP}{org_id}"


def split_peer_row(key: str) -> tuple[PeerGroupKey, str]:
    group, org_id = key.split(SEP, 1)
    return PeerGroupKey.decode(group), org_id


@dataclass(slots=True)
class GroupsChanged:
    """What one peer message changed: benchmark records to send, published and withdrawn."""

    outputs: list[Outgoing] = field(default_factory=list)
    published: list[PeerGroupKey] = field(default_factory=list)
    withdrawn: list[PeerGroupKey] = field(default_factory=list)


class BenchmarkingStage:
    def __init__(
        self, peers: Table, benchmarks: Table, min_group_size: int, topic: str, source: str
    ) -> None:
        """``peers``/``benchmarks``: the tables (see module doc); ``topic``: the benchmark
        topic's name; ``source``: the CloudEvents source of the records."""
        self.peers = peers
        self.benchmarks = benchmarks
        self.k = min_group_size
        self.topic = topic
        self.source = source
        self.groups = PeerGroups()
        self.last_digest: dict[PeerGroupKey, str] = {}  # group -> digest of its last event

    def rebuild(self, owns: Callable[[PeerGroupKey], bool]) -> None:
        """Rebuild the order statistics from the ``peers`` table, for the groups ``owns``
        says are this worker's (those of the peer partitions it owns)."""
        self.groups = PeerGroups()
        self.last_digest.clear()
        for key, values in list(self.peers.items()):
            group, org_id = split_peer_row(str(key))
            if owns(group):
                self.groups.update(org_id, group, values)

    def peer_figures(
        self,
        group: PeerGroupKey,
        org_id: str,
        values: dict[str, float | None] | None,
        now: datetime,
    ) -> GroupsChanged:
        """An organisation's latest values for ``group``, or (None) its leaving ``group``.

        ``now``: the worker clock's moment, the benchmark events' time."""
        if values is None:
            self.peers.pop(peer_row_key(group, org_id), None)
            if self.groups.group_of(org_id) != group:
                changed: set[Any] = set()  # a late withdrawal: it is in another group now
            else:
                changed = self.groups.remove(org_id)
        else:
            self.peers[peer_row_key(group, org_id)] = values
            changed = self.groups.update(org_id, group, values)
        out = GroupsChanged()
        for raw in sorted(changed):
            key = PeerGroupKey(*raw)
            stats = self.groups.published_stats(key, self.k)
            if stats is None:  # below k: withdraw what was published
                if key.encode() in self.benchmarks:
                    del self.benchmarks[key.encode()]
                    self.last_digest.pop(key, None)
                    out.withdrawn.append(key)
                continue
            payload = benchmark_payload(stats)
            digest = benchmark_digest(payload)
            if self.last_digest.get(key) == digest:
                continue
            self.last_digest[key] = digest
            record = benchmark_record(key.encode(), payload, digest, self.source, now)
            out.outputs.append(Outgoing.of(self.topic, record))
            self.benchmarks[key.encode()] = {
                "benchmark": payload.model_dump(mode="json"),
                "medians": {name: q.median for name, q in payload.components.items()},
            }
            out.published.append(key)
        return out
