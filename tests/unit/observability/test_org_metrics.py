"""OrgMetricsCollector: per-organisation series (capped) and all-organisation aggregates."""

from __future__ import annotations

import platform
from collections.abc import Mapping
from dataclasses import dataclass, field

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from engagement.domain import OrgState, ScoringRules
from engagement.domain.activity import Activity, ActivityKind
from engagement_scorer.metrics import ScorerMetrics
from engagement_scorer.org_metrics import OrgMetricsCollector


@dataclass
class _Part:
    ratio: float | None


@dataclass
class _Figures:
    score: float | None
    components: Mapping[str, _Part] = field(default_factory=dict)


@dataclass
class _State:
    score: float | None
    parts: dict[str, float | None] = field(default_factory=dict)
    asked: list[int | None] = field(default_factory=list)

    def figures(self, as_of: int | None = None) -> _Figures:
        self.asked.append(as_of)
        return _Figures(self.score, {k: _Part(v) for k, v in self.parts.items()})


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(registry).decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _registry(collector: OrgMetricsCollector) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(collector)
    return registry


def test_components_and_score_are_ratios_and_missing_values_are_absent() -> None:
    states = {
        "org-a": _State(57.5, {"reach": 96.0, "visit": 62.5, "contribute": None}),
        "org-b": _State(None, {"reach": None}),
    }
    got = _samples(_registry(OrgMetricsCollector(lambda: states, cap=10)))
    assert got[("engagement_org_score_ratio", (("org_id", "org-a"),))] == 0.575
    assert ("engagement_org_score_ratio", (("org_id", "org-b"),)) not in got
    key = ("engagement_org_component_ratio", (("component", "reach"), ("org_id", "org-a")))
    assert got[key] == 0.96
    # No denominator: no series (a missing value, not 0).
    assert not any(
        name == "engagement_org_component_ratio" and ("component", "contribute") in labels
        for name, labels in got
    )
    assert got[("engagement_org_series_capped", ())] == 0.0


def test_aggregates_cover_all_organisations_and_per_org_series_are_capped() -> None:
    states = {f"org-{i:02d}": _State(float(10 * i + 5)) for i in range(10)}  # 5, 15 .. 95
    levels = {"org-00": "initiation", "org-01": "engaging", "org-02": "bogus"}
    collector = OrgMetricsCollector(lambda: states, cap=3, level_of=levels.get)
    got = _samples(_registry(collector))

    per_org = sorted(
        dict(labels)["org_id"] for name, labels in got if name == "engagement_org_score_ratio"
    )
    assert per_org == ["org-00", "org-01", "org-02"]  # the first `cap` ids, sorted: stable
    assert got[("engagement_org_series_capped", ())] == 1.0

    # The histogram counts every organisation, cumulatively.
    assert got[("engagement_org_score_bucket", (("le", "0.1"),))] == 1
    assert got[("engagement_org_score_bucket", (("le", "0.5"),))] == 5
    assert got[("engagement_org_score_bucket", (("le", "1.0"),))] == 10
    assert got[("engagement_org_score_bucket", (("le", "+Inf"),))] == 10
    assert got[("engagement_org_score_gcount", ())] == 10
    assert got[("engagement_org_score_gsum", ())] == pytest.approx(5.0)

    assert got[("engagement_orgs_by_level", (("level", "initiation"),))] == 1
    assert got[("engagement_orgs_by_level", (("level", "engaging"),))] == 1
    assert got[("engagement_orgs_by_level", (("level", "co_creating"),))] == 0
    assert got[("engagement_orgs_by_level", (("level", "unknown"),))] == 8  # incl. "bogus"
    assert got[("engagement_org_level", (("org_id", "org-01"),))] == 2
    assert ("engagement_org_level", (("org_id", "org-02"),)) not in got


