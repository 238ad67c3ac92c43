"""The pure domain core: accounts, windows, components, the Engagement Score.

Standard library only (no Kafka, Faust, pydantic or I/O), so it is tested with hypothesis
against a naive reference and reused unchanged by the batch recomputation.
"""

from .accounts import Account, pack, unpack
from .activity import Activity, ActivityKind
from .calendar import LocalCalendar, month_key_of, month_label
from .figures import Component, Figures, engagement_score
from .org import (
    AccountChanged,
    Applied,
    ClockChanged,
    MessageChanged,
    OrgState,
    Outcome,
    ReadChanged,
    StateChange,
)
from .replay import replay
from .rules import COMPONENTS, DEFAULT_TIMEZONE, ScoringRules

__all__ = [
    "COMPONENTS",
    "DEFAULT_TIMEZONE",
    "Account",
    "AccountChanged",
    "Activity",
    "ActivityKind",
    "Applied",
    "ClockChanged",
    "Component",
    "Figures",
    "LocalCalendar",
    "MessageChanged",
    "OrgState",
    "Outcome",
    "ReadChanged",
    "ScoringRules",
    "StateChange",
    "engagement_score",
    "month_key_of",
    "month_label",
    "pack",
    "replay",
    "unpack",
]
