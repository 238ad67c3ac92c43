"""The published figures: components with their numerator and denominator, and the score."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .rules import COMPONENTS

__all__ = ["Component", "Figures", "engagement_score"]


@dataclass(frozen=True, slots=True)
class Component:
    """A ratio that can always be explained: value = 100 * numerator / denominator."""

    numerator: int
    denominator: int

    @property
    def ratio(self) -> float | None:
        """Unrounded percentage, or None when the denominator is 0 (no value, not 0)."""
        if self.denominator == 0:
            return None
        return 100.0 * self.numerator / self.denominator

    @property
    def value(self) -> float | None:
        """The published value: percentage rounded to one decimal."""
        ratio = self.ratio
        return None if ratio is None else round(ratio, 1)


def engagement_score(
    components: Mapping[str, Component], weights: Mapping[str, float]
) -> float | None:
    """Weighted mean of the components that have a value, rounded to one decimal.

    The mean is taken over unrounded percentages so rounding happens once. Null when no
    component with a positive weight has a value.
    """
    total = weight_sum = 0.0
    for name in COMPONENTS:
        ratio = components[name].ratio
        weight = weights.get(name, 0.0)
        if ratio is None or weight <= 0:
            continue
        total += weight * ratio
        weight_sum += weight
    return None if weight_sum == 0 else round(total / weight_sum, 1)


@dataclass(frozen=True, slots=True)
class Figures:
    """One organisation's figures for one period at one moment (``as_of``, epoch seconds).

    ``first_day``/``last_day`` are the local day ordinals of the period, inclusive: the rolling
    window, or a calendar month.
    """

    org_id: str
    as_of: int
    first_day: int
    last_day: int
    components: Mapping[str, Component]
    score: float | None

    def values(self) -> dict[str, float | None]:
        return {name: self.components[name].value for name in COMPONENTS}
