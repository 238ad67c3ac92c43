"""Shared pieces of the dashboards: the datasource, query and panel helpers, value mappings."""

from __future__ import annotations

from collections.abc import Iterable

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import prometheus as prom
from grafana_foundation_sdk.builders import table
from grafana_foundation_sdk.cog.builder import Builder
from grafana_foundation_sdk.cog.variants import Dataquery
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

#: The provisioned Prometheus datasource (deploy/grafana/provisioning/datasources): the
#: default of the ``datasource`` variable in compose.
DATASOURCE_UID = "engagement-prometheus"
#: Every panel, query and variable uses the dashboard's ``datasource`` variable (any Prometheus
#: datasource of the Grafana it is imported into), never a fixed uid.
DATASOURCE_VAR = "datasource"
DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${" + DATASOURCE_VAR + "}")
#: The import input (``__inputs``): Grafana's import dialog asks for a Prometheus datasource
#: and puts it into the variable's default.
DATASOURCE_INPUT = "DS_PROMETHEUS"
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


def label_table(
    title: str,
    description: str,
    expr: str,
    columns: dict[str, str],
    hidden: Iterable[str] = ("Time", "Value"),
) -> table.Panel:
    """A table of the series an instant query returns now, one row each: their labels as
    columns (``columns``: label -> column title), the sample's time and value hidden."""
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(query(expr, instant=True, fmt=PromQueryFormat.TABLE))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": dict.fromkeys(hidden, True),
                    "renameByName": dict(columns),
                },
            )
        )
    )


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


def datasource_variable() -> dash.DatasourceVariable:
    """The dashboard's Prometheus datasource, chosen by the viewer (first in every dashboard,
    the other variables query through it)."""
    return (
        dash.DatasourceVariable(DATASOURCE_VAR)
        .label("Prometheus")
        .type("prometheus")
        .current(
            model.VariableOption(
                selected=True,
                text="${" + DATASOURCE_INPUT + "}",
                value="${" + DATASOURCE_INPUT + "}",
            )
        )
    )


def dashboard(uid: str, title: str, description: str, *, since: str = "now-7d") -> dash.Dashboard:
    """A dashboard with the datasource variable; ``since``: the default time range's start
    (adoption moves over days: 7 or 30 days)."""
    return (
        dash.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(TAGS)
        .editable()
        .refresh("1m")
        .time(since, "now")
        .with_variable(datasource_variable())
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


def org_names(expr: str) -> str:
    """``expr`` (with an ``org_id`` label) with the organisation's ``name`` added from
    ``engagement_org_info`` (the value is unchanged: info is 1)."""
    return f"{expr} * on (org_id) group_left (name) max by (org_id, name) (engagement_org_info)"


def annotation(name: str, expr: str, color: str) -> dash.AnnotationQuery:
    """A Prometheus annotation: a mark wherever ``expr`` has a value."""
    return (
        dash.AnnotationQuery()
        .name(name)
        .datasource(DATASOURCE)
        .expr(expr)
        .enable(True)
        .icon_color(color)
    )


def level_change_annotation(selector: str = "") -> dash.AnnotationQuery:
    """Level changes (``engagement.level-changes``): the announced level moved."""
    return annotation(
        "Level changes",
        f"changes(org:engagement_org_level:max{{{selector}}}[5m]) > 0",
        "purple",
    )


def alert_annotation(selector: str = "") -> dash.AnnotationQuery:
    """Adoption alerts firing (the service's episodes, as the pager gets them)."""
    sep = ", " if selector else ""
    return annotation(
        "Adoption alerts",
        f'ALERTS{{alertstate="firing", category="adoption"{sep}{selector}}}',
        "red",
    )
