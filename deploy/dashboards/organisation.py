"""Organisation drill-down: one organisation's components, level, target gap and benchmark."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, stat, statetimeline, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as model

from .common import (
    DATASOURCE,
    ORG_UID,
    benchmark_mappings,
    level_mappings,
    number_panels,
    query,
    thresholds,
)
from .common import dashboard as new_dashboard

ORG = 'org_id="$org_id"'


def _stat(title: str, description: str, expr: str, legend: str = "__auto") -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(query(expr, legend, instant=True))
        .height(4)
        .span(6)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]))
    )


def build() -> model.Dashboard:
    d = new_dashboard(
        ORG_UID,
        "Engagement: organisation",
        "One organisation: the five adoption components over time, its operating level, the "
        "gap to its target level profile and its position in its benchmark group.",
    )
    d = d.with_variable(
        dash.QueryVariable("org_id")
        .label("Organisation")
        .datasource(DATASOURCE)
        .query("label_values(engagement_org_score_ratio, org_id)")
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )

    d = d.with_row(dash.Row("Now"))
    d = d.with_panel(
        _stat(
            "Engagement Score",
            "Weighted mean of the components over the rolling window.",
            f"max(engagement_org_score_ratio{{{ORG}}})",
        )
        .unit("percentunit")
        .decimals(1)
        .thresholds(thresholds((None, "red"), (0.3, "orange"), (0.5, "yellow"), (0.7, "green")))
    )
    d = d.with_panel(
        _stat(
            "Operating level",
            "The ambition level the organisation operates at now.",
            f"max(engagement_org_level{{{ORG}}})",
        ).mappings(level_mappings())
    )
    d = d.with_panel(
        _stat(
            "Score change (7 days)",
            "Change of the hourly-average score over the last 7 days (or since the series began).",
            f"delta(org:engagement_org_score_ratio:avg1h{{{ORG}}}[7d])",
        )
        .unit("percentunit")
        .decimals(1)
        .thresholds(thresholds((None, "red"), (-0.05, "orange"), (0, "green")))
    )
    d = d.with_panel(
        _stat(
            "Firing alerts",
            "Adoption alerts firing for this organisation.",
            f'count(ALERTS{{alertstate="firing", {ORG}}}) or vector(0)',
        ).thresholds(thresholds((None, "green"), (1, "orange")))
    )

    d = d.with_row(dash.Row("Over time"))
    d = d.with_panel(
        timeseries.Panel()
        .title("Components")
        .description("Reach, Visit, View, Interact and Contribute over the rolling window.")
        .datasource(DATASOURCE)
        .with_target(
            query(f"max by (component) (engagement_org_component_ratio{{{ORG}}})", "{{component}}")
        )
        .unit("percentunit")
        .min(0)
        .max(1)
        .height(9)
        .span(16)
    )
    d = d.with_panel(
        timeseries.Panel()
        .title("Engagement Score")
        .datasource(DATASOURCE)
        .with_target(query(f"max(engagement_org_score_ratio{{{ORG}}})", "score"))
        .unit("percentunit")
        .min(0)
        .max(1)
        .height(9)
        .span(8)
    )
    d = d.with_panel(
        statetimeline.Panel()
        .title("Operating level")
        .datasource(DATASOURCE)
        .with_target(query(f"max(engagement_org_level{{{ORG}}})", "level"))
        .mappings(level_mappings())
        .height(5)
        .span(24)
    )

    d = d.with_row(dash.Row("Target and benchmark"))
    d = d.with_panel(
        bargauge.Panel()
        .title("Gap to target level profile")
        .description("Component minus the target level's profile: negative is short of the target.")
        .datasource(DATASOURCE)
        .with_target(
            query(
                f"max by (component) (engagement_org_target_gap_ratio{{{ORG}}})",
                "{{component}}",
                instant=True,
            )
        )
        .unit("percentunit")
        .min(-1)
        .max(1)
        .display_mode(cm.BarGaugeDisplayMode.BASIC)
        .orientation(cm.VizOrientation.HORIZONTAL)
        .thresholds(thresholds((None, "red"), (-0.05, "yellow"), (0, "green")))
        .height(8)
        .span(8)
    )
    d = d.with_panel(
        stat.Panel()
        .title("Benchmark position")
        .description(
            "Each component against the organisation's benchmark group (sector, size, platform)."
        )
        .datasource(DATASOURCE)
        .with_target(
            query(
                f"max by (component) (engagement_org_benchmark_position{{{ORG}}})",
                "{{component}}",
                instant=True,
            )
        )
        .mappings(benchmark_mappings())
        .graph_mode(cm.BigValueGraphMode.NONE)
        .color_mode(cm.BigValueColorMode.BACKGROUND)
        .text_mode(cm.BigValueTextMode.VALUE_AND_NAME)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]))
        .height(8)
        .span(8)
    )
    d = d.with_panel(
        timeseries.Panel()
        .title("Gap to target over time")
        .datasource(DATASOURCE)
        .with_target(
            query(
                f"max by (component) (engagement_org_target_gap_ratio{{{ORG}}})",
                "{{component}}",
            )
        )
        .unit("percentunit")
        .height(8)
        .span(8)
    )
    return number_panels(d.build())
