"""The history store: each organisation's day-end and closed-month figures, in two
changelog-backed tables, with the retention rule (``engagement.domain.history``).

- ``record_score`` (second stage, ``assess``): every score event of the organisation
  overwrites its local day's entry, so a day's entry is the last score published for it
  (the first stage publishes each day's last score before leaving the day, see ``emitter``).
- ``record_month`` (first stage, ``scoring.closed_months``): a closed month's final figures.

Keys: ``org\\x1f<day ordinal>`` (``history_days``), ``org\\x1f<month key>``
(``history_months``), and ``org`` alone in each table for the organisation's span
``[first, last]``. Writes happen in an agent processing the organisation's partition (the
score agent for days, the activity or clock agent for months), so they land in the
organisation's changelog partition and are recovered with the rest of the state after a
restart or a rebalance (no in-memory copy to rebuild: reads go to the table).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from engagement.domain import COMPONENTS, Component, Figures, month_key_of
from engagement.domain.history import (
    HistoryPoint,
    first_retained_day,
    month_last_day,
    point_of,
)
from engagement.events import ScoreUpdated

from .ports import Table

__all__ = ["History", "HistoryTables"]

SEP = "\x1f"


@dataclass(slots=True)
class HistoryTables:
    days: Table  # org\x1fday -> point record; org -> [first_day, last_day]
    months: Table  # org\x1fmonth_key -> point record; org -> [first_key, last_key]


def _span(table: Table, org_id: str) -> tuple[int, int] | None:
    found = table.get(org_id)
    if not found:
        return None
    return int(found[0]), int(found[1])


class History:
    def __init__(self, tables: HistoryTables, retention_days: int) -> None:
        self.tables = tables
        self.retention_days = retention_days

    # ---- writing ---------------------------------------------------------------------------

    def record_score(self, payload: ScoreUpdated) -> None:
        """A score event: its local day's entry becomes this score's figures."""
        components = {
            name: Component(
                getattr(payload.components, name).numerator,
                getattr(payload.components, name).denominator,
            )
            for name in COMPONENTS
        }
        point = point_of(int(payload.as_of.timestamp()), components, payload.engagement_score)
        day = payload.window_end.toordinal()
        self._put(self.tables.days, payload.org_id, day, point, lambda d: d)

    def record_month(self, org_id: str, figures: Figures) -> None:
        """A closed month's final figures."""
        point = point_of(figures.as_of, figures.components, figures.score)
        self._put(
            self.tables.months, org_id, month_key_of(figures.first_day), point, month_last_day
        )

    def _put(self, table: Table, org_id: str, key: int, point: HistoryPoint, last_day: Any) -> None:
        span = _span(table, org_id)
        first, last = (key, key) if span is None else (span[0], max(span[1], key))
        floor = first_retained_day(last_day(last), self.retention_days)
        if last_day(key) < floor:
            return  # older than the retention: never recorded
        table[f"{org_id}{SEP}{key}"] = point.to_record()
        # Retention: drop what fell out, from the oldest on (each entry once: O(1) amortised).
        while last_day(first) < floor and first < last:
            table.pop(f"{org_id}{SEP}{first}", None)
            first += 1
        first = min(first, key)
        if span != (first, last):
            table[org_id] = [first, last]

    # ---- reading ---------------------------------------------------------------------------

    def day_span(self, org_id: str) -> tuple[int, int] | None:
        return _span(self.tables.days, org_id)

    def month_span(self, org_id: str) -> tuple[int, int] | None:
        return _span(self.tables.months, org_id)

    def days(self, org_id: str, first: int, last: int) -> Iterator[tuple[int, HistoryPoint]]:
        """The recorded days in ``[first, last]`` (day ordinals), oldest first."""
        yield from self._range(self.tables.days, org_id, first, last)

    def months(self, org_id: str, first: int, last: int) -> Iterator[tuple[int, HistoryPoint]]:
        """The closed months in ``[first, last]`` (month keys), oldest first."""
        yield from self._range(self.tables.months, org_id, first, last)

    def _range(
        self, table: Table, org_id: str, first: int, last: int
    ) -> Iterator[tuple[int, HistoryPoint]]:
        span = _span(table, org_id)
        if span is None:
            return
        for key in range(max(first, span[0]), min(last, span[1]) + 1):
            record = table.get(f"{org_id}{SEP}{key}")
            if record:
                yield key, HistoryPoint.from_record(list(record))
