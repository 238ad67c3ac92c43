"""Dashboards and rules against reality: a real Prometheus scraping a live worker.

Starts Debian's ``prometheus`` binary on 127.0.0.1 (free port, temporary TSDB, scrape and rule
evaluation every second, our rule files) scraping a scorer worker while simulated traffic
flows, then checks that:

- every query of every panel of every generated dashboard returns data (at least one value
  that is not NaN), with Grafana's macros substituted as Grafana does (``$__interval`` = the
  1 s step, ``$__rate_interval`` = max(interval + scrape, 4 x scrape) = 4 s, ``$__range`` =
  the time since traffic started) and template variables set (``$org_id`` = an organisation
  of the traffic, ``$instance`` = ``.*`` i.e. "All"); the variables' own ``label_values``
  queries must find values too;
- every rule loaded and evaluates without error, and every recording rule produced series;
- every alert expression can be evaluated on real data: alert expressions are conditions that
  are empty while all is well, so instead of the condition, each series selector (offset
  removed: this Prometheus has seconds of history, not 7 days) and each comparison operand
  without offset or absent() (the expression without its threshold) must return data
  (``deploy.dashboards.promql.alert_probes``);
- a scrape target that is down (a port nobody listens on, in the same job) drives
  EngagementScorerDown to pending: the down alert works end to end, and the overview's alert
  table has something to show.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from deploy.dashboards import promql as q
from deploy.dashboards.common import JOB
from engagement.events import KafkaRecord

from ..clock import TEST_NOW
from .harness import Topics, Worker, free_port, produce, wait_until

pytestmark = pytest.mark.kafka

SCRAPE_SECONDS = 1
INTERVAL = "1s"
RATE_INTERVAL = f"{q.rate_interval(1, SCRAPE_SECONDS):.0f}s"

#: Families the worker must expose for the dashboards (org ones from OrgMetricsCollector).
REQUIRED_FAMILIES = (
    "engagement_org_score_ratio",
    "engagement_org_component_ratio",
    "engagement_org_level",
    "engagement_org_target_gap_ratio",
    "engagement_org_benchmark_position",
    "engagement_org_series_capped",
    "engagement_org_score_bucket",
    "engagement_orgs_by_level",
)
NOT_PER_ORG = {"engagement_org_series_capped", "engagement_org_score_bucket"}


def require_prometheus() -> str:
    path = shutil.which("prometheus")
    if path is None:
        pytest.fail(
            "the prometheus binary is not installed: run `bash scripts/prometheus.sh install` "
            "(Debian's prometheus 2.42, with promtool)",
            pytrace=False,
        )
    return path


@dataclass
class Prometheus:
    """A throw-away Prometheus on loopback."""

    binary: str
    workdir: Path
    targets: list[str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "prometheus.log"

    def config(self) -> dict[str, Any]:
        return {
            "global": {
                "scrape_interval": f"{SCRAPE_SECONDS}s",
                "scrape_timeout": f"{SCRAPE_SECONDS}s",
                "evaluation_interval": f"{SCRAPE_SECONDS}s",
            },
            "rule_files": [str(q.RULES_DIR / "*.yml")],
            "scrape_configs": [
                {"job_name": JOB, "static_configs": [{"targets": self.targets}]},
            ],
        }

    def start(self) -> Prometheus:
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config()))
        tsdb = self.workdir / "tsdb"
        tsdb.mkdir()
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tsdb}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited:\n{self.tail()}")
            try:
                if httpx.get(self.url + "/-/ready", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"prometheus not ready:\n{self.tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def api(self, path: str, **params: Any) -> Any:
        resp = httpx.get(self.url + "/api/v1/" + path, params=params, timeout=30)
        body = resp.json()
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {body.get('error', body)}")
        return body["data"]

    def instant(self, expr: str) -> list[dict[str, Any]]:
        data = self.api("query", query=expr)
        result: list[dict[str, Any]] = data["result"] if data["resultType"] == "vector" else []
        return result

    def range(self, expr: str, start: float, end: float) -> list[dict[str, Any]]:
        data = self.api("query_range", query=expr, start=start, end=end, step=INTERVAL)
        result: list[dict[str, Any]] = data["result"]
        return result


def _has_value(result: list[dict[str, Any]]) -> bool:
    """At least one sample that is a number (not NaN)."""
    for series in result:
        values = series.get("values") or [series.get("value")]
        for _, text in values:
            if not math.isnan(float(text)):
                return True
    return False


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[list[Prometheus]]:
    started: list[Prometheus] = []
    yield started
    for prom in started:
        prom.stop()
        print(f"--- {prom.log_path} ---\n{prom.tail(15)}")


def _traffic() -> tuple[list[KafkaRecord], list[KafkaRecord], list[str]]:
    """Profiles and activity of a few simulated organisations (the last 10 days)."""
    from engagement_simulator.traffic import generate

    log = generate(7, 4, 10, TEST_NOW)
    return log.profiles, log.activity, log.org_ids


def _missing_families(worker: Worker) -> list[str]:
    text = worker.metrics()
    return [name for name in REQUIRED_FAMILIES if f"\n{name}" not in "\n" + text]


async def test_every_dashboard_query_and_rule_has_data(
    created_topics: Topics,
    workers: list[Worker],
    prometheus: list[Prometheus],
    tmp_path: Path,
) -> None:
    binary = require_prometheus()
    worker = Worker(
        "obs-" + created_topics.prefix,
        created_topics,
        tmp_path,
        # A handful of organisations: publish benchmarks for groups of one, and establish
        # levels within the 10 days of simulated history.
        extra_env={
            "ENGAGEMENT_BENCHMARK_MIN_GROUP_SIZE": "1",
            "ENGAGEMENT_LEVEL_SUSTAIN_SECONDS": "86400",
        },
    ).start()
    workers.append(worker)
    dead_target = f"127.0.0.1:{free_port()}"  # in the scorer job, never listening
    prom = Prometheus(binary, tmp_path, [f"127.0.0.1:{worker.web_port}", dead_target]).start()
    prometheus.append(prom)
    worker.wait_ready()

    profiles, activity, org_ids = _traffic()
    # Prometheus stamps samples with its own (wall) clock, so query ranges are wall-clock
    # seconds; event times come from TEST_NOW
    traffic_start = time.time()
    await produce(created_topics.profiles, profiles)
    await produce(created_topics.profiles, [KafkaRecord(b"bad-org", b"{not json", [])])
    chunks = 8
    # spread over several scrapes so rates are not a single spike; in log order, so the stream
    # moves through the days and levels (sustained for a day) get established
    size = -(-len(activity) // chunks)
    for i in range(chunks):
        await produce(created_topics.activity, activity[i * size : (i + 1) * size])
        if i == 3:
            await produce(created_topics.activity, [KafkaRecord(b"x", b"\x00garbage", [])])
        await asyncio.sleep(1.5)

    wait_until(
        lambda: worker.counter("engagement_events_processed_total") >= len(activity) * 0.9,
        timeout=90,
        what="the worker to process the traffic",
    )
    # the second stage (levels) follows the score stream: poll until every family is there
    with contextlib.suppress(AssertionError):  # the assertion below says what is missing
        wait_until(lambda: not _missing_families(worker), timeout=60, interval=1.0)
    missing = _missing_families(worker)
    assert not missing, (
        f"the worker does not expose {missing}: register "
        "engagement_scorer.org_metrics.for_read_model in create_app so the organisation panels "
        "and adoption alerts have data"
    )
    _check_everything(prom, org_ids, traffic_start)


def _check_everything(prom: Prometheus, org_ids: list[str], traffic_start: float) -> None:
    wait_until(
        lambda: (
            prom.instant(f'up{{job="{JOB}"}} == 1')
            and prom.instant("org:engagement_org_score_ratio:avg1h")
            and prom.instant("engagement_org_profiles_rejected_total")
            and prom.instant("engagement_events_dead_lettered_total")
        ),
        timeout=60,
        what="Prometheus to scrape the worker's series",
    )
    # Rates, deriv and delta need several scrapes and rule evaluations after the traffic:
    # instead of sleeping for them, poll until every query has data (or time is up, then the
    # last round's failures are the test's).
    failures: list[str] = ["not checked yet"]
    summary, rounds, t0 = "", 0, time.monotonic()
    while failures and time.monotonic() - t0 < 45:
        failures, summary = _failures(prom, org_ids, traffic_start)
        rounds += 1
        if failures:
            time.sleep(SCRAPE_SECONDS)
    print(f"{summary} (round {rounds}, {time.monotonic() - t0:.1f} s after the first scrapes)")
    assert not failures, "\n".join(failures)


def _failures(prom: Prometheus, org_ids: list[str], traffic_start: float) -> tuple[list[str], str]:
    """One round of every check: (what has no data or is broken, a summary line)."""
    now = time.time()
    # $org_id: an organisation of the traffic with every per-organisation family (a level is
    # established only after it has been the best fit for a while, so not every org has one).
    per_org = {
        family: {s["metric"]["org_id"] for s in prom.instant(family)}
        for family in REQUIRED_FAMILIES
        if family.startswith("engagement_org_") and family not in NOT_PER_ORG
    }
    complete = set(org_ids).intersection(*per_org.values())
    if not complete:
        return [f"no organisation has every per-organisation series: {per_org}"], ""
    org_id = sorted(complete)[0]
    variables = {"org_id": org_id, "instance": ".*"}
    range_ = f"{max(60, int(now - traffic_start) + 10)}s"
    failures: list[str] = []

    # Dashboards: every panel query, every variable.
    checked = 0
    for path in q.dashboard_files():
        dashboard = q.load_dashboard(path)
        for var in q.variable_queries(dashboard):
            values = prom.api(f"label/{var.label}/values", **{"match[]": var.metric})
            if not values:
                failures.append(f"{var.dashboard} variable ${var.name}: no values")
        for query in q.panel_queries(dashboard):
            expr = q.substitute(
                query.expr, variables, interval=INTERVAL, rate_interval=RATE_INTERVAL, range_=range_
            )
            result = prom.instant(expr) if query.instant else prom.range(expr, traffic_start, now)
            checked += 1
            if not _has_value(result):
                failures.append(f"{query.where()}: no data for {expr}")
    if checked < 30:
        failures.append(f"only {checked} dashboard queries found")

    # Rules: all loaded, all healthy, recording rules produced series, alerts evaluable.
    rules = q.load_rules()
    loaded = {
        rule["name"]: rule for group in prom.api("rules")["groups"] for rule in group["rules"]
    }
    for rule in rules:
        state = loaded.get(rule.name)
        if state is None:
            failures.append(f"rule {rule.name}: not loaded")
            continue
        if state.get("health") != "ok":
            failures.append(f"rule {rule.name}: {state.get('health')} {state.get('lastError')}")
        if not rule.alert:
            if not _has_value(prom.instant(rule.name)):
                failures.append(f"recording rule {rule.name}: no series recorded")
            continue
        for probe in q.alert_probes(rule.expr):
            if not _has_value(prom.instant(probe)):
                failures.append(f"alert {rule.name}: no data for {probe}")

    alerts = prom.api("alerts")["alerts"]
    down = [
        a
        for a in alerts
        if a["labels"]["alertname"] == "EngagementScorerDown"
        and a["labels"]["instance"] == prom.targets[1]
    ]
    if not down or down[0]["state"] not in {"pending", "firing"}:
        failures.append(f"EngagementScorerDown not pending for the dead target: {alerts}")

    return (
        failures,
        f"checked {checked} dashboard queries and {len(rules)} rules with $org_id={org_id}",
    )
