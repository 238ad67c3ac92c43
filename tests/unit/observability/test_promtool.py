"""promtool: the Prometheus config and rules are valid and the alert unit tests pass."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .conftest import require_promtool

REPO = Path(__file__).resolve().parents[3]
PROM = REPO / "deploy" / "prometheus"


def _promtool(*args: str) -> str:
    result = subprocess.run(
        [require_promtool(), *args], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{output}"
    return output


def test_config_is_valid() -> None:
    _promtool("check", "config", str(PROM / "prometheus.yml"))


def test_rules_are_valid() -> None:
    files = sorted(str(p) for p in (PROM / "rules").glob("*.yml"))
    assert files
    output = _promtool("check", "rules", *files)
    assert output.count("SUCCESS") == len(files)


def test_alert_unit_tests_pass() -> None:
    files = sorted(str(p) for p in (PROM / "tests").glob("*.yml"))
    assert files
    output = _promtool("test", "rules", *files)
    assert "FAILED" not in output
    assert output.count("SUCCESS") == len(files)


def test_every_alert_has_a_unit_test_and_the_required_metadata() -> None:
    import yaml

    tested = "\n".join(p.read_text() for p in (PROM / "tests").glob("*.yml"))
    runbook = (PROM / "RUNBOOK.md").read_text().lower()
    for path in (PROM / "rules").glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                if "alert" not in rule:
                    assert rule["record"].count(":") == 2, rule["record"]  # level:metric:ops
                    continue
                name = rule["alert"]
                assert f"alertname: {name}" in tested, f"{name} has no promtool unit test"
                assert rule["labels"]["severity"] in {"page", "ticket"}, name
                assert rule["labels"]["category"] == path.stem, name  # adoption | service
                assert {"summary", "description", "runbook_url"} <= set(rule["annotations"])
                base, _, anchor = rule["annotations"]["runbook_url"].rpartition("#")
                # absolute: the configured base URL (an external label), never a repo path
                assert base == "{{ $externalLabels.runbook_base }}", name
                assert f"## {name}".lower() in runbook, name
                assert anchor == name.lower(), name


def _rules(stem: str) -> list[dict[str, object]]:
    import yaml

    groups = yaml.safe_load((PROM / "rules" / f"{stem}.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_adoption_alerts_forward_the_services_episodes_one_rule_per_kind() -> None:
    """One alert truth: every adoption alert reads the service's firing gauge, never the
    figures, and every kind of episode the service has gets exactly one rule."""
    from engagement.domain import ALERTS

    kinds = []
    for rule in _rules("adoption"):
        if "alert" not in rule:
            continue
        expr = str(rule["expr"])
        assert "org_alert:engagement_org_alert_firing:max" in expr, rule["alert"]
        for figure in ("score_ratio", "component_ratio", "engagement_org_level"):
            assert figure not in expr, rule["alert"]
        kinds.append(expr.split('alert="')[1].split('"')[0])
    assert sorted(kinds) == sorted(ALERTS)
