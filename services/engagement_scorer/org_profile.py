"""An organisation's profile as the worker reads it, typed, and the peer group it places the
organisation in.

The profiles table holds each profile as the JSON of ``OrgProfile`` (what the profiles agent
wrote). ``OrgProfileView.from_json`` reads that once, so the rest of the worker never picks at
a raw dict. ``PeerGroupKey`` is the one group-key type: the benchmark topic's key, the peer
topic's key and the benchmarks table's key are all ``PeerGroupKey.encode()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from engagement.domain import DEFAULT_TIMEZONE, size_band
from engagement.events import topics

__all__ = ["OrgProfileView", "PeerGroupKey"]


class PeerGroupKey(NamedTuple):
    """(sector, size band, platform type); a tuple, so the domain's ``PeerGroups`` takes it."""

    sector: str
    size_band: str
    platform_type: str

    def encode(self) -> str:
        """``sector|size_band|platform_type`` (``topics.benchmark_key``)."""
        return topics.benchmark_key(self.sector, self.size_band, self.platform_type)

    @classmethod
    def decode(cls, key: str) -> PeerGroupKey:
        sector, band, platform = key.split("|", 2)
        return cls(sector, band, platform)


@dataclass(frozen=True, slots=True)
class OrgProfileView:
    org_id: str
    name: str | None = None
    sector: str | None = None
    employees: int | None = None
    platform_type: str | None = None
    target_level: str | None = None
    timezone: str = DEFAULT_TIMEZONE

    @classmethod
    def from_json(cls, org_id: str, record: Any) -> OrgProfileView | None:
        """The profile a table holds (None: no profile, or not a profile record)."""
        if not isinstance(record, dict):
            return None
        # As written by the profiles agent (validated ``OrgProfile``): read, not coerced, so
        # the pages answer what the profile said.
        return cls(
            org_id=org_id,
            name=record.get("name"),
            sector=record.get("sector"),
            employees=record.get("employees"),
            platform_type=record.get("platform_type"),
            target_level=record.get("target_level"),
            timezone=str(record.get("timezone") or DEFAULT_TIMEZONE),
        )

    @property
    def group(self) -> PeerGroupKey | None:
        """The organisation's benchmark group (None without a sector: not benchmarked)."""
        if not self.sector:
            return None
        return PeerGroupKey(
            str(self.sector), size_band(self.employees), str(self.platform_type or "intranet")
        )
