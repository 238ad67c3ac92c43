"""Replaying a recorded log through the same core: the batch recomputation's engine."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .activity import Activity
from .figures import Figures
from .org import OrgState, Outcome
from .rules import DEFAULT_TIMEZONE, ScoringRules

__all__ = ["ReplayResult", "replay"]


@dataclass(slots=True)
class ReplayResult:
    orgs: dict[str, OrgState] = field(default_factory=dict)
    closed_months: dict[str, list[Figures]] = field(default_factory=dict)
    outcomes: dict[Outcome, int] = field(default_factory=dict)


def replay(
    activities: Iterable[Activity],
    rules: ScoringRules,
    timezones: Mapping[str, str] | None = None,
) -> ReplayResult:
    """Apply activities in log order, one ``OrgState`` per organisation."""
    timezones = timezones or {}
    result = ReplayResult()
    for activity in activities:
        state = result.orgs.get(activity.org_id)
        if state is None:
            tz = timezones.get(activity.org_id, DEFAULT_TIMEZONE)
            state = result.orgs[activity.org_id] = OrgState(activity.org_id, rules, tz)
        applied = state.apply(activity)
        result.outcomes[applied.outcome] = result.outcomes.get(applied.outcome, 0) + 1
        if applied.closed_months:
            result.closed_months.setdefault(activity.org_id, []).extend(applied.closed_months)
    return result
