"""The generated dashboards: up to date, valid PromQL, only metrics that exist, one datasource."""

from __future__ import annotations

import json
from pathlib import Path

import promql_parser
import pytest
import yaml
from faust.sensors.prometheus import FaustMetrics
from prometheus_client import CollectorRegistry, ProcessCollector

from deploy.dashboards import BUILDERS, OUT_DIR, render_all
from deploy.dashboards import promql as q
from deploy.dashboards.__main__ import main as generator_main
from deploy.dashboards.common import DATASOURCE_INPUT, DATASOURCE_UID, DATASOURCE_VAR, JOB
from engagement_scorer.dataplane import DataPlaneMetrics
from engagement_scorer.metrics import ScorerMetrics
from engagement_scorer.org_metrics import OrgMetricsCollector

REPO = Path(__file__).resolve().parents[3]
GRAFANA = REPO / "deploy" / "grafana"
SUBSTITUTIONS = {"org_id": "org-1", "instance": ".*"}

DASHBOARDS = {p.name: q.load_dashboard(p) for p in q.dashboard_files()}


def _substituted(expr: str) -> str:
    return q.substitute(expr, SUBSTITUTIONS, interval="15s", rate_interval="1m", range_="6h")


def _exported_names() -> set[str]:
    """Series names the worker can expose: ours (the stages', the data planes'), Faust's
    sensor and the org collector."""
    registry = CollectorRegistry()
    ScorerMetrics(registry)
    DataPlaneMetrics(registry)
    FaustMetrics.create(registry, "engagement_faust")
    registry.register(OrgMetricsCollector(dict, cap=1))
    ProcessCollector(registry=registry)  # the worker serves the default registry, which has it
    suffixes = {
        "counter": ["_total"],
        "histogram": ["_bucket", "_count", "_sum"],
        "gaugehistogram": ["_bucket", "_gcount", "_gsum"],
        "gauge": [""],
    }
    names = set()
    for family in registry.collect():
        for suffix in suffixes.get(family.type, [""]):
            names.add(family.name + suffix)
    for collector in list(registry._collector_to_names):  # describe() of labelled metrics
        for family in getattr(collector, "describe", lambda: [])():
            for suffix in suffixes.get(family.type, [""]):
                names.add(family.name + suffix)
    return names


def _metric_names(expr: str) -> set[str]:
    found: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            found.add(str(node.name))

    promql_parser.walk(promql_parser.parse(expr), pre_visit=visit)
    return found


def test_committed_json_is_what_the_code_generates() -> None:
    assert generator_main(["--check"]) == 0, "run: .venv/bin/python -m deploy.dashboards"
    assert set(DASHBOARDS) == set(BUILDERS)
    for name, text in render_all().items():
        assert (OUT_DIR / name).read_text() == text


