"""docker-compose.yml and the Dockerfile, checked offline (no Docker engine needed)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[3]


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


def _compose_schema() -> dict[str, Any]:
    """The compose-spec schema vendored by check-jsonschema (read as a file: no network)."""
    spec = importlib.util.find_spec("check_jsonschema")
    assert spec is not None, "check-jsonschema is a dev dependency"
    assert spec.origin is not None
    path = Path(spec.origin).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def test_compose_file_matches_the_compose_spec() -> None:
    schema = _compose_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(_compose())]
    assert not errors, "\n".join(errors)


def test_the_schema_check_rejects_unknown_keys() -> None:
    schema = _compose_schema()
    broken = _compose()
    broken["services"]["scorer"]["replicas"] = 2  # belongs under deploy:
    assert list(jsonschema.validators.validator_for(schema)(schema).iter_errors(broken))


def test_start_order_and_healthchecks() -> None:
    services = _compose()["services"]
    assert set(services) == {
        "kafka",
        "scorer",
        "simulator",
        "prometheus",
        "alertmanager",
        "grafana",
    }
    for name in ("kafka", "scorer", "prometheus", "alertmanager", "grafana"):
        assert "healthcheck" in services[name], name
    assert services["scorer"]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["simulator"]["depends_on"]["scorer"]["condition"] == "service_healthy"
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    assert services["prometheus"]["depends_on"]["alertmanager"]["condition"] == "service_healthy"
    assert services["kafka"]["image"] == "apache/kafka:3.9.1"
    assert services["scorer"]["deploy"]["replicas"] >= 2


def test_bind_mounts_exist_in_the_repository() -> None:
    for name, service in _compose()["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name}: {source} missing"


def test_scorer_and_prometheus_agree_on_port_and_service_name() -> None:
    services = _compose()["services"]
    port = services["scorer"]["environment"]["ENGAGEMENT_WEB_PORT"]
    scrape = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    job = next(j for j in scrape["scrape_configs"] if j["job_name"] == "engagement-scorer")
    sd = job["dns_sd_configs"][0]
    assert sd["names"] == ["scorer"]
    assert str(sd["port"]) == port
    assert services["scorer"]["environment"]["ENGAGEMENT_KAFKA_BOOTSTRAP"] == "kafka:19092"


def test_dockerfile_installs_from_the_lock() -> None:
    text = (REPO / "Dockerfile").read_text()
    # one pinned base image (an exact release, not a floating tag) for both stages
    assert "ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm" in text
    assert text.count("FROM ${PYTHON_IMAGE}") == 2
    assert "uv sync --frozen --no-dev" in text
    assert "COPY pyproject.toml uv.lock" in text
    assert "exec engagement-scorer" in text
    assert "USER 10001:10001" in text  # numeric: Kubernetes runAsNonRoot can check it


def _installed_version(binary: str) -> str:
    """``x.y.z`` of an installed Prometheus tool (``--version``'s first line)."""
    import re
    import shutil
    import subprocess

    path = shutil.which(binary)
    if path is None:
        import pytest

        pytest.fail(
            f"{binary} not found: run `bash scripts/prometheus.sh install` and "
            "`bash scripts/alertmanager.sh install`",
            pytrace=False,
        )
    out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    found = re.search(r"version (\d+\.\d+\.\d+)", out.stdout + out.stderr)
    assert found, out.stdout + out.stderr
    return found.group(1)


def test_compose_deploys_the_prometheus_and_alertmanager_the_rules_are_tested_with() -> None:
    """promtool, amtool and the integration tests run the Debian packages: compose pins the
    same versions, so what is deployed is what was tested."""
    services = _compose()["services"]
    assert services["prometheus"]["image"] == f"prom/prometheus:v{_installed_version('promtool')}"
    assert services["alertmanager"]["image"] == f"prom/alertmanager:v{_installed_version('amtool')}"


def test_prometheus_sends_to_the_compose_alertmanager() -> None:
    services = _compose()["services"]
    scrape = yaml.safe_load((REPO / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = scrape["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert targets == ["alertmanager:9093"]
    assert "alertmanager" in services
    base = scrape["global"]["external_labels"]["runbook_base"]
    assert base.startswith("https://")
    assert base.endswith("RUNBOOK.md")


def test_the_simulator_runs_the_installed_module() -> None:
    command = _compose()["services"]["simulator"]["command"]
    assert command[:3] == ["python", "-m", "engagement_simulator"]
    assert importlib.util.find_spec("engagement_simulator") is not None
