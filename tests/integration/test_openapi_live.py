"""The OpenAPI document against a live worker, property-based (schemathesis, bounded
examples): every documented operation, with generated parameters and with the organisations
the worker holds, answers as documented (status, content type, body schema, no 5xx), in the
open mode and in the bearer-token mode (where every protected operation without the token is
a documented 401 problem)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from engagement_simulator.traffic import generate

from ..clock import TEST_NOW
from .harness import Topics, Worker, produce, wait_until
from .test_security import call

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "tok-openapi-live-0c1e"
LOG = generate(seed=606, orgs=3, days=2, end=TEST_NOW - timedelta(hours=1), accounts_per_org=(5, 9))
EXAMPLES = 15  # per operation: bounded, the run stays short
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


async def _live_worker(
    topics: Topics, workers: list[Worker], tmp_path: Path, env: dict[str, str]
) -> tuple[Worker, list[str]]:
    worker = Worker("oas-" + topics.prefix, topics, tmp_path, extra_env=env)
    workers.append(worker.start())
    worker.wait_ready()
    await produce(topics.profiles, LOG.profiles)
    await produce(topics.activity, LOG.activity)
    orgs = sorted({r.key.decode() for r in LOG.activity if r.key})
    token = env.get("ENGAGEMENT_API_TOKEN")
    wait_until(
        lambda: all(call(worker, f"/orgs/{o}/score", token)[0] == 200 for o in orgs),
        timeout=90,
        what="scores of every organisation",
    )
    return worker, orgs


def _run_schema(worker: Worker, orgs: list[str], headers: dict[str, str]) -> int:
    """Every operation: generated cases, then one per organisation held. Returns the calls."""
    schema = schemathesis.openapi.from_url(worker.url + "/openapi.json", headers=headers)
    calls = 0
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def generated(case: Any) -> None:
            nonlocal calls
            calls += 1
            case.call_and_validate(base_url=worker.url, headers=headers, checks=CHECKS)

        generated()
        if "{org_id}" in operation.path:
            for org in orgs:
                case = operation.Case(path_parameters={"org_id": org})
                response = case.call_and_validate(
                    base_url=worker.url, headers=headers, checks=CHECKS
                )
                assert response.status_code == 200, (operation.path, org, response.text)
                calls += 1
    return calls


async def test_live_worker_answers_as_documented(
    created_topics: Topics, workers: list[Worker], tmp_path: Path
) -> None:
    worker, orgs = await _live_worker(created_topics, workers, tmp_path, {})
    status, served, _ = call(worker, "/openapi.json")
    assert status == 200
    assert served == json.loads((ROOT / "docs/api/openapi.json").read_text())
    assert _run_schema(worker, orgs, {}) >= len(served["paths"])


async def test_live_worker_in_bearer_token_mode(
    created_topics: Topics, workers: list[Worker], tmp_path: Path
) -> None:
    env = {"ENGAGEMENT_API_TOKEN": TOKEN}
    worker, orgs = await _live_worker(created_topics, workers, tmp_path, env)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert _run_schema(worker, orgs, auth) > 0
    # without the token: every protected operation is the documented 401 problem
    schema = schemathesis.openapi.from_url(worker.url + "/openapi.json", headers=auth)
    for result in schema.get_all_operations():
        operation = result.ok()
        params = {"org_id": orgs[0]} if "{org_id}" in operation.path else None
        case = operation.Case(path_parameters=params)
        response = case.call_and_validate(base_url=worker.url, checks=CHECKS)
        if operation.path in ("/health", "/ready"):
            assert response.status_code == 200, operation.path
        else:
            assert response.status_code == 401, operation.path
            headers = {k.lower(): v for k, v in response.headers.items()}
            content_type = headers["content-type"]
            if isinstance(content_type, list):
                [content_type] = content_type
            assert content_type.startswith("application/problem+json"), content_type
            assert response.json()["title"] == "Unauthorized"
