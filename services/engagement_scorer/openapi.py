"""The OpenAPI 3.1 document of the worker's HTTP API, generated from typed response models.

A registry of routes: each module that adds HTTP endpoints registers them here with their
response models (:func:`register`, usually at import time next to the handlers), and the
document is built from whatever is registered. The worker serves it at ``/openapi.json``;
``docs/api/openapi.json`` is the committed copy, written and checked for staleness in CI
(like the AsyncAPI document) by ``engagement_scorer.openapi_doc``.

Errors are RFC 9457 problem details (``application/problem+json``, :class:`Problem`).
Routes are protected by the bearer token when ``ENGAGEMENT_API_TOKEN`` is set, except those
registered ``open=True`` (the probes; the open paths are configurable, this documents the
defaults).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from engagement.cli import project_version
from engagement.events.schema_names import enum_definitions, name_enums

__all__ = [
    "OPENAPI_FILE",
    "PROBLEM_CONTENT_TYPE",
    "Param",
    "Problem",
    "Route",
    "document",
    "problem_body",
    "register",
    "registered",
]

OPENAPI_FILE: Final = "docs/api/openapi.json"
PROBLEM_CONTENT_TYPE: Final = "application/problem+json"
_REF: Final = "#/components/schemas/"
_OVERRIDES: Final = {("Alert", "severity"): "Severity", ("Alert", "component"): "Component"}


class Problem(BaseModel):
    """An error, as RFC 9457 problem details. Extension members (``org_id``, ``worker``)
    say what the problem was about."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        "about:blank", description="URI of the problem type; about:blank: see the status"
    )
    title: str = Field(description="Short summary of the problem type")
    status: int = Field(ge=400, le=599, description="The HTTP status code")
    detail: str | None = Field(None, description="What happened in this occurrence")
    instance: str | None = Field(None, description="The request path")


def problem_body(
    status: int, title: str, detail: str | None = None, instance: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The JSON of a :class:`Problem` (``type`` about:blank: the title is the status's)."""
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    if instance is not None:
        body["instance"] = instance
    body.update(extra)
    return body


@dataclass(frozen=True)
class Param:
    """A query or path parameter."""

    name: str
    where: Literal["query", "path"] = "query"
    description: str = ""
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True)
class Route:
    """One documented endpoint. ``responses``: status -> model (JSON), or a media type string
    for a non-JSON body (``text/plain``); path parameters come from ``{name}`` in the path."""

    path: str
    summary: str
    responses: Mapping[int, type[BaseModel] | str]
    description: str = ""
    method: str = "get"
    params: tuple[Param, ...] = ()
    tags: tuple[str, ...] = ()
    open: bool = False
    operation_id: str | None = None

    def path_params(self) -> list[str]:
        return re.findall(r"{([^}]+)}", self.path)


_ROUTES: dict[tuple[str, str], Route] = {}


def register(route: Route) -> Route:
    """Add (or replace: modules may be imported again) an endpoint of the document."""
    _ROUTES[(route.method, route.path)] = route
    return route


def registered() -> list[Route]:
    return [_ROUTES[k] for k in sorted(_ROUTES, key=lambda k: (k[1], k[0]))]


_REASONS: Final = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    503: "Service Unavailable",
}


def _operation(route: Route, names: Mapping[type[BaseModel], str]) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    statuses = dict(route.responses)
    if not route.open:
        statuses.setdefault(401, Problem)
    for status, body in sorted(statuses.items()):
        reason = _REASONS.get(status, str(status))
        if isinstance(body, str):
            content = {body: {"schema": {"type": "string"}}}
            description = reason
        else:
            media = PROBLEM_CONTENT_TYPE if body is Problem else "application/json"
            content = {media: {"schema": {"$ref": _REF + names[body]}}}
            description = (body.__doc__ or reason).strip().split("\n\n")[0]
            description = " ".join(description.split())
            if status == 401:
                description = "The bearer token is missing or wrong (ENGAGEMENT_API_TOKEN set)."
        responses[str(status)] = {"description": description, "content": content}
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "minLength": 1},
        }
        for name in route.path_params()
    ]
    parameters += [
        {
            "name": p.name,
            "in": p.where,
            "required": p.required or p.where == "path",
            "description": p.description,
            "schema": dict(p.schema),
        }
        for p in route.params
    ]
    operation: dict[str, Any] = {
        "operationId": route.operation_id or _operation_id(route),
        "summary": route.summary,
        "responses": responses,
    }
    if route.description:
        operation["description"] = route.description
    if route.tags:
        operation["tags"] = list(route.tags)
    if parameters:
        operation["parameters"] = parameters
    if route.open:
        operation["security"] = []
    return operation


def _operation_id(route: Route) -> str:
    words = re.sub(r"[{}]", "", route.path).strip("/").replace(".", "_").split("/")
    return route.method + "".join(w[:1].upper() + w[1:] for w in words if w) or "root"


def document(routes: Sequence[Route] | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1.0 document of ``routes`` (default: every registered route)."""
    chosen = registered() if routes is None else list(routes)
    models: list[type[BaseModel]] = [Problem]
    for route in chosen:
        for body in route.responses.values():
            if isinstance(body, type) and body not in models:
                models.append(body)
    keys, top = models_json_schema(
        [(m, "serialization") for m in models], ref_template=_REF + "{model}"
    )
    used: set[str] = set()
    schemas = name_enums(top.get("$defs", {}), _REF, _OVERRIDES, used)
    schemas.update(enum_definitions(used))
    names = {m: keys[(m, "serialization")]["$ref"].removeprefix(_REF) for m in models}
    paths: dict[str, Any] = {}
    for route in chosen:
        paths.setdefault(route.path, {})[route.method] = _operation(route, names)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Engagement Score API",
            "version": project_version(),
            "description": "The query API of an engagement-score worker. Any worker answers "
            "for any organisation (the request is forwarded to the worker that owns it). "
            "Errors are RFC 9457 problem details. With ENGAGEMENT_API_TOKEN set, every "
            "route but the probes needs `Authorization: Bearer <token>`. "
            "Generated by `python -m engagement_scorer.openapi_doc`; do not edit by hand.",
        },
        "servers": [{"url": "http://127.0.0.1:6066", "description": "a local worker"}],
        "security": [{"bearerAuth": []}, {}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "ENGAGEMENT_API_TOKEN; unset: no authentication.",
                }
            },
        },
    }
