"""The breakdowns' adapter: one ``OrgBreakdowns`` per owned organisation, its facts mirrored
into a changelog-backed table (``breakdowns``), rebuilt from it after a rebalance.

``apply`` is the first stage's hook (``scoring``): called with every activity after the
organisation's state applied it, in the organisation's partition, so the writes land in the
organisation's changelog partition. Keys: ``org\\x1f<fact key>`` (``BreakdownChange.key``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

from engagement.domain import Activity, Figures, LocalCalendar, Outcome
from engagement.domain.breakdowns import BreakdownChange, OrgBreakdowns
from engagement.settings import Settings

from .ports import Table

__all__ = ["Breakdowns", "breakdown_view"]

SEP = "\x1f"


class Breakdowns:
    def __init__(self, settings: Settings, table: Table) -> None:
        self.window_days = settings.window_days
        self.included_kinds = frozenset(settings.included_kinds)
        self.table = table
        self.orgs: dict[str, OrgBreakdowns] = {}
        self._calendars: dict[str, LocalCalendar] = {}
        self.last_rebuild_seconds = 0.0

    def _calendar(self, timezone: str) -> LocalCalendar:
        found = self._calendars.get(timezone)
        if found is None:
            found = self._calendars[timezone] = LocalCalendar(timezone)
        return found

    def state_for(self, org_id: str) -> OrgBreakdowns:
        found = self.orgs.get(org_id)
        if found is None:
            found = self.orgs[org_id] = OrgBreakdowns(self.window_days, self.included_kinds)
        return found

    def apply(
        self, org_id: str, activity: Activity, outcome: Outcome | None, timezone: str
    ) -> list[BreakdownChange]:
        """One activity the organisation's state accepted (a LATE one counts nowhere); the
        facts that changed, already written to the table."""
        if outcome is None or outcome is Outcome.LATE:
            return []
        return self.apply_on(org_id, activity, self._calendar(timezone))

    def apply_on(
        self, org_id: str, activity: Activity, calendar: LocalCalendar
    ) -> list[BreakdownChange]:
        """``apply`` of an accepted activity, on the organisation's own calendar (the first
        stage's hot path: the state's calendar is the profile's time zone's)."""
        found = self.orgs.get(org_id)
        if found is None:
            found = self.state_for(org_id)
        changes = found.apply(activity, calendar.day(activity.time))
        if changes:
            table = self.table
            for change in changes:
                key = f"{org_id}{SEP}{change.key}"
                if change.value is None:
                    table.pop(key, None)
                else:
                    table[key] = change.value
        return changes

    def rebuild(self, owns: Callable[[str], bool]) -> None:
        started = time.perf_counter()
        facts: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        for key, value in list(self.table.items()):
            text = key.decode() if isinstance(key, bytes) else str(key)
            org_id, _, fact = text.partition(SEP)
            facts[org_id].append((fact, value))
        self.orgs = {
            org_id: OrgBreakdowns.restore(found, self.window_days, self.included_kinds)
            for org_id, found in facts.items()
            if owns(org_id)
        }
        self.last_rebuild_seconds = time.perf_counter() - started

    def figures(self, org_id: str, window: Figures) -> dict[str, Any] | None:
        """The breakdowns of the window of ``window`` (the organisation's current rolling
        figures: their last day, and their activated accounts as the default audience)."""
        found = self.orgs.get(org_id)
        if found is None:
            return None
        activated = window.components["visit"].denominator
        return breakdown_view(found.figures(window.last_day, activated))


def breakdown_view(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures with the window as ISO dates."""
    first, last = figures["window"]
    return {
        **figures,
        "window": {
            "start": date.fromordinal(first).isoformat(),
            "end": date.fromordinal(last).isoformat(),
        },
    }
