"""Overview: how adoption is doing across all organisations."""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge, stat, table, timeseries
from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from .common import (
    DATASOURCE,
    ORG_UID,
    OVERVIEW_UID,
    alert_annotation,
    label_table,
    level_change_annotation,
    number_panels,
    org_names,
    query,
    targets,
    thresholds,
    value_map,
)
from .common import dashboard as new_dashboard


def _stat(title: str, description: str, expr: str) -> stat.Panel:
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(query(expr, instant=True))
        .height(4)
        .span(6)
        .graph_mode(cm.BigValueGraphMode.NONE)
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]))
    )


def build() -> model.Dashboard:
    d = new_dashboard(
        OVERVIEW_UID,
        "Engagement: overview",
        "Adoption across all organisations: operating levels, score distribution, the "
        "organisations whose score moved most, and the alerts that are firing.",
        since="now-7d",
    )
    d = d.annotation(level_change_annotation()).annotation(alert_annotation())
    d = d.with_row(dash.Row("Now"))
    d = d.with_panel(
        _stat(
            "Organisations",
            "Organisations held by all scorer workers.",
            "sum(engagement_orgs_by_level)",
        ).thresholds(thresholds((None, "blue")))
    )
    d = d.with_panel(
        _stat(
            "Median Engagement Score",
            "Median over all organisations (from the score histogram, so over all of them "
            "even when per-organisation series are capped).",
            "job:engagement_org_score:median",
        )
        .unit("percentunit")
        .decimals(1)
        .thresholds(thresholds((None, "red"), (0.3, "orange"), (0.5, "yellow"), (0.7, "green")))
    )
    d = d.with_panel(
        _stat(
            "Adoption alerts firing",
            "Alert episodes the service has firing, all organisations (also those beyond the "
            "per-organisation series cap).",
            "sum(engagement_alerts_firing) or vector(0)",
        ).thresholds(thresholds((None, "green"), (1, "orange")))
    )
    d = d.with_panel(
        _stat(
            "Per-organisation series capped",
            "Yes when a worker holds more organisations than its per-organisation series "
            "cap: the per-organisation panels then miss some organisations; the aggregates "
            "here still count all of them.",
            "max(engagement_org_series_capped)",
        )
        .mappings(value_map([(0, "no", "green"), (1, "yes", "orange")]))
        .thresholds(thresholds((None, "green"), (1, "orange")))
    )

    d = d.with_row(dash.Row("Distribution"))
    d = d.with_panel(
        bargauge.Panel()
        .title("Organisations by operating level")
        .description(
            "How many organisations operate at each ambition level (unknown: none established yet)."
        )
        .datasource(DATASOURCE)
        .with_target(query("sum by (level) (engagement_orgs_by_level)", "{{level}}", instant=True))
        .display_mode(cm.BarGaugeDisplayMode.BASIC)
        .orientation(cm.VizOrientation.HORIZONTAL)
        .min(0)
        .thresholds(thresholds((None, "blue")))
        .height(8)
        .span(8)
    )
    d = d.with_panel(
        bargauge.Panel()
        .title("Engagement Score distribution")
        .description("Organisations per score band (upper bound of each band).")
        .datasource(DATASOURCE)
        .with_target(
            query(
                "sum by (le) (engagement_org_score_bucket)",
                "{{le}}",
                instant=True,
                fmt=PromQueryFormat.HEATMAP,
            )
        )
        .display_mode(cm.BarGaugeDisplayMode.BASIC)
        .orientation(cm.VizOrientation.VERTICAL)
        .min(0)
        .thresholds(thresholds((None, "blue")))
        .height(8)
        .span(8)
    )
    d = d.with_panel(
        timeseries.Panel()
        .title("Engagement Score percentiles")
        .description("10th, 50th and 90th percentile of the scores of all organisations.")
        .datasource(DATASOURCE)
        .targets(
            targets(
                ("histogram_quantile(0.9, sum by (le) (engagement_org_score_bucket))", "p90"),
                ("histogram_quantile(0.5, sum by (le) (engagement_org_score_bucket))", "median"),
                ("histogram_quantile(0.1, sum by (le) (engagement_org_score_bucket))", "p10"),
            )
        )
        .unit("percentunit")
        .min(0)
        .max(1)
        .height(8)
        .span(8)
    )
    d = d.with_panel(
        timeseries.Panel()
        .title("Components, average over organisations")
        .description(
            "Mean of each adoption component over the organisations with per-organisation series."
        )
        .datasource(DATASOURCE)
        .with_target(query("avg by (component) (engagement_org_component_ratio)", "{{component}}"))
        .unit("percentunit")
        .min(0)
        .max(1)
        .height(8)
        .span(24)
    )

    d = d.with_row(dash.Row("Movers and alerts"))
    d = d.with_panel(
        table.Panel()
        .title("Worst movers (score change over 7 days)")
        .description(
            "The 10 organisations whose hourly-average score fell most over the "
            "last 7 days (or since their series began). Click an organisation to "
            "open its drill-down."
        )
        .datasource(DATASOURCE)
        .with_target(
            query(
                org_names("bottomk(10, delta(org:engagement_org_score_ratio:avg1h[7d]))"),
                "{{name}}",
                instant=True,
                fmt=PromQueryFormat.TABLE,
            )
        )
        .unit("percentunit")
        .decimals(1)
        .thresholds(thresholds((None, "red"), (-0.05, "orange"), (0, "green")))
        .with_transformation(
            model.DataTransformerConfig(
                id_val="organize",
                options={
                    "excludeByName": {"Time": True, "job": True},
                    "renameByName": {
                        "name": "Organisation",
                        "org_id": "Id",
                        "Value": "Change",
                    },
                },
            )
        )
        .override_by_name(
            "Organisation",
            [
                model.DynamicConfigValue(
                    id_val="links",
                    value=[
                        {
                            "title": "Drill down",
                            "url": f"/d/{ORG_UID}?var-org_id=${{__data.fields.Id}}"
                            "&${datasource:queryparam}&${__url_time_range}",
                        }
                    ],
                )
            ],
        )
        .sort_by([cb.TableSortByFieldState().display_name("Change").desc(False)])
        .height(10)
        .span(12)
    )
    d = d.with_panel(
        label_table(
            "Adoption alerts firing",
            "The service's firing alert episodes per organisation (what the pager gets, "
            "unless a service-health alert mutes them in Alertmanager).",
            org_names(
                "max by (org_id, alert, component, service_severity) "
                "(org_alert:engagement_org_alert_firing:max)"
            ),
            {
                "name": "Organisation",
                "org_id": "Id",
                "alert": "Alert",
                "component": "Component",
                "service_severity": "Severity",
            },
        )
        .height(10)
        .span(12)
    )
    d = d.with_panel(
        label_table(
            "Service alerts (firing and pending)",
            "Service-health alerts Prometheus is evaluating right now; pending ones have not "
            "lasted their `for` duration yet. While the scorer is down, lagging or "
            "dead-lettering, Alertmanager mutes the adoption alerts.",
            'sort_desc(ALERTS{alertname=~"Engagement.*", category="service"})',
            {"alertname": "Alert", "alertstate": "State"},
            hidden=("Time", "Value", "__name__"),
        )
        .height(10)
        .span(24)
    )
    return number_panels(d.build())
