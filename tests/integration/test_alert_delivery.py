"""Alerts that reach people, and one alert truth: a live worker -> a real Prometheus (our rule
files) -> a real Alertmanager (our routing tree and inhibit rules) -> a local webhook.

Debian's ``prometheus`` (2.42, the version compose deploys) and ``prometheus-alertmanager``
(0.25) run on loopback, on free ports, each with its own temporary directory, next to a
scorer worker on the suite's broker. The deployed files are used as they are, except:

- Alertmanager's receivers all point at the test's webhook (the path names the receiver) and
  its timers are seconds instead of minutes (group_wait, group_interval);
- in a copy of the rule files, ``keep_firing_for`` of the adoption alerts is 0 (deployed:
  15 minutes, so that a rebalance never resolves an episode) and EngagementScorerDown's
  ``for`` is 1 s (deployed: 2 minutes). Expressions, labels and annotations are unchanged.

One organisation (``fading``) has only 80 % of its accounts activated: the service fires
``component_below_threshold`` for Reach. The test then checks that

1. the same set of firing alerts is on the ``engagement.alerts`` topic (episodes fired and
   not resolved), in ``GET /orgs/fading/alerts`` (what the organisation page shows), in the
   worker's ``engagement_org_alert_firing``, in Grafana's organisation dashboard query, in
   Prometheus' ALERTS, in Alertmanager and in the webhook's notification (adoption-owners
   receiver, grouped by organisation, with an absolute runbook link);
2. when the accounts log in, the service resolves the episode and the webhook gets the
   resolution;
3. while an inhibiting service alert fires (a scrape target of the scorer job that is down:
   EngagementScorerDown), a second organisation's adoption alert fires in the service and in
   Prometheus, Alertmanager holds it as inhibited and the webhook gets the page for the
   service alert but nothing for the adoption alert; once the target is removed and the
   service alert resolves, the adoption alert is delivered.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from deploy.dashboards import promql as q
from deploy.dashboards.common import JOB
from engagement.events import decode_output

from ..clock import TEST_NOW
from .harness import REPO, Topics, Worker, consume_to_end, free_port, produce, wait_until
from .synthetic import Shape, activity, profile

pytestmark = pytest.mark.kafka

SECONDS = 1  # scrape and rule evaluation interval
RUNBOOK_BASE = "https://runbooks.test.example/engagement/RUNBOOK.md"
ENVIRONMENT = "alert-test"
AM_CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
ADOPTION_ALERT = "EngagementComponentBelowThreshold"
END = TEST_NOW - timedelta(hours=2)


def _binary(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        f"{names[0]} is not installed: run `bash scripts/prometheus.sh install` and "
        "`bash scripts/alertmanager.sh install` (Debian's prometheus 2.42 and "
        "prometheus-alertmanager 0.25)",
        pytrace=False,
    )


# ------------------------------------------------------------------------------------------------
# the webhook
# ------------------------------------------------------------------------------------------------


@dataclass
class Webhook:
    """Alertmanager's webhook receiver: every POSTed notification, with the receiver's path."""

    port: int = field(default_factory=free_port)
    received: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def url(self, receiver: str) -> str:
        return f"http://127.0.0.1:{self.port}/{receiver}"

    def start(self) -> Webhook:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                hook.received.append((self.path.strip("/"), json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def alerts(self, receiver: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        """(receiver, notification status, alert) for every alert of every notification."""
        return [
            (path, note["status"], alert)
            for path, note in list(self.received)
            if receiver is None or path == receiver
            for alert in note["alerts"]
        ]

    def statuses(self, alertname: str, org_id: str) -> list[str]:
        """The statuses this alert of this organisation was delivered with, in order."""
        return [
            alert["status"]
            for _, _, alert in self.alerts()
            if alert["labels"].get("alertname") == alertname
            and alert["labels"].get("org_id") == org_id
        ]


# ------------------------------------------------------------------------------------------------
# Prometheus and Alertmanager processes
# ------------------------------------------------------------------------------------------------


@dataclass
class Daemon:
    binary: str
    workdir: Path
    name: str
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def run(self, args: list[str], ready_path: str) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [self.binary, *args], stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.tail()}")
            try:
                if httpx.get(self.url + ready_path, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} not ready:\n{self.tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=30)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def rules_for_the_test(directory: Path) -> Path:
    """A copy of the deployed rule files with the test's time scale (module docstring)."""
    directory.mkdir(parents=True, exist_ok=True)
    for path in q.RULES_DIR.glob("*.yml"):
        data = yaml.safe_load(path.read_text())
        for group in data["groups"]:
            for rule in group["rules"]:
                if rule.get("labels", {}).get("category") == "adoption":
                    assert rule.get("keep_firing_for") == "15m", rule["alert"]
                    rule["keep_firing_for"] = "0s"
                if rule.get("alert") == "EngagementScorerDown":
                    assert rule.get("for") == "2m"
                    rule["for"] = "1s"
        (directory / path.name).write_text(yaml.safe_dump(data, sort_keys=False))
    return directory


