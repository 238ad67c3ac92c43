"""Peer-group benchmarks: organisations compared with similar ones (sector, size band,
platform type), per component the median and quartiles, and per organisation whether it lies
above or below its group's median.

The statistics are kept incrementally, as one sorted list per group and component, so an update
of one organisation costs a binary search plus a list shift in its group (O(log n + n_move)),
never a scan of all organisations; quartiles are then read off the sorted list in O(1).

Privacy **(ours)**: a group is only published with at least ``k`` organisations (default 5), and
within a published group a component's quartiles only when at least ``k`` of them have a value,
so no single tenant can be read out of a group.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from .rules import COMPONENTS

__all__ = [
    "DEFAULT_MIN_GROUP_SIZE",
    "SIZE_BANDS",
    "GroupKey",
    "GroupStats",
    "PeerGroups",
    "Position",
    "Quartiles",
    "position_of",
    "quantile",
    "size_band",
]

#: (sector, size band, platform type), e.g. ("healthcare", "500-1999", "intranet").
GroupKey = tuple[str, str, str]
Position = Literal["above", "below", "at"]

DEFAULT_MIN_GROUP_SIZE = 5

#: Size bands by number of employees (lower bound, label), ascending; "unknown" when not given.
SIZE_BANDS: tuple[tuple[int, str], ...] = (
    (1, "1-99"),
    (100, "100-499"),
    (500, "500-1999"),
    (2000, "2000-9999"),
    (10_000, "10000+"),
)


def size_band(employees: int | None) -> str:
    """The size band of an organisation; "unknown" for None or fewer than one employee."""
    if employees is None or employees < 1:
        return "unknown"
    label = SIZE_BANDS[0][1]
    for lower, band in SIZE_BANDS:
        if employees >= lower:
            label = band
    return label


def position_of(value: float, median: float) -> Position:
    """Where a value lies against its group's median: "at" when equal (up to binary noise,
    1e-9), else "above" or "below". The one rule for every benchmark position."""
    if math.isclose(value, median, rel_tol=0.0, abs_tol=1e-9):
        return "at"
    return "above" if value > median else "below"


def quantile(ordered: list[float], p: float) -> float:
    """The p-quantile (0 <= p <= 1) of a non-empty ascending list by linear interpolation
    between closest ranks: h = (n - 1) p, x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).

    This is numpy's default ("linear", Hyndman-Fan type 7) and ``statistics.quantiles(...,
    method="inclusive")``: the median of an even count is the mean of the middle two.
    """
    if not ordered:
        raise ValueError("quantile of no values")
    if not 0.0 <= p <= 1.0:
        raise ValueError("p must lie in [0, 1]")
    h = (len(ordered) - 1) * p
    lo = math.floor(h)
    if lo + 1 >= len(ordered):
        return ordered[-1]
    return ordered[lo] + (h - lo) * (ordered[lo + 1] - ordered[lo])


@dataclass(frozen=True, slots=True)
class Quartiles:
    p25: float
    median: float
    p75: float


@dataclass(frozen=True, slots=True)
class GroupStats:
    """``org_count``: organisations in the group; ``value_counts``: per component, how many of
    them have a value (the others are left out of that component); ``components``: quartiles
    per component, None when no organisation (or, published, fewer than k) has a value."""

    group: GroupKey
    org_count: int
    components: dict[str, Quartiles | None]
    value_counts: dict[str, int]


def _clean(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    if math.isnan(value):
        raise ValueError("component values must not be NaN")
    return value


class PeerGroups:
    """Incremental order statistics of the component values, per peer group.

    Holds each organisation's group and values (five floats), and per group and component the
    sorted values. Not thread-safe; one writer. Rebuilt after a restart by replaying ``update``
    for each organisation's latest values.
    """

    __slots__ = ("_counts", "_orgs", "_sorted")

    def __init__(self) -> None:
        self._orgs: dict[str, tuple[GroupKey, dict[str, float | None]]] = {}
        self._counts: dict[GroupKey, int] = {}
        self._sorted: dict[GroupKey, dict[str, list[float]]] = {}

    def __len__(self) -> int:
        return len(self._orgs)

    def __contains__(self, org_id: object) -> bool:
        return org_id in self._orgs

    def group_of(self, org_id: str) -> GroupKey | None:
        entry = self._orgs.get(org_id)
        return None if entry is None else entry[0]

    def groups(self) -> list[GroupKey]:
        return sorted(self._counts)

    # ---- writing -------------------------------------------------------------------------

    def update(
        self, org_id: str, group: GroupKey, values: Mapping[str, float | None]
    ) -> set[GroupKey]:
        """Set an organisation's group and component values (missing components: None).

        Returns the groups whose statistics changed: none when nothing changed, the old and the
        new group when the organisation moved.
        """
        new = {name: _clean(values.get(name)) for name in COMPONENTS}
        entry = self._orgs.get(org_id)
        if entry is None:
            self._insert(group, new)
            self._orgs[org_id] = (group, new)
            return {group}
        old_group, old = entry
        if old_group != group:
            self._delete(old_group, old)
            self._insert(group, new)
            self._orgs[org_id] = (group, new)
            return {old_group, group}
        changed = False
        lists = self._sorted[group]
        for name in COMPONENTS:
            before, after = old[name], new[name]
            if before == after:
                continue
            changed = True
            if before is not None:
                _discard(lists[name], before)
            if after is not None:
                insort(lists[name], after)
        self._orgs[org_id] = (group, new)
        return {group} if changed else set()

    def remove(self, org_id: str) -> set[GroupKey]:
        """Forget an organisation; the group it left (empty set when it was unknown)."""
        entry = self._orgs.pop(org_id, None)
        if entry is None:
            return set()
        group, values = entry
        self._delete(group, values)
        return {group}

    def _insert(self, group: GroupKey, values: dict[str, float | None]) -> None:
        self._counts[group] = self._counts.get(group, 0) + 1
        lists = self._sorted.setdefault(group, {name: [] for name in COMPONENTS})
        for name in COMPONENTS:
            value = values[name]
            if value is not None:
                insort(lists[name], value)

    def _delete(self, group: GroupKey, values: dict[str, float | None]) -> None:
        lists = self._sorted[group]
        for name in COMPONENTS:
            value = values[name]
            if value is not None:
                _discard(lists[name], value)
        self._counts[group] -= 1
        if self._counts[group] == 0:
            del self._counts[group]
            del self._sorted[group]

    # ---- reading -------------------------------------------------------------------------

    def org_count(self, group: GroupKey) -> int:
        return self._counts.get(group, 0)

    def published(self, group: GroupKey, k: int = DEFAULT_MIN_GROUP_SIZE) -> bool:
        """Whether the group has at least ``k`` organisations."""
        return self.org_count(group) >= k

    def stats(self, group: GroupKey) -> GroupStats | None:
        """The raw statistics of a group (None when it has no organisations), for internal use;
        publish ``published_stats``."""
        count = self._counts.get(group)
        if count is None:
            return None
        lists = self._sorted[group]
        components: dict[str, Quartiles | None] = {}
        for name in COMPONENTS:
            ordered = lists[name]
            components[name] = (
                Quartiles(quantile(ordered, 0.25), quantile(ordered, 0.5), quantile(ordered, 0.75))
                if ordered
                else None
            )
        value_counts = {name: len(lists[name]) for name in COMPONENTS}
        return GroupStats(group, count, components, value_counts)

    def published_stats(
        self, group: GroupKey, k: int = DEFAULT_MIN_GROUP_SIZE
    ) -> GroupStats | None:
        """The statistics fit to publish: None below ``k`` organisations, and a component's
        quartiles None when fewer than ``k`` organisations have a value for it."""
        stats = self.stats(group)
        if stats is None or stats.org_count < k:
            return None
        components = {
            name: quartiles if stats.value_counts[name] >= k else None
            for name, quartiles in stats.components.items()
        }
        return GroupStats(group, stats.org_count, components, stats.value_counts)

    def position(self, org_id: str, k: int = DEFAULT_MIN_GROUP_SIZE) -> dict[str, Position] | None:
        """Per component, the organisation's value against its group's median.

        None when the organisation is unknown or its group is not published; components
        without a value, or with fewer than ``k`` values in the group, are left out.
        """
        entry = self._orgs.get(org_id)
        if entry is None:
            return None
        group, values = entry
        stats = self.published_stats(group, k)
        if stats is None:
            return None
        result: dict[str, Position] = {}
        for name in COMPONENTS:
            value, quartiles = values[name], stats.components[name]
            if value is None or quartiles is None:
                continue
            result[name] = position_of(value, quartiles.median)
        return result


def _discard(ordered: list[float], value: float) -> None:
    index = bisect_left(ordered, value)
    if index == len(ordered) or ordered[index] != value:
        raise AssertionError(f"value {value} missing from its sorted list")
    del ordered[index]
