"""Service health of the scorer workers: up, throughput, lag, dead letters, latency, recovery."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat, timeseries
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as model

from .common import (
    DATASOURCE,
    JOB,
    SERVICE_UID,
    label_table,
    number_panels,
    query,
    targets,
    thresholds,
)
from .common import dashboard as new_dashboard

INST = 'instance=~"$instance"'
RATE = "[$__rate_interval]"


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


def _series(title: str, description: str, unit: str, *exprs: tuple[str, str]) -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .targets(targets(*exprs))
        .unit(unit)
        .height(8)
        .span(12)
    )


def _p99(metric: str) -> str:
    return f"histogram_quantile(0.99, sum by (le) (rate({metric}_bucket{{{INST}}}{RATE})))"


def build() -> model.Dashboard:
    d = new_dashboard(
        SERVICE_UID,
        "Engagement: scorer service health",
        "The scorer workers: scrape health, throughput, consumer lag, dead letters, "
        "latencies (Faust's histograms are in milliseconds) and state recovery.",
        since="now-6h",  # service health moves in minutes, not days
    )
    d = d.with_variable(
        dash.QueryVariable("instance")
        .label("Worker")
        .datasource(DATASOURCE)
        .query(f'label_values(up{{job="{JOB}"}}, instance)')
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
    )

    d = d.with_row(dash.Row("Workers"))
    d = d.with_panel(
        _stat(
            "Workers up",
            "Scorer workers Prometheus scrapes successfully, of all it knows.",
            f'sum(up{{job="{JOB}"}})',
        ).thresholds(thresholds((None, "red"), (1, "green")))
    )
    d = d.with_panel(
        _stat(
            "Organisations tracked",
            "Organisations in the state of the selected workers.",
            f"sum(engagement_tracked_organisations{{{INST}}})",
        ).thresholds(thresholds((None, "blue")))
    )
    d = d.with_panel(
        _stat(
            "Accounts tracked",
            "Accounts (and deletion tombstones) in the state of the selected workers.",
            f"sum(engagement_tracked_accounts{{{INST}}})",
        ).thresholds(thresholds((None, "blue")))
    )
    d = d.with_panel(
        _stat(
            "Partition assignments in range",
            "Completed and failed partition assignments (rebalances) over the time range.",
            f"sum(increase(engagement_faust_assignment_operations_total{{{INST}}}[$__range]))",
        ).thresholds(thresholds((None, "green"), (10, "orange")))
    )

    d = d.with_panel(
        label_table(
            "Versions",
            "The version each worker runs (engagement_build_info).",
            f"max by (instance, version, python_version) (engagement_build_info{{{INST}}})",
            {"instance": "Worker", "version": "Version", "python_version": "Python"},
        )
        .height(5)
        .span(24)
    )

    d = d.with_row(dash.Row("Throughput"))
    d = d.with_panel(
        _series(
            "Events processed by type",
            "Activity and profile events accepted and applied, per second.",
            "reqps",
            (
                f"sum by (type) (rate(engagement_events_processed_total{{{INST}}}{RATE}))",
                "{{type}}",
            ),
        )
    )
    d = d.with_panel(
        _series(
            "Records received and outputs emitted",
            "Kafka records received per worker, and output events published per topic.",
            "reqps",
            (
                "sum by (instance) "
                f"(rate(engagement_faust_messages_received_total{{{INST}}}{RATE}))",
                "received {{instance}}",
            ),
            (
                f"sum by (topic) (rate(engagement_outputs_emitted_total{{{INST}}}{RATE}))",
                "emitted {{topic}}",
            ),
        )
    )

    d = d.with_row(dash.Row("Lag and bad input"))
    d = d.with_panel(
        _series(
            "Consumer lag",
            "Records not yet committed (end offset minus committed offset), per topic.",
            "short",
            (
                "sum by (topic) ("
                f"engagement_faust_topic_partition_end_offset{{{INST}}}"
                f" - engagement_faust_topic_partition_offset_commited{{{INST}}})",
                "{{topic}}",
            ),
        )
    )
    d = d.with_panel(
        _series(
            "Dead-lettered records by reason",
            "Input records sent to the dead-letter topic, per second.",
            "reqps",
            (
                f"sum by (reason) (rate(engagement_events_dead_lettered_total{{{INST}}}{RATE}))",
                "{{reason}}",
            ),
        )
    )
    d = d.with_panel(
        _series(
            "Dead-letter ratio",
            "Share of input records dead-lettered over 5 minutes (alert above 5 %).",
            "percentunit",
            ("job:engagement_events_dead_lettered:ratio_rate5m", "{{job}}"),
        )
    )
    d = d.with_panel(
        _series(
            "Late, after-deletion and rejected-profile records",
            "Events too old for every window, events of deleted accounts, and refused org "
            "profiles, per second.",
            "reqps",
            (f"sum(rate(engagement_late_events_total{{{INST}}}{RATE}))", "late"),
            (
                f"sum(rate(engagement_events_after_deletion_total{{{INST}}}{RATE}))",
                "after deletion",
            ),
            (
                f"sum by (reason) (rate(engagement_org_profiles_rejected_total{{{INST}}}{RATE}))",
                "profile rejected: {{reason}}",
            ),
        )
    )

    d = d.with_row(dash.Row("Latency, recovery and state"))
    d = d.with_panel(
        _series(
            "p99 latencies",
            "A data-plane batch applied (outputs and changelog acknowledged), per plane; "
            "consumer commit and producer send; 99th percentile.",
            "ms",
            (
                "1000 * histogram_quantile(0.99, sum by (le, plane) "
                f"(rate(engagement_batch_duration_seconds_bucket{{{INST}}}{RATE})))",
                "batch: {{plane}}",
            ),
            (_p99("engagement_faust_consumer_commit_latency"), "commit"),
            (_p99("engagement_faust_producer_send_latency"), "produce"),
        )
    )
    d = d.with_panel(
        _series(
            "State recovery",
            "Seconds the last rebuild of the in-memory state from the tables took, per worker.",
            "s",
            (f"max by (instance) (engagement_state_recovery_seconds{{{INST}}})", "{{instance}}"),
        )
    )
    d = d.with_panel(
        _series(
            "State held",
            "Accounts, channel messages and reads in the state of the selected workers. "
            "Messages and reads leave it with the window: with a steady population they level "
            "off instead of growing with time.",
            "short",
            (f"sum(engagement_tracked_accounts{{{INST}}})", "accounts"),
            (f"sum(engagement_tracked_messages{{{INST}}})", "messages"),
            (f"sum(engagement_tracked_reads{{{INST}}})", "reads"),
        )
    )
    d = d.with_panel(
        _series(
            "Resident memory",
            "Resident set size of each worker process.",
            "bytes",
            (f"max by (instance) (process_resident_memory_bytes{{{INST}}})", "{{instance}}"),
        )
    )
    return number_panels(d.build())
