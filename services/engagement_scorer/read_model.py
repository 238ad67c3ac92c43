"""The read side: what the score emitter, the API, the pages and the metrics say about an
organisation beyond its figures, all from the same tables and the same rules.

- the profile (``OrgProfileView``) from the profiles table;
- the operating level the second stage announced (read only: ``Assessments.announced_level``);
- the target gap against the target level's profile;
- the benchmark position against the published medians of its peer group (global table).

``enrich`` is the one place a score payload gets its level, target and benchmark fields, so
an event, ``GET /orgs/{id}/score`` and ``engagement_org_benchmark_position`` cannot disagree.
Everything here only reads (views and scrapes run outside the agents: no table writes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from engagement.domain import COMPONENTS, DEFAULT_PROFILES, classify, target_gap
from engagement.domain.benchmarks import position_of
from engagement.events import ScoreUpdated

from .org_profile import OrgProfileView, PeerGroupKey

__all__ = ["ReadModel", "Values", "benchmark_position", "values_of"]

Values = Mapping[str, float | None]
LevelOf = Callable[[str], str | None]


def values_of(payload: ScoreUpdated) -> dict[str, float | None]:
    """The component values of a score payload (percent, one decimal, None without value)."""
    return {name: getattr(payload.components, name).value for name in COMPONENTS}


def benchmark_position(
    values: Values, medians: Mapping[str, float] | None
) -> dict[str, str] | None:
    """Per component with a value, its side of the group median (``position_of``); None
    while the group has no published medians."""
    if not medians:
        return None
    position: dict[str, str] = {}
    for name, median in medians.items():
        value = values.get(name)
        if value is not None:
            position[name] = position_of(value, median)
    return position


class ReadModel:
    def __init__(
        self,
        profiles: Mapping[str, Any],
        benchmarks: Mapping[str, Any],
        level_of: LevelOf,
        min_group_size: int,
    ) -> None:
        """``profiles``: org_id -> profile JSON; ``benchmarks``: encoded group -> published
        entry (``benchmarking.published_entry``); ``level_of``: the announced level."""
        self._profiles = profiles
        self._benchmarks = benchmarks
        self.level_of = level_of
        self.min_group_size = min_group_size

    def profile(self, org_id: str) -> OrgProfileView | None:
        return OrgProfileView.from_json(org_id, self._profiles.get(org_id))

    def group_of(self, org_id: str) -> PeerGroupKey | None:
        profile = self.profile(org_id)
        return profile.group if profile else None

    def published(self, group: PeerGroupKey | None) -> dict[str, Any] | None:
        """The benchmarks table's entry of a published group (None: not published)."""
        found = self._benchmarks.get(group.encode()) if group else None
        return found if isinstance(found, dict) else None

    def position(self, org_id: str, values: Values) -> dict[str, str] | None:
        published = self.published(self.group_of(org_id))
        return benchmark_position(values, published.get("medians") if published else None)

    def target_gap(self, org_id: str, values: Values) -> dict[str, float | None] | None:
        """Per component, organisation minus its target level's profile (None: no target)."""
        profile = self.profile(org_id)
        target = profile.target_level if profile else None
        if target not in DEFAULT_PROFILES:
            return None
        return target_gap(values, target, DEFAULT_PROFILES)

    def enrich(self, payload: ScoreUpdated) -> ScoreUpdated:
        """Add level, target and benchmark position to a score payload (classified once)."""
        org_id = payload.org_id
        values = values_of(payload)
        classification = classify(values, DEFAULT_PROFILES)
        profile = self.profile(org_id)  # once: parsed from the table's JSON on every read
        target = profile.target_level if profile else None
        published = self.published(profile.group if profile else None)
        return payload.model_copy(
            update={
                "operating_level": self.level_of(org_id),
                "level_confidence": round(classification.confidence, 3)
                if classification.level
                else None,
                "target_level": target,
                "target_gap": target_gap(values, target, DEFAULT_PROFILES) if target else None,
                "benchmark_position": benchmark_position(
                    values, published.get("medians") if published else None
                ),
            }
        )

    def level_view(self, payload: ScoreUpdated) -> dict[str, Any]:
        """What ``GET /orgs/{id}/level`` answers."""
        values = values_of(payload)
        classification = classify(values, DEFAULT_PROFILES)
        profile = self.profile(payload.org_id)
        target = profile.target_level if profile else None
        return {
            "org_id": payload.org_id,
            "as_of": payload.as_of.isoformat(),
            "operating_level": self.level_of(payload.org_id),
            "best_fit": classification.level,
            "confidence": round(classification.confidence, 3),
            "margin": round(classification.margin, 2),
            "distances": {k: round(v, 2) for k, v in classification.distances.items()},
            "deciding_components": list(classification.deciding_components),
            "target_level": target,
            "target_gap": target_gap(values, target, DEFAULT_PROFILES) if target else None,
        }

    def peer_group(self, profile: OrgProfileView | None) -> dict[str, Any] | None:
        """The organisation's benchmark group and, once published, its quartiles (the page)."""
        group = profile.group if profile else None
        if group is None:
            return None
        published = self.published(group)
        benchmark = published.get("benchmark") if published else None
        return {
            "group": {
                "sector": group.sector,
                "size_band": group.size_band,
                "platform_type": group.platform_type,
            },
            "published": benchmark is not None,
            "org_count": benchmark.get("org_count") if benchmark else None,
            "components": benchmark.get("components", {}) if benchmark else {},
            "min_group_size": self.min_group_size,
        }
