"""The tunable counting rules of the Engagement Score, as one immutable value.

Kept apart from settings so the domain core never imports configuration machinery:
the adapters build a ``ScoringRules`` from settings, tests build one by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["COMPONENTS", "DEFAULT_TIMEZONE", "ScoringRules"]

#: The five adoption components, in the order the product definition lists them.
COMPONENTS: tuple[str, ...] = ("reach", "visit", "view", "interact", "contribute")

DEFAULT_TIMEZONE = "Europe/Amsterdam"


def _equal_weights() -> dict[str, float]:
    return dict.fromkeys(COMPONENTS, 1.0)


@dataclass(frozen=True, slots=True)
class ScoringRules:
    """How accounts and events are counted.

    ``window_days``: the rolling window, in whole local days, today included.
    ``grace_seconds``: how long after a calendar month's end late events are still applied
    to it; once stream time passes end + grace the month is closed and final.
    ``included_kinds``: account kinds that count in numerators and denominators.
    ``weights``: per-component weights of the Engagement Score (weighted mean of the
    components that have a value).
    """

    window_days: int = 30
    grace_seconds: int = 3600
    included_kinds: frozenset[str] = frozenset({"member"})
    weights: dict[str, float] = field(default_factory=_equal_weights)

    def __post_init__(self) -> None:
        if self.window_days < 1:
            raise ValueError("window_days must be at least 1")
        if self.grace_seconds < 0:
            raise ValueError("grace_seconds must not be negative")
        unknown = set(self.weights) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"weights for unknown components: {sorted(unknown)}")
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("weights must not be negative")
