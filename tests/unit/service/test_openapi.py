"""The OpenAPI document: generated from the route registry, committed and fresh, every route
of the worker documented, and the worker's answers (served by its real aiohttp app, no broker)
valid against it, errors as RFC 9457 problem details."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from engagement.settings import Settings
from engagement_scorer import openapi, openapi_doc
from engagement_scorer.app import create_app
from engagement_scorer.context import WorkerContext

ROOT = Path(__file__).resolve().parents[3]
# The organisation pages' own routes are documented by their module when it registers them.
UNDOCUMENTED_PREFIXES = ("/ui",)


def _ctx(tmp_path: Path, **overrides: Any) -> WorkerContext:
    s = Settings(store="memory://", data_dir=tmp_path, live_clock=False, **overrides)
    return create_app(s, CollectorRegistry())


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    ctx = _ctx(tmp_path)
    async with TestClient(TestServer(ctx.app.web.web_app)) as test_client:
        yield test_client


def _schema_validator(doc: dict[str, Any], path: str, status: int, media: str) -> Any:
    """A validator of one response body against the document (components as $defs)."""
    operation = doc["paths"][path]["get"]
    content = operation["responses"][str(status)]["content"]
    assert media in content, (path, status, sorted(content))
    schema = {
        **content[media]["schema"],
        "components": doc["components"],
    }
    text = json.dumps(schema)
    return jsonschema.Draft202012Validator(json.loads(text))


def test_the_committed_document_is_fresh() -> None:
    assert openapi_doc.check(ROOT), "run `make openapi`"
    assert openapi_doc.main(["--check", "--root", str(ROOT)]) == 0


def test_a_stale_document_fails_the_check(tmp_path: Path) -> None:
    (tmp_path / "docs/api").mkdir(parents=True)
    (tmp_path / openapi.OPENAPI_FILE).write_text(openapi_doc.rendered().replace("Level", "Lvl"))
    assert openapi_doc.main(["--check", "--root", str(tmp_path)]) == 1
    assert openapi_doc.main(["--root", str(tmp_path)]) == 0
    assert openapi_doc.main(["--check", "--root", str(tmp_path)]) == 0


def test_every_route_of_the_worker_is_documented(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    served = {
        str(r.resource.canonical)
        for r in ctx.app.web.web_app.router.routes()
        if r.resource is not None
    }
    served = {p for p in served if not p.startswith(UNDOCUMENTED_PREFIXES)}
    documented = set(openapi.document()["paths"])
    assert served == documented


def test_document_is_openapi_3_1_with_named_enums_and_problem_errors() -> None:
    doc = openapi.document()
    assert doc["openapi"] == "3.1.0"
    schemas = doc["components"]["schemas"]
    assert schemas["Level"]["enum"] == ["initiation", "informing", "engaging", "co_creating"]
    assert {"Component", "Severity", "AlertStatus", "BenchmarkSide", "Problem"} <= set(schemas)
    # no inlined copy of a shared enum is left anywhere
    text = json.dumps(schemas)
    assert text.count('"co_creating"') == 1
    for path, item in doc["paths"].items():
        op = item["get"]
        for status, response in op["responses"].items():
            if int(status) >= 400 and path != "/ready":
                assert list(response["content"]) == ["application/problem+json"], (path, status)
        if path in ("/health", "/ready"):
            assert op["security"] == []
        else:
            assert "401" in op["responses"]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    # every $ref resolves
    for ref in _refs(doc):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_a_route_registered_later_is_in_the_document() -> None:
    class Thing(BaseModel):
        """A thing."""

        name: str

    route = openapi.Route("/things/{thing_id}", "A thing", {200: Thing, 404: openapi.Problem})
    doc = openapi.document([*openapi.registered(), route])
    op = doc["paths"]["/things/{thing_id}"]["get"]
    assert op["parameters"][0] == {
        "name": "thing_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1},
    }
    assert doc["components"]["schemas"]["Thing"]["properties"]["name"]["type"] == "string"
    assert "/things/{thing_id}" not in openapi.document()["paths"]


async def test_answers_match_the_document(client: TestClient[Any, Any]) -> None:
    doc = openapi.document()
    served = await client.get("/openapi.json")
    assert served.status == 200
    assert await served.json() == json.loads(openapi_doc.rendered())
    for template, path, status, media in (
        ("/health", "/health", 200, "application/json"),
        ("/ready", "/ready", 503, "application/json"),  # no state recovered: no broker here
        ("/orgs", "/orgs?local=1", 200, "application/json"),
        ("/benchmarks", "/benchmarks", 200, "application/json"),
        ("/orgs/{org_id}/score", "/orgs/nobody/score", 404, "application/problem+json"),
        ("/orgs/{org_id}/level", "/orgs/nobody/level", 404, "application/problem+json"),
        ("/orgs/{org_id}/alerts", "/orgs/nobody/alerts", 404, "application/problem+json"),
    ):
        resp = await client.get(path)
        assert resp.status == status, path
        assert resp.content_type == media, path
        body = await resp.json(content_type=None)
        _schema_validator(doc, template, status, media).validate(body)
    resp = await client.get("/orgs/nobody/score")
    assert await resp.json(content_type=None) == {
        "type": "about:blank",
        "title": "Unknown organisation",
        "status": 404,
        "detail": "no figures for organisation 'nobody' on any worker (yet)",
        "org_id": "nobody",
    }


async def test_with_a_token_the_document_and_the_api_need_it(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, api_token="s3cret")
    async with TestClient(TestServer(ctx.app.web.web_app)) as test_client:
        refused = await test_client.get("/openapi.json")
        assert refused.status == 401
        assert refused.content_type == "application/problem+json"
        doc = openapi.document()
        _schema_validator(doc, "/openapi.json", 401, "application/problem+json").validate(
            await refused.json(content_type=None)
        )
        ok = await test_client.get("/openapi.json", headers={"Authorization": "Bearer s3cret"})
        assert ok.status == 200
        assert (await test_client.get("/health")).status == 200