def test_target_gap_and_benchmark_position() -> None:
    states = {"org-a": _State(50.0, {"reach": 90.0, "visit": 40.0})}
    collector = OrgMetricsCollector(
        lambda: states,
        cap=5,
        target_gap_of=lambda org, values: {"reach": -5.0, "visit": None, "nonsense": 1.0},
        benchmark_of=lambda org, values: {"reach": "above", "visit": "below", "view": "sideways"},
    )
    got = _samples(_registry(collector))
    gap = {
        dict(labels)["component"]: v
        for (name, labels), v in got.items()
        if name == "engagement_org_target_gap_ratio"
    }
    assert gap == {"reach": -0.05}
    bench = {
        dict(labels)["component"]: v
        for (name, labels), v in got.items()
        if name == "engagement_org_benchmark_position"
    }
    assert bench == {"reach": 1.0, "visit": -1.0}


def test_states_are_read_at_scrape_time_not_at_registration() -> None:
    holder: dict[str, dict[str, _State]] = {}

    def states() -> dict[str, _State]:
        return holder["states"]  # KeyError if read before the worker has states

    registry = _registry(OrgMetricsCollector(states, cap=5, as_of=lambda: 1_700_000_000))
    holder["states"] = {"org-a": _State(20.0)}
    got = _samples(registry)
    assert got[("engagement_org_score_ratio", (("org_id", "org-a"),))] == 0.2
    assert holder["states"]["org-a"].asked == [1_700_000_000]
    holder["states"] = {}  # the worker replaced its dict after a rebalance
    got = _samples(registry)
    assert got[("engagement_org_score_bucket", (("le", "+Inf"),))] == 0


def test_works_with_real_org_states_next_to_the_scorer_metrics() -> None:
    state = OrgState("org-a", ScoringRules())
    t = 1_735_700_000
    state.apply(Activity(ActivityKind.ACCOUNT_CREATED, "org-a", "u1", t, activated_at=t))
    state.apply(Activity(ActivityKind.ACCOUNT_CREATED, "org-a", "u2", t))
    state.apply(Activity(ActivityKind.VISIT, "org-a", "u1", t + 60))
    registry = CollectorRegistry()
    ScorerMetrics(registry)
    registry.register(OrgMetricsCollector(lambda: {"org-a": state}, cap=5))
    got = _samples(registry)
    reach = got[("engagement_org_component_ratio", (("component", "reach"), ("org_id", "org-a")))]
    assert reach == pytest.approx(state.figures().components["reach"].ratio / 100)
    assert ("engagement_org_score_ratio", (("org_id", "org-a"),)) in got


def test_negative_cap_is_refused() -> None:
    with pytest.raises(ValueError, match="cap"):
        OrgMetricsCollector(dict, cap=-1)


def test_for_read_model_reads_levels_targets_and_benchmarks_like_the_score_events() -> None:
    from engagement.domain import DEFAULT_PROFILES, target_gap
    from engagement_scorer.org_metrics import for_read_model
    from engagement_scorer.org_profile import OrgProfileView
    from engagement_scorer.read_model import ReadModel

    profile = {
        "org_id": "org-a",
        "sector": "government",
        "employees": 800,
        "target_level": "engaging",
    }
    parts = {"reach": 96.04, "visit": 62.5, "view": 41.3, "interact": 30.2, "contribute": None}
    view = OrgProfileView.from_json("org-a", profile)
    group = view.group if view else None
    assert group is not None
    read_model = ReadModel(
        {"org-a": profile},
        {group.encode(): {"medians": {"reach": 90.0, "visit": 62.5, "view": 50.0}}},
        {"org-a": "informing"}.get,
        min_group_size=5,
    )
    states = {"org-a": _State(57.5, parts), "org-b": _State(10.0)}
    collector = for_read_model(read_model, lambda: states, cap=10)  # type: ignore[arg-type]
    got = _samples(_registry(collector))

    assert got[("engagement_org_level", (("org_id", "org-a"),))] == 1
    assert got[("engagement_orgs_by_level", (("level", "unknown"),))] == 1  # org-b
    published = {k: None if v is None else round(v, 1) for k, v in parts.items()}
    expected_gap = target_gap(published, "engaging", DEFAULT_PROFILES)
    for name, points in expected_gap.items():
        key = ("engagement_org_target_gap_ratio", (("component", name), ("org_id", "org-a")))
        if points is None:
            assert key not in got
        else:
            assert got[key] == pytest.approx(points / 100)
    bench = {
        dict(labels)["component"]: v
        for (name, labels), v in got.items()
        if name == "engagement_org_benchmark_position"
    }
    assert bench == {"reach": 1.0, "visit": 0.0, "view": -1.0}
    # org-b has no profile: no target gap, no benchmark position.
    assert not any(dict(labels).get("org_id") == "org-b" for name, labels in got if "gap" in name)