def test_check_fails_on_stale_or_extra_json(tmp_path: Path) -> None:
    assert generator_main(["--out", str(tmp_path)]) == 0
    assert generator_main(["--check", "--out", str(tmp_path)]) == 0
    first = sorted(tmp_path.glob("*.json"))[0]
    first.write_text(first.read_text().replace("Engagement", "Engagemant"))
    assert generator_main(["--check", "--out", str(tmp_path)]) == 1
    generator_main(["--out", str(tmp_path)])
    (tmp_path / "old.json").write_text("{}")
    assert generator_main(["--check", "--out", str(tmp_path)]) == 1


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_structure(name: str) -> None:
    dashboard = DASHBOARDS[name]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    queries = q.panel_queries(dashboard)
    assert queries
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel.get("targets"), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
    # no fixed datasource uid anywhere: it drops into any Grafana with any Prometheus
    assert DATASOURCE_UID not in json.dumps(dashboard)
    variables = dashboard["templating"]["list"]
    assert variables[0]["name"] == DATASOURCE_VAR
    assert variables[0]["type"] == "datasource"
    assert variables[0]["query"] == "prometheus"
    for var in variables[1:]:
        assert var["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
    (ds_input,) = dashboard["__inputs"]
    assert ds_input["name"] == DATASOURCE_INPUT
    assert ds_input["pluginId"] == "prometheus"
    assert "${" + DATASOURCE_INPUT + "}" in json.dumps(variables[0])
    assert {r["id"] for r in dashboard["__requires"]} == {"grafana", "prometheus"}
    for var in q.variable_queries(dashboard):
        assert var.name in json.dumps(dashboard["panels"]), f"${var.name} is never used"


def test_uids_are_unique_and_stable() -> None:
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert sorted(uids) == ["engagement-org", "engagement-overview", "engagement-service"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_query_parses_and_uses_only_existing_series(name: str) -> None:
    known = _exported_names() | {r.name for r in q.load_rules() if not r.alert} | {"up", "ALERTS"}
    for query in q.panel_queries(DASHBOARDS[name]):
        expr = _substituted(query.expr)
        promql_parser.parse(expr)  # raises on invalid PromQL
        unknown = _metric_names(expr) - known
        assert not unknown, f"{query.where()}: unknown series {sorted(unknown)}"
    for var in q.variable_queries(DASHBOARDS[name]):
        assert _metric_names(var.metric) <= known, var


def test_rules_use_only_existing_series() -> None:
    rules = q.load_rules()
    known = _exported_names() | {r.name for r in rules if not r.alert} | {"up"}
    for rule in rules:
        unknown = _metric_names(rule.expr) - known
        assert not unknown, f"{rule.file} {rule.name}: unknown series {sorted(unknown)}"
        assert all(promql_parser.parse(p) for p in q.alert_probes(rule.expr))


def test_provisioning_matches_the_dashboards() -> None:
    datasource = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )["datasources"]
    assert [d["uid"] for d in datasource] == [DATASOURCE_UID]
    scrape = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    assert datasource[0]["jsonData"]["timeInterval"] == scrape["global"]["scrape_interval"]
    assert JOB in [job["job_name"] for job in scrape["scrape_configs"]]
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "provider.yaml").read_text()
    )["providers"]
    assert provider[0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_substitution_follows_grafana() -> None:
    assert q.rate_interval(15, 15) == 60  # 4 x scrape interval
    assert q.rate_interval(120, 15) == 135  # interval + scrape interval
    text = q.substitute(
        'rate(x{i=~"$instance", o="${org_id}"}[$__rate_interval]) [$__interval] [$__range]',
        SUBSTITUTIONS,
        interval="15s",
        rate_interval="1m",
        range_="6h",
    )
    assert text == 'rate(x{i=~".*", o="org-1"}[1m]) [15s] [6h]'
    with pytest.raises(ValueError, match="unsubstituted"):
        q.substitute('x{a="$missing"}', {}, interval="1s", rate_interval="4s", range_="1m")


def test_alert_probes_drop_thresholds_offsets_and_absent() -> None:
    probes = q.alert_probes(
        "(a offset 7d) - a > 0.1 and a < 0.8 * (a offset 7d) and absent(b) and rate(c[5m]) > 1"
    )
    assert probes == ["a", "b", "c", "rate(c[5m])"]


def test_adoption_dashboards_default_to_days_and_annotate_levels_and_alerts() -> None:
    overview = DASHBOARDS["engagement-overview.json"]
    org = DASHBOARDS["engagement-organisation.json"]
    assert overview["time"]["from"] == "now-7d"
    assert org["time"]["from"] == "now-30d"
    for dashboard in (overview, org):
        annotations = {a["name"]: a for a in dashboard["annotations"]["list"]}
        assert set(annotations) >= {"Level changes", "Adoption alerts"}
        for a in annotations.values():
            assert a["datasource"]["uid"] == "${datasource}"
            promql_parser.parse(_substituted(a["expr"]))
        assert "engagement_org_level" in annotations["Level changes"]["expr"]
        assert 'category="adoption"' in annotations["Adoption alerts"]["expr"]


def test_organisations_are_picked_and_listed_by_name() -> None:
    org = DASHBOARDS["engagement-organisation.json"]
    (picker,) = [v for v in org["templating"]["list"] if v["name"] == "org_id"]
    text = picker["query"]["query"] if isinstance(picker["query"], dict) else picker["query"]
    assert "engagement_org_info" in text
    import re

    regex = picker["regex"].strip("/").replace("(?<", "(?P<")
    sample = 'engagement_org_info{name="Acme Corp", org_id="org-7"} 1 1700000000000'
    found = re.search(regex, sample)
    assert found
    assert (found["text"], found["value"]) == ("Acme Corp", "org-7")
    overview = DASHBOARDS["engagement-overview.json"]
    tables = [p for p in q.panel_queries(overview) if "engagement_org_info" in p.expr]
    assert {p.panel for p in tables} >= {
        "Worst movers (score change over 7 days)",
        "Adoption alerts firing",
    }


def test_alert_panels_show_the_services_alerts() -> None:
    org = DASHBOARDS["engagement-organisation.json"]
    (panel,) = [p for p in q.panel_queries(org) if p.panel == "Alerts firing"]
    assert "org_alert:engagement_org_alert_firing:max" in panel.expr
    service = DASHBOARDS["engagement-service.json"]
    assert any("engagement_build_info" in p.expr for p in q.panel_queries(service))
