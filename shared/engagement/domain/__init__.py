"""The pure domain core: accounts, windows, components, the Engagement Score.

Standard library only (no Kafka, Faust, pydantic or I/O), so it is tested with hypothesis
against a naive reference and reused unchanged by the batch recomputation.
"""

from .accounts import Account, pack, unpack
from .activity import Activity, ActivityKind
from .alerts import ALERTS, AlertRules, AlertTracker, AlertTransition, OrgSnapshot
from .benchmarks import (
    DEFAULT_MIN_GROUP_SIZE,
    GroupKey,
    GroupStats,
    PeerGroups,
    Quartiles,
    size_band,
)
from .calendar import LocalCalendar, month_key_of, month_label
from .figures import Component, Figures, engagement_score
from .levels import (
    DEFAULT_PROFILES,
    LEVELS,
    Classification,
    LevelChange,
    LevelProfile,
    LevelTracker,
    classify,
    level_rank,
    target_gap,
)
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
    "ALERTS",
    "COMPONENTS",
    "DEFAULT_MIN_GROUP_SIZE",
    "DEFAULT_PROFILES",
    "DEFAULT_TIMEZONE",
    "LEVELS",
    "Account",
    "AccountChanged",
    "Activity",
    "ActivityKind",
    "AlertRules",
    "AlertTracker",
    "AlertTransition",
    "Applied",
    "Classification",
    "ClockChanged",
    "Component",
    "Figures",
    "GroupKey",
    "GroupStats",
    "LevelChange",
    "LevelProfile",
    "LevelTracker",
    "LocalCalendar",
    "MessageChanged",
    "OrgSnapshot",
    "OrgState",
    "Outcome",
    "PeerGroups",
    "Quartiles",
    "ReadChanged",
    "ScoringRules",
    "StateChange",
    "classify",
    "engagement_score",
    "level_rank",
    "month_key_of",
    "month_label",
    "pack",
    "replay",
    "size_band",
    "target_gap",
    "unpack",
]