def _firing(alert: str, component: str | None, severity: str) -> dict[str, object]:
    return {"alert": alert, "component": component, "severity": severity, "status": "firing"}


def test_firing_alerts_are_a_gauge_per_org_under_the_cap_and_counted_for_all() -> None:
    states = {f"org-{i}": _State(50.0) for i in range(3)}
    firing = {
        "org-0": [
            _firing("component_below_threshold", "reach", "critical"),
            _firing("score_drop", None, "warning"),
        ],
        "org-2": [_firing("below_target", None, "warning")],  # beyond the cap of 2
    }
    collector = OrgMetricsCollector(
        lambda: states, cap=2, firing_of=lambda org: list(firing.get(org, []))
    )
    got = _samples(_registry(collector))
    per_org = {
        labels: v for (name, labels), v in got.items() if name == "engagement_org_alert_firing"
    }
    assert per_org == {
        (
            ("alert", "component_below_threshold"),
            ("component", "reach"),
            ("org_id", "org-0"),
            ("severity", "critical"),
        ): 1.0,
        (
            ("alert", "score_drop"),
            ("component", ""),
            ("org_id", "org-0"),
            ("severity", "warning"),
        ): 1.0,
    }
    counts = {labels: v for (name, labels), v in got.items() if name == "engagement_alerts_firing"}
    assert counts[(("alert", "below_target"), ("severity", "warning"))] == 1  # org-2 counted
    assert counts[(("alert", "score_drop"), ("severity", "warning"))] == 1
    assert counts[(("alert", "level_regression"), ("severity", "critical"))] == 0  # present, 0
    assert len(counts) == 8  # every alert x severity
    # resolved: the series goes away
    firing["org-0"] = []
    got = _samples(_registry(collector))
    assert not any(name == "engagement_org_alert_firing" for name, _ in got)


def test_org_info_names_the_organisation_for_pickers() -> None:
    from engagement_scorer.org_profile import OrgProfileView

    profiles = {
        "org-a": OrgProfileView(
            "org-a", name="Acme", sector="retail", employees=800, platform_type="intranet"
        ),
        "org-b": OrgProfileView("org-b"),  # no name: the id stands in
    }
    states = {"org-a": _State(50.0), "org-b": _State(None), "org-c": _State(None)}
    collector = OrgMetricsCollector(lambda: states, cap=10, profile_of=profiles.get)
    got = _samples(_registry(collector))
    info = {labels: v for (name, labels), v in got.items() if name == "engagement_org_info"}
    group = profiles["org-a"].group
    assert group is not None
    assert info == {
        (
            ("name", "Acme"),
            ("org_id", "org-a"),
            ("platform_type", "intranet"),
            ("sector", "retail"),
            ("size_band", group.size_band),
        ): 1.0,
        **{
            (
                ("name", org),
                ("org_id", org),
                ("platform_type", ""),
                ("sector", ""),
                ("size_band", ""),
            ): 1.0
            for org in ("org-b", "org-c")  # org-c: no profile at all
        },
    }


def test_build_info_names_the_version() -> None:
    from engagement_scorer.metrics import build_version

    registry = CollectorRegistry()
    ScorerMetrics(registry)
    got = _samples(registry)
    (labels,) = [dict(lbl) for name, lbl in got if name == "engagement_build_info"]
    assert labels["version"] == build_version() != "unknown"
    assert labels["python_version"] == platform.python_version()
