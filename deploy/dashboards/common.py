"""Shared pieces of the dashboards: the datasource, query and panel helpers, value mappings."""

from __future__ import annotations

from collections.abc import Iterable

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

#: The provisioned Prometheus datasource (deploy/grafana/provisioning/datasources).
DATASOURCE_UID = "engagement-prometheus"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
#: Prometheus job of the scorer workers (deploy/prometheus/prometheus.yml, alert rules).
JOB = "engagement-scorer"
TAGS = ["engagement"]

OVERVIEW_UID = "engagement-overview"
ORG_UID = "engagement-org"
SERVICE_UID = "engagement-service"

LEVEL_NAMES = ("Initiation", "Informing", "Engaging", "Co-creating")
LEVEL_COLORS = ("red", "orange", "yellow", "green")


def query(
    expr: str,
    legend: str = "__auto",
    *,
    instant: bool = False,
    fmt: PromQueryFormat | None = None,
    ref: str = "A",
) -> prom.Dataquery:
    """A Prometheus target on the provisioned datasource."""
    q = prom.Dataquery().expr(expr).legend_format(legend).ref_id(ref).datasource(DATASOURCE)
    q = q.instant() if instant else q.range()
    if fmt is not None:
        q = q.format(fmt)
    return q


def targets(*exprs: tuple[str, str]) -> list[Builder[Dataquery]]:
    """Several range queries, (expr, legend) each, with refs A, B, C..."""
    return [query(e, legend, ref=chr(ord("A") + i)) for i, (e, legend) in enumerate(exprs)]


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=v, color=c) for v, c in steps])
    )


def value_map(pairs: Iterable[tuple[int, str, str]]) -> list[model.ValueMapping]:
    """Numbers shown as text (value, text, color)."""
    options = {
        str(v): model.ValueMappingResult(text=text, color=color, index=i)
        for i, (v, text, color) in enumerate(pairs)
    }
    return [model.ValueMap(options=options)]


def level_mappings() -> list[model.ValueMapping]:
    return value_map(
        (i, name, color)
        for i, (name, color) in enumerate(zip(LEVEL_NAMES, LEVEL_COLORS, strict=True))
    )


def benchmark_mappings() -> list[model.ValueMapping]:
    return value_map([(-1, "below", "red"), (0, "at", "yellow"), (1, "above", "green")])


def dashboard(uid: str, title: str, description: str) -> dash.Dashboard:
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .editable()
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .link(
            dash.DashboardLink("Engagement dashboards")
            .type(model.DashboardLinkType.DASHBOARDS)
            .tags(TAGS)
            .as_dropdown(True)
            .include_vars(False)
            .keep_time(True)
        )
    )


def number_panels(built: model.Dashboard) -> model.Dashboard:
    """Stable panel ids 1..n in layout order (rows included)."""
    next_id = 1
    for panel in built.panels or []:
        panel.id_val = next_id
        next_id += 1
        for inner in getattr(panel, "panels", None) or []:
            inner.id_val = next_id
            next_id += 1
    return built
