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
    alert_annotation,
    benchmark_mappings,
    label_table,
    level_change_annotation,
    level_mappings,
    number_panels,
    query,
    thresholds,
)
from .common import dashboard as new_dashboard

ORG = 'org_id="$org_id"'
#: The organisation picker: values are org ids, the text shown is the organisation's name
#: (``engagement_org_info``; Prometheus returns the labels sorted, so name before org_id).
ORG_PICKER_QUERY = "query_result(max by (org_id, name) (engagement_org_info))"
ORG_PICKER_REGEX = '/name="(?<text>[^"]*)".*org_id="(?<value>[^"]*)"/'


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
        "gap to its target level profile, its position in its benchmark group and the "
        "alerts the service has firing for it.",
        since="now-30d",
    )
    d = d.with_variable(
        dash.QueryVariable("org_id")
        .label("Organisation")
        .datasource(DATASOURCE)
        .query(ORG_PICKER_QUERY)
        .regex(ORG_PICKER_REGEX)
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
    )
    d = d.annotation(level_change_annotation(ORG)).annotation(alert_annotation(ORG))

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
            "Adoption alerts the service has firing for this organisation (the same as "
            "GET /orgs/{id}/alerts, the engagement.alerts topic and the pager).",
            f"count(org_alert:engagement_org_alert_firing:max{{{ORG}}}) or vector(0)",
        ).thresholds(thresholds((None, "green"), (1, "orange")))
    )
    d = d.with_panel(
        label_table(
            "Alerts firing",
            "The service's firing alert episodes for this organisation: which alert, which "
            "component, the service's severity. The sentence with the figures: "
            "GET /orgs/{id}/alerts or the organisation page.",
            "max by (alert, component, service_severity) "
            f"(org_alert:engagement_org_alert_firing:max{{{ORG}}})",
            {"alert": "Alert", "component": "Component", "service_severity": "Severity"},
        )
        .height(6)
        .span(24)
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
