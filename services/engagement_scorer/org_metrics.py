"""Per-organisation adoption series for Prometheus, computed at scrape time.

``OrgMetricsCollector`` reads the worker's in-memory organisation states when Prometheus
scrapes ``/metrics`` (nothing is updated on the hot path) and yields:

- ``engagement_org_component_ratio{org_id,component}``: rolling-window component, 0-1
  (absent while the component has no value: no denominator is not 0)
- ``engagement_org_score_ratio{org_id}``: Engagement Score, 0-1
- ``engagement_org_level{org_id}``: operating level index 0-3 (initiation .. co_creating),
  only when a level is known
- ``engagement_org_target_gap_ratio{org_id,component}``: organisation minus its target level
  profile, -1..1 (from ``target_gap_of``, in points as published, divided by 100)
- ``engagement_org_benchmark_position{org_id,component}``: -1 below, 0 at, 1 above the
  median of the organisation's benchmark group (from ``benchmark_of``)
- ``engagement_org_alert_firing{org_id,alert,component,severity}``: 1 per alert episode the
  service has firing for the organisation (from ``firing_of``, the same list as
  ``GET /orgs/{id}/alerts`` and the ``engagement.alerts`` topic's open episodes; ``component``
  is empty for the alerts without one). Resolved episodes have no series. The Prometheus
  adoption rules (``deploy/prometheus/rules/adoption.yml``) are derived from it, so the pager,
  Grafana, the API and the topic show the same alerts.
- ``engagement_org_info{org_id,name,sector,size_band,platform_type}``: 1, the profile's
  descriptive labels (for dashboard pickers and tables; from ``profile_of``); name is the
  org id and the others empty while the organisation has no profile
- ``engagement_org_series_capped``: 1 when the worker holds more organisations than ``cap``
  and per-organisation series were left out for some of them
- ``engagement_alerts_firing{alert,severity}``: firing alert episodes of *all* organisations
  on this worker, whatever the cap (every alert, severity pair present, 0 when none)
- ``engagement_org_score``: gauge histogram (buckets 0.1 .. 1.0) of the scores of *all*
  organisations on this worker, whatever the cap
- ``engagement_orgs_by_level{level}``: organisations per operating level (``unknown`` when
  none is established yet), all organisations

Per-organisation labels are bounded by ``cap`` (Prometheus practice: no unbounded tenant ids);
the aggregates always cover every organisation. Which organisations keep their series is
stable: the first ``cap`` org ids in sorted order.

Wiring (in ``create_app``): ``registry.register(for_read_model(read_model, states))``
(:func:`for_read_model` takes levels, target gaps and benchmark positions from the worker's
``read_model.ReadModel``, the one that enriches the score events, so they cannot disagree).

``registry_of_states`` is a callable (not the dict) because the worker replaces its dict of
states after every rebalance. The callbacks get the component values as published
(percentages rounded to one decimal, None without a denominator). They run at scrape time on
the event loop, so they must only read (tables, dicts), never await or write.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from prometheus_client.core import GaugeHistogramMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from engagement.domain import ALERTS, COMPONENTS
from engagement.domain import LEVELS as DOMAIN_LEVELS

from .org_profile import OrgProfileView
from .read_model import ReadModel

if TYPE_CHECKING:
    from engagement.domain import OrgState

__all__ = [
    "ALERT_SEVERITIES",
    "BENCHMARK_POSITIONS",
    "DEFAULT_CAP",
    "LEVELS",
    "SCORE_BUCKETS",
    "OrgMetricsCollector",
    "for_read_model",
]

#: Per-organisation series per worker at most (Prometheus cardinality); aggregates cover all.
DEFAULT_CAP = 200

#: Operating levels in ascending order; the index is the exported ``engagement_org_level``.
LEVELS: tuple[str, ...] = DOMAIN_LEVELS
UNKNOWN_LEVEL = "unknown"
#: Upper bounds of the score histogram (ratios); +Inf is added.
SCORE_BUCKETS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
BENCHMARK_POSITIONS: Mapping[str, int] = {"below": -1, "at": 0, "above": 1}
#: Severities of the service's alert episodes (``engagement.alert.v1``).
ALERT_SEVERITIES: tuple[str, ...] = ("warning", "critical")


class _ComponentLike(Protocol):
    @property
    def ratio(self) -> float | None: ...


class _FiguresLike(Protocol):
    @property
    def components(self) -> Mapping[str, _ComponentLike]: ...

    @property
    def score(self) -> float | None: ...


class _StateLike(Protocol):
    def figures(self, as_of: int | None = None) -> _FiguresLike: ...


StatesFn = Callable[[], Mapping[str, _StateLike]]
LevelFn = Callable[[str], str | None]
Values = Mapping[str, float | None]
TargetGapFn = Callable[[str, Values], Mapping[str, float | None] | None]
BenchmarkFn = Callable[[str, Values], Mapping[str, str] | None]
ClockFn = Callable[[], int | None]
#: org_id -> the organisation's firing alerts, as ``engagement.alert.v1`` payloads (JSON).
FiringFn = Callable[[str], list[dict[str, Any]]]
ProfileFn = Callable[[str], OrgProfileView | None]


class OrgMetricsCollector(Collector):
    """A custom collector: every scrape reads the current states, nothing is cached."""

    def __init__(
        self,
        registry_of_states: StatesFn,
        cap: int = DEFAULT_CAP,
        *,
        level_of: LevelFn | None = None,
        target_gap_of: TargetGapFn | None = None,
        benchmark_of: BenchmarkFn | None = None,
        as_of: ClockFn | None = None,
        firing_of: FiringFn | None = None,
        profile_of: ProfileFn | None = None,
    ) -> None:
        """
        ``level_of(org_id)``: operating level name (see ``LEVELS``) or None.
        ``target_gap_of(org_id, values)``: per component, organisation minus target in
        points (as in ``engagement.score.updated.v1``), or None (no target level).
        ``benchmark_of(org_id, values)``: per component ``below``/``at``/``above``, or None
        (no published benchmark for the organisation's group).
        ``values``: component percentages as published (one decimal, None without value).
        ``as_of()``: epoch seconds passed to ``state.figures`` (default None: each state's
        own as_of, i.e. event time, which is what the worker publishes too).
        ``firing_of(org_id)``: the organisation's firing alerts (``Alert`` payloads as JSON:
        ``alert``, ``component``, ``severity``...), what ``GET /orgs/{id}/alerts`` answers.
        ``profile_of(org_id)``: the organisation's profile, for ``engagement_org_info``.
        """
        if cap < 0:
            raise ValueError("cap must not be negative")
        self._states = registry_of_states
        self._cap = cap
        self._level_of = level_of
        self._target_gap_of = target_gap_of
        self._benchmark_of = benchmark_of
        self._as_of = as_of
        self._firing_of = firing_of
        self._profile_of = profile_of

    def describe(self) -> Iterator[Metric]:
        """Names only, so registering does not read the states (they may not exist yet)."""
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        fam = self._families()
        component, score, level, gap, bench, capped, histogram, by_level = fam[:8]
        states = dict(self._states())
        labelled = set(sorted(states)[: self._cap])
        as_of = self._as_of() if self._as_of is not None else None
        counts = [0] * len(SCORE_BUCKETS)
        total = 0
        score_sum = 0.0
        levels: dict[str, int] = dict.fromkeys((*LEVELS, UNKNOWN_LEVEL), 0)
        firing_counts = {(a, sev): 0 for a in ALERTS for sev in ALERT_SEVERITIES}

        for org_id in sorted(states):
            figures = states[org_id].figures(as_of)
            org_level = self._level_of(org_id) if self._level_of is not None else None
            if org_level not in LEVELS:
                org_level = None
            levels[org_level or UNKNOWN_LEVEL] += 1
            ratio = None if figures.score is None else _ratio(figures.score)
            if ratio is not None:
                total += 1
                score_sum += ratio
                for i, bound in enumerate(SCORE_BUCKETS):
                    if ratio <= bound:
                        counts[i] += 1
            firing = self._firing_of(org_id) if self._firing_of is not None else []
            for alert in firing:
                pair = (str(alert.get("alert")), str(alert.get("severity")))
                firing_counts[pair] = firing_counts.get(pair, 0) + 1
            if org_id not in labelled:
                continue
            self._add_firing(fam.alert_firing, org_id, firing)
            self._add_info(fam.info, org_id)
            if ratio is not None:
                score.add_metric([org_id], ratio)
            if org_level is not None:
                level.add_metric([org_id], float(LEVELS.index(org_level)))
            values: dict[str, float | None] = {}
            for name in COMPONENTS:
                part = figures.components.get(name)
                value = None if part is None else part.ratio
                values[name] = None if value is None else round(value, 1)
                if value is not None:
                    component.add_metric([org_id, name], _ratio(value))
            self._add_gaps(gap, org_id, values)
            self._add_benchmark(bench, org_id, values)

        capped.add_metric([], 1.0 if len(states) > len(labelled) else 0.0)
        buckets = [(_le(b), float(c)) for b, c in zip(SCORE_BUCKETS, counts, strict=True)]
        histogram.add_metric([], [*buckets, ("+Inf", float(total))], score_sum)
        for name, n in levels.items():
            by_level.add_metric([name], float(n))
        for (alert_name, severity), n in firing_counts.items():
            fam.alerts_firing.add_metric([alert_name, severity], float(n))
        yield from fam

    @staticmethod
    def _add_firing(family: GaugeMetricFamily, org_id: str, firing: list[dict[str, Any]]) -> None:
        seen: set[tuple[str, str, str]] = set()
        for alert in firing:
            labels = (
                str(alert.get("alert")),
                str(alert.get("component") or ""),
                str(alert.get("severity")),
            )
            if labels not in seen:  # one series per (alert, component, severity)
                seen.add(labels)
                family.add_metric([org_id, *labels], 1.0)

    def _add_info(self, family: GaugeMetricFamily, org_id: str) -> None:
        if self._profile_of is None:
            return
        # without a profile (yet) the organisation is still listed, under its id
        profile = self._profile_of(org_id) or OrgProfileView(org_id)
        group = profile.group
        family.add_metric(
            [
                org_id,
                profile.name or org_id,
                profile.sector or "",
                group.size_band if group else "",
                profile.platform_type or "",
            ],
            1.0,
        )

    def _add_gaps(self, family: GaugeMetricFamily, org_id: str, values: Values) -> None:
        gaps = self._target_gap_of(org_id, values) if self._target_gap_of else None
        for name, points in (gaps or {}).items():
            if points is not None and name in COMPONENTS:
                family.add_metric([org_id, name], _ratio(points))

    def _add_benchmark(self, family: GaugeMetricFamily, org_id: str, values: Values) -> None:
        sides = self._benchmark_of(org_id, values) if self._benchmark_of else None
        for name, side in (sides or {}).items():
            if side in BENCHMARK_POSITIONS and name in COMPONENTS:
                family.add_metric([org_id, name], float(BENCHMARK_POSITIONS[side]))

    @staticmethod
    def _families() -> _Families:
        return _Families(
            component=GaugeMetricFamily(
                "engagement_org_component_ratio",
                "Adoption component of an organisation over the rolling window (0-1).",
                labels=["org_id", "component"],
            ),
            score=GaugeMetricFamily(
                "engagement_org_score_ratio",
                "Engagement Score of an organisation over the rolling window (0-1).",
                labels=["org_id"],
            ),
            level=GaugeMetricFamily(
                "engagement_org_level",
                "Operating level of an organisation: 0 initiation, 1 informing, 2 engaging, "
                "3 co_creating (absent while unknown).",
                labels=["org_id"],
            ),
            gap=GaugeMetricFamily(
                "engagement_org_target_gap_ratio",
                "Component minus the organisation's target level profile (-1..1).",
                labels=["org_id", "component"],
            ),
            bench=GaugeMetricFamily(
                "engagement_org_benchmark_position",
                "Component against the benchmark group median: -1 below, 0 at, 1 above.",
                labels=["org_id", "component"],
            ),
            capped=GaugeMetricFamily(
                "engagement_org_series_capped",
                "1 when per-organisation series were left out (more organisations than the cap).",
            ),
            histogram=GaugeHistogramMetricFamily(
                "engagement_org_score",
                "Engagement Scores (0-1) of all organisations on this worker, at scrape time.",
            ),
            by_level=GaugeMetricFamily(
                "engagement_orgs_by_level",
                "Organisations on this worker per operating level (unknown: none yet).",
                labels=["level"],
            ),
            alert_firing=GaugeMetricFamily(
                "engagement_org_alert_firing",
                "1 per alert the service has firing for an organisation (engagement.alerts; "
                "component empty when the alert has none).",
                labels=["org_id", "alert", "component", "severity"],
            ),
            info=GaugeMetricFamily(
                "engagement_org_info",
                "1, with an organisation's profile as labels (name, sector, size band, "
                "platform type).",
                labels=["org_id", "name", "sector", "size_band", "platform_type"],
            ),
            alerts_firing=GaugeMetricFamily(
                "engagement_alerts_firing",
                "Alert episodes firing on this worker, all organisations (whatever the cap).",
                labels=["alert", "severity"],
            ),
        )


class _Families(NamedTuple):
    component: GaugeMetricFamily
    score: GaugeMetricFamily
    level: GaugeMetricFamily
    gap: GaugeMetricFamily
    bench: GaugeMetricFamily
    capped: GaugeMetricFamily
    histogram: GaugeHistogramMetricFamily
    by_level: GaugeMetricFamily
    alert_firing: GaugeMetricFamily
    info: GaugeMetricFamily
    alerts_firing: GaugeMetricFamily


def _ratio(percent: float) -> float:
    """Percentage (0-100) to a ratio, without binary noise like 0.41100000000000003."""
    return round(percent / 100.0, 9)


def _le(bound: float) -> str:
    return repr(float(bound))


def for_read_model(
    read_model: ReadModel,
    states: Callable[[], Mapping[str, OrgState]],
    cap: int = DEFAULT_CAP,
    *,
    firing_of: FiringFn | None = None,
) -> OrgMetricsCollector:
    """The collector of a worker: its states (``states()``: the current dict, replaced after
    every rebalance), levels, target gaps, benchmark positions and profiles from its read
    model; ``firing_of``: the second stage's firing alerts (``Assessments.firing``, what the
    API answers)."""
    return OrgMetricsCollector(
        states,
        cap=cap,
        level_of=read_model.level_of,
        target_gap_of=read_model.target_gap,
        benchmark_of=read_model.position,
        firing_of=firing_of,
        profile_of=read_model.profile,
    )