class Prometheus(Daemon):
    targets: list[str]
    alertmanager: str
    rules: Path

    def start(self, targets: list[str], alertmanager: str) -> Prometheus:
        self.targets = targets
        self.alertmanager = alertmanager
        self.rules = rules_for_the_test(self.workdir / "rules")
        self.write_config()
        tsdb = self.workdir / "tsdb"
        tsdb.mkdir()
        self.run(
            [
                f"--config.file={self.workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={tsdb}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                # firing alerts are re-sent every second (default: every minute)
                "--rules.alert.resend-delay=1s",
                "--log.level=warn",
            ],
            "/-/ready",
        )
        return self

    def write_config(self) -> None:
        config = {
            "global": {
                "scrape_interval": f"{SECONDS}s",
                "scrape_timeout": f"{SECONDS}s",
                "evaluation_interval": f"{SECONDS}s",
                # as in deploy/prometheus/prometheus.yml: the runbook links' base URL
                "external_labels": {"environment": ENVIRONMENT, "runbook_base": RUNBOOK_BASE},
            },
            "alerting": {"alertmanagers": [{"static_configs": [{"targets": [self.alertmanager]}]}]},
            "rule_files": [str(self.rules / "*.yml")],
            "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": self.targets}]}],
        }
        (self.workdir / "prometheus.yml").write_text(yaml.safe_dump(config))

    def set_targets(self, targets: list[str]) -> None:
        self.targets = targets
        self.write_config()
        httpx.post(self.url + "/-/reload", timeout=30).raise_for_status()

    def api(self, path: str, **params: Any) -> Any:
        body = httpx.get(self.url + "/api/v1/" + path, params=params, timeout=30).json()
        assert body.get("status") == "success", f"{path} {params}: {body}"
        return body["data"]

    def instant(self, expr: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.api("query", query=expr)["result"]
        return result

    def firing(self, alertname: str, org_id: str) -> list[dict[str, str]]:
        """The label sets of this alert firing for the organisation (Prometheus' ALERTS)."""
        expr = f'ALERTS{{alertname="{alertname}", alertstate="firing", org_id="{org_id}"}}'
        return [s["metric"] for s in self.instant(expr)]


class Alertmanager(Daemon):
    def start(self, webhook: Webhook) -> Alertmanager:
        config = yaml.safe_load(AM_CONFIG.read_text())
        for receiver in config["receivers"]:
            receiver.pop("email_configs", None)
            receiver["webhook_configs"] = [
                {"url": webhook.url(receiver["name"]), "send_resolved": True}
            ]

        def fast(route: dict[str, Any]) -> None:
            for key in ("group_wait", "group_interval"):
                if key in route or route is config["route"]:
                    route[key] = "1s"
            for child in route.get("routes", []):
                fast(child)

        fast(config["route"])
        path = self.workdir / "alertmanager.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        cluster = free_port()
        self.run(
            [
                f"--config.file={path}",
                f"--storage.path={self.workdir / 'am-data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--cluster.listen-address=127.0.0.1:{cluster}",
                "--log.level=warn",
            ],
            "/-/ready",
        )
        return self

    def alerts(self, alertname: str, org_id: str | None = None) -> list[dict[str, Any]]:
        resp = httpx.get(
            self.url + "/api/v2/alerts", params={"filter": f'alertname="{alertname}"'}, timeout=30
        )
        resp.raise_for_status()
        found: list[dict[str, Any]] = resp.json()
        return [a for a in found if org_id is None or a["labels"].get("org_id") == org_id]


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[dict[str, Any]]:
    prom_bin = _binary("prometheus")
    am_bin = _binary("prometheus-alertmanager", "alertmanager")
    webhook = Webhook().start()
    am = Alertmanager(am_bin, tmp_path, "alertmanager")
    prom = Prometheus(prom_bin, tmp_path, "prometheus")
    try:
        am.start(webhook)
        yield {"webhook": webhook, "alertmanager": am, "prometheus": prom}
    finally:
        for daemon in (prom, am):
            daemon.stop()
            print(f"--- {daemon.log_path} ---\n{daemon.tail(15)}")
        webhook.stop()


# ------------------------------------------------------------------------------------------------
# the organisations
# ------------------------------------------------------------------------------------------------

#: 80 % of the accounts activated: Reach 80, below 95 (but not 20 below: severity warning).
FADING = Shape(reach=80, visit=80, view=50, interact=40, contribute=20)
ACCOUNTS = 50


def _history(org: str) -> list[Any]:
    return activity(org, [(3, FADING)], END, accounts=ACCOUNTS, tag=org)


def _logins(org: str) -> list[Any]:
    """Every account of ``org`` that was never activated visits: Reach goes to 100."""
    from engagement.events import encode_event, topics
    from engagement.events.models import Visit

    at = END - timedelta(minutes=30)
    return [
        encode_event(
            type=topics.VISIT_TYPE,
            source=f"urn:test:{org}",
            id=f"{org}-login-{i}",
            time=at,
            subject=org,
            data=Visit(org_id=org, account_id=f"a{i}"),
            key=org,
        )
        for i in range(round(FADING.reach / 100 * ACCOUNTS), ACCOUNTS)
    ]


async def _open_episodes(topic: str, org_id: str) -> set[tuple[str, str | None]]:
    """(alert, component) of the episodes fired on the topic and not resolved since."""
    last: dict[tuple[str, str | None], str] = {}
    for m in await consume_to_end(topic, settle=0.5):
        alert = decode_output(m.key, m.value, list(m.headers)).data
        if alert.org_id == org_id:
            last[(alert.alert, alert.component)] = alert.status
    return {key for key, status in last.items() if status == "firing"}


def _api_firing(worker: Worker, org_id: str) -> set[tuple[str, str | None]] | None:
    """The firing alerts the API answers (None while the organisation is unknown: 404)."""
    status, body = worker.get(f"/orgs/{org_id}/alerts")
    if status == 404:
        return None
    assert status == 200, body
    return {(a["alert"], a["component"]) for a in body["firing"]}


def _gauge(worker: Worker, org_id: str) -> set[tuple[str, str | None]]:
    return {
        (s.labels["alert"], s.labels["component"] or None)
        for s in worker.scrape().samples
        if s.name == "engagement_org_alert_firing" and s.labels["org_id"] == org_id
    }


def _grafana(prom: Prometheus, org_id: str) -> set[tuple[str, str | None]]:
    """The organisation dashboard's alert table, queried as Grafana does."""
    dashboard = q.load_dashboard(q.DASHBOARD_DIR / "engagement-organisation.json")
    (panel,) = [p for p in q.panel_queries(dashboard) if p.panel == "Alerts firing"]
    expr = q.substitute(
        panel.expr, {"org_id": org_id}, interval="1s", rate_interval="4s", range_="60s"
    )
    return {
        (s["metric"]["alert"], s["metric"].get("component") or None) for s in prom.instant(expr)
    }


def _prometheus(prom: Prometheus, org_id: str) -> set[tuple[str, str | None]]:
    expr = f'ALERTS{{alertstate="firing", category="adoption", org_id="{org_id}"}}'
    return {
        (s["metric"]["alert"], s["metric"].get("component") or None) for s in prom.instant(expr)
    }


async def test_adoption_alerts_reach_the_webhook_and_agree_everywhere(
    created_topics: Topics, workers: list[Worker], stack: dict[str, Any], tmp_path: Path
) -> None:
    webhook: Webhook = stack["webhook"]
    am: Alertmanager = stack["alertmanager"]
    prom: Prometheus = stack["prometheus"]
    worker = Worker("alerts-" + created_topics.prefix, created_topics, tmp_path).start()
    workers.append(worker)
    target = f"127.0.0.1:{worker.web_port}"
    prom.start([target], f"127.0.0.1:{am.port}")
    worker.wait_ready()

    # 1. One organisation's Reach is below its threshold: the service fires the episode.
    await produce(created_topics.profiles, [profile("fading"), profile("later")])
    await produce(created_topics.activity, _history("fading"))
    expected = {("component_below_threshold", "reach")}
    wait_until(lambda: _api_firing(worker, "fading") == expected, timeout=90, what="API alert")

    # ... and every view of it says the same, the pager included.
    wait_until(
        lambda: webhook.statuses(ADOPTION_ALERT, "fading") == ["firing"],
        timeout=60,
        what="the webhook to get the adoption alert",
    )
    assert await _open_episodes(created_topics.alerts, "fading") == expected
    assert _gauge(worker, "fading") == expected
    assert _prometheus(prom, "fading") == expected
    assert _grafana(prom, "fading") == expected
    (am_alert,) = am.alerts(ADOPTION_ALERT, "fading")
    assert am_alert["status"]["state"] == "active"
    receiver, _, delivered = next(
        n for n in webhook.alerts() if n[2]["labels"].get("org_id") == "fading"
    )
    assert receiver == "adoption-owners"  # routed by category, grouped by organisation
    labels = delivered["labels"]
    assert (labels["alert"], labels["component"]) == next(iter(expected))
    assert labels["severity"] == "ticket"
    assert labels["service_severity"] == "warning"  # 80 is not 20 below 95
    assert delivered["annotations"]["runbook_url"] == (
        f"{RUNBOOK_BASE}#{ADOPTION_ALERT.lower()}"
    )  # absolute, from the configured base
    assert "fading" in delivered["annotations"]["summary"]
    # nothing else was delivered (the other adoption alerts need days of history or a target)
    assert not [a for _, _, a in webhook.alerts() if a["labels"].get("alertname") != ADOPTION_ALERT]

    # 2. The missing accounts log in: the service resolves, so does the pager.
    await produce(created_topics.activity, _logins("fading"))
    wait_until(lambda: _api_firing(worker, "fading") == set(), timeout=60, what="resolved")
    wait_until(
        lambda: webhook.statuses(ADOPTION_ALERT, "fading") == ["firing", "resolved"],
        timeout=60,
        what="the webhook to get the resolution",
    )
    assert await _open_episodes(created_topics.alerts, "fading") == set()
    assert _gauge(worker, "fading") == set()
    assert _prometheus(prom, "fading") == set()
    assert _grafana(prom, "fading") == set()

    # 3. A scorer target is down (EngagementScorerDown, severity page): it mutes adoption.
    dead = f"127.0.0.1:{free_port()}"
    prom.set_targets([target, dead])
    wait_until(
        lambda: any(
            a["labels"].get("alertname") == "EngagementScorerDown"
            and a["labels"].get("instance") == dead
            and status == "firing"
            for _, status, a in webhook.alerts("service-pager")
        ),
        timeout=60,
        what="the page for the dead scorer target",
    )
    await produce(created_topics.activity, _history("later"))
    wait_until(lambda: _api_firing(worker, "later") == expected, timeout=60, what="2nd alert")
    wait_until(lambda: _prometheus(prom, "later") == expected, timeout=30, what="in Prometheus")
    inhibited = wait_until(
        lambda: [
            a
            for a in am.alerts(ADOPTION_ALERT, "later")
            if a["status"]["state"] == "suppressed" and a["status"]["inhibitedBy"]
        ],
        timeout=30,
        what="Alertmanager to hold the adoption alert as inhibited",
    )
    assert inhibited
    # Many group intervals (1 s) later, still nothing delivered for it.
    await asyncio.sleep(8)
    assert webhook.statuses(ADOPTION_ALERT, "later") == []
    assert am.alerts(ADOPTION_ALERT, "later")[0]["status"]["state"] == "suppressed"

    # The service alert resolves: the held adoption alert is delivered now.
    prom.set_targets([target])
    wait_until(
        lambda: webhook.statuses(ADOPTION_ALERT, "later") == ["firing"],
        timeout=60,
        what="the adoption alert once the inhibiting alert resolved",
    )
    assert _api_firing(worker, "later") == _prometheus(prom, "later") == expected
