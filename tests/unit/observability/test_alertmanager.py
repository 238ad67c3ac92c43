"""Alertmanager: the config is valid (amtool), routes each kind of alert to its receiver and
mutes the adoption alerts while a service-health alert fires."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
CONFIG = REPO / "deploy" / "alertmanager" / "alertmanager.yml"
RULES = REPO / "deploy" / "prometheus" / "rules"

#: The service-health alerts that mean "the figures cannot be trusted" (issue: a broken
#: integration looks like an adoption drop).
MUTING = {
    "EngagementScorerDown",
    "EngagementScorerAbsent",
    "EngagementConsumerLagGrowing",
    "EngagementDeadLetterRateHigh",
}


def _amtool(*args: str) -> str:
    path = shutil.which("amtool")
    if path is None:
        pytest.fail(
            "amtool not found: run `bash scripts/alertmanager.sh install` "
            "(Debian's prometheus-alertmanager package, which ships amtool)",
            pytrace=False,
        )
    result = subprocess.run([path, *args], capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"amtool {' '.join(args)} failed:\n{output}"
    return result.stdout


def _alert_rules() -> dict[str, dict[str, Any]]:
    out = {}
    for path in RULES.glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    out[rule["alert"]] = rule
    return out


def _route(labels: dict[str, str]) -> str:
    args = [f"{k}={v}" for k, v in labels.items()]
    return _amtool("config", "routes", "test", "--config.file", str(CONFIG), *args).strip()


def test_config_is_valid() -> None:
    assert "SUCCESS" in _amtool("check-config", str(CONFIG))


def test_every_alert_of_the_rules_reaches_the_receiver_of_its_severity() -> None:
    rules = _alert_rules()
    assert len(rules) >= 9
    for name, rule in rules.items():
        labels = {"alertname": name, **rule["labels"], "org_id": "org-1"}
        expected = {
            ("page", "service"): "service-pager",
            ("ticket", "service"): "service-tickets",
            ("ticket", "adoption"): "adoption-owners",
        }[(rule["labels"]["severity"], rule["labels"]["category"])]
        assert _route(labels) == expected, name


def test_adoption_alerts_are_grouped_by_organisation() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    adoption = [r for r in config["route"]["routes"] if r["receiver"] == "adoption-owners"]
    assert len(adoption) == 1
    assert "org_id" in adoption[0]["group_by"]
    assert all(
        c.get("send_resolved") for r in config["receivers"] for c in r.get("webhook_configs", [])
    )


def test_the_service_health_alerts_mute_exactly_the_adoption_alerts() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    (rule,) = config["inhibit_rules"]
    (source,) = rule["source_matchers"]
    name, _, pattern = source.partition("=~")
    assert name == "alertname"
    muting = set(pattern.strip('"').split("|"))
    assert muting == MUTING
    rules = _alert_rules()
    assert muting <= set(rules)  # no stale names
    assert rule["target_matchers"] == ['category="adoption"']
    targets = {n for n, r in rules.items() if r["labels"]["category"] == "adoption"}
    assert targets == {
        "EngagementComponentBelowThreshold",
        "EngagementScoreDropped",
        "EngagementLevelRegressed",
        "EngagementBelowTarget",
    }
    assert not muting & targets
