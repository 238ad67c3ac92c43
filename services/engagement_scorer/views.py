"""The query API on the worker's web server.

Any worker can be asked about any organisation: the per-organisation routes (``org_route``)
answer on the worker that owns the organisation's partition, and elsewhere forward the
request over HTTP to that worker (found in Faust's table metadata by our own partitioner, not
with Faust's ``table_route``: see ``_owner_url``) and relay its answer. What is answered
comes from the read side (``read_model``).

Every endpoint has a typed response model below, registered with the OpenAPI registry
(``openapi.register``) next to its handler; the body is validated against it before it is
sent. Errors are RFC 9457 problem details (``application/problem+json``).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from yarl import URL

from engagement.domain import OrgState
from engagement.events import Alert, BenchmarkUpdated, ScoreUpdated
from engagement.events.fields import ComponentName, Level

from .context import WorkerContext
from .openapi import PROBLEM_CONTENT_TYPE, Param, Problem, Route, document, problem_body, register
from .publish import score_payload
from .security import peer_headers
from .state import partition_of

__all__ = [
    "AlertsView",
    "Benchmarks",
    "Health",
    "LevelView",
    "OpenApiDocument",
    "OrgList",
    "Readiness",
    "org_route",
    "problem",
    "register_views",
    "scored_state",
    "unknown_org",
]


# ------------------------------------------------------------------------------------------------
# response models
# ------------------------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Health(_Body):
    """The process runs."""

    status: Literal["ok"]


class Readiness(_Body):
    """Ready (200): state recovered, not rebalancing; else starting (503)."""

    status: Literal["ready", "starting"]
    organisations: int | None = Field(
        None, ge=0, description="organisations held by this worker (when ready)"
    )


class OrgList(_Body):
    """The organisations of the group (or of this worker, with ``?local=1``)."""

    orgs: list[str] = Field(description="organisation ids, sorted")


class LevelView(_Body):
    """Announced operating level, current best fit, and the gap to the target level."""

    org_id: str
    as_of: str = Field(json_schema_extra={"format": "date-time"})
    operating_level: Level | None = Field(
        description="the level announced (sustained best fit; hysteresis applied)"
    )
    best_fit: Level | None = Field(description="the profile the figures are closest to now")
    confidence: float = Field(ge=0, le=1)
    margin: float = Field(description="points between the best and the second-best fit")
    distances: dict[str, float] = Field(description="per level: distance of the figures")
    deciding_components: list[ComponentName]
    target_level: Level | None
    target_gap: dict[str, float | None] | None = Field(
        description="per component: organisation minus target profile, in points"
    )


class AlertsView(_Body):
    """The alerts firing now for the organisation."""

    org_id: str
    firing: list[Alert]


class Benchmarks(_Body):
    """Published peer groups (at least k organisations each) with their quartiles."""

    groups: list[BenchmarkUpdated]


class OpenApiDocument(BaseModel):
    """This document (OpenAPI 3.1)."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]


_ORG_ERRORS: dict[int, type[BaseModel] | str] = {404: Problem, 503: Problem}
register(Route("/health", "Liveness", {200: Health}, tags=("probes",), open=True))
register(
    Route("/ready", "Readiness", {200: Readiness, 503: Readiness}, tags=("probes",), open=True)
)
register(
    Route(
        "/orgs",
        "Organisations",
        {200: OrgList, 503: Problem},
        description="All organisations with state on any worker of the group.",
        params=(
            Param(
                "local",
                description="1: only this worker's organisations",
                schema={"type": "string", "enum": ["1"]},
            ),
        ),
        tags=("organisations",),
    )
)
register(
    Route(
        "/orgs/{org_id}/score",
        "Current figures",
        {200: ScoreUpdated, **_ORG_ERRORS},
        description="The same body as the engagement.score.updated.v1 event, now.",
        tags=("organisations",),
    )
)
register(
    Route("/orgs/{org_id}/level", "Level", {200: LevelView, **_ORG_ERRORS}, tags=("organisations",))
)
register(
    Route(
        "/orgs/{org_id}/alerts", "Alerts", {200: AlertsView, **_ORG_ERRORS}, tags=("organisations",)
    )
)
register(Route("/benchmarks", "Benchmarks", {200: Benchmarks}, tags=("benchmarks",)))
register(
    Route(
        "/metrics",
        "Prometheus metrics",
        {200: "text/plain"},
        description="Prometheus text exposition (engagement_*).",
        tags=("operations",),
    )
)
register(Route("/openapi.json", "This document", {200: OpenApiDocument}, tags=("operations",)))


def problem(web: Any, status: int, title: str, detail: str | None = None, **extra: Any) -> Any:
    """An RFC 9457 problem response."""
    return web.json(
        Problem(**problem_body(status, title, detail, **extra)).model_dump(
            mode="json", exclude_none=True
        ),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def _ok(web: Any, model: type[BaseModel], body: Any) -> Any:
    return web.json(model.model_validate(body).model_dump(mode="json"))


def _peer_urls(ctx: WorkerContext) -> list[str]:
    """Web addresses of the other workers of the group, from Faust's partition assignor."""
    me = str(ctx.app.conf.canonical_url).rstrip("/")
    try:
        hosts = ctx.app.router.tables_metadata().keys()
    except Exception:
        return []
    return sorted({str(h).rstrip("/") for h in hosts} - {me})


OrgHandler = Callable[[Any, Any, str], Awaitable[Any]]


def scored_state(ctx: WorkerContext, org_id: str) -> OrgState | None:
    """The organisation's state once it has figures (None: unknown here, answer 404)."""
    state = ctx.states.orgs.get(org_id)
    return None if state is None or state.first_month < 0 else state


def unknown_org(web: Any, org_id: str) -> Any:
    return problem(
        web,
        404,
        "Unknown organisation",
        f"no figures for organisation {org_id!r} on any worker (yet)",
        org_id=org_id,
    )


def _owner_url(ctx: WorkerContext, org_id: str) -> str | None:
    """Web address of the worker holding the organisation's partition (None: unassigned).

    Not Faust's ``table_route``: it hashes the JSON-serialised table key (``"org"`` with the
    quotes), which Kafka's partitioner places on another partition than the organisation's
    events, so with several workers it asks the wrong one for about half the organisations.
    """
    table = ctx.tables.orgs
    topic = table.changelog_topic.get_topic_name()
    partition = partition_of(org_id, ctx.settings.topic_partitions)
    try:
        hosts = ctx.app.router.table_metadata(table.name)
    except Exception:
        return None
    for host, tps in hosts.items():
        if partition in tps.get(topic, ()):
            return str(host).rstrip("/")
    return None


def org_route(ctx: WorkerContext) -> Callable[[OrgHandler], OrgHandler]:
    """Answer here when this worker owns the organisation, else ask the owner."""

    def decorator(fun: OrgHandler) -> OrgHandler:
        @functools.wraps(fun)
        async def routed(view: Any, request: Any, org_id: str) -> Any:
            owner = _owner_url(ctx, org_id)
            if owner is None or owner == str(ctx.app.conf.canonical_url).rstrip("/"):
                return await fun(view, request, org_id)
            url = URL(owner).with_path(request.path).with_query(request.query)
            try:
                async with ctx.app.http_client.get(str(url), headers=request.headers) as resp:
                    return view.text(
                        await resp.text(), content_type=resp.content_type, status=resp.status
                    )
            except Exception as exc:  # the owner is gone (killed, mid-rebalance)
                return problem(
                    view,
                    503,
                    "The owning worker did not answer",
                    str(exc) or type(exc).__name__,
                    worker=owner,
                    org_id=org_id,
                )

        return routed

    return decorator


def register_views(ctx: WorkerContext) -> None:
    app = ctx.app
    routed = org_route(ctx)

    @app.page("/health")
    async def health(web: Any, request: Any) -> Any:
        return _ok(web, Health, {"status": "ok"})

    @app.page("/ready")
    async def ready(web: Any, request: Any) -> Any:
        if ctx.states.ready and not app.rebalancing:
            return _ok(web, Readiness, {"status": "ready", "organisations": len(ctx.states.orgs)})
        return web.json(Readiness(status="starting").model_dump(mode="json"), status=503)

    @app.page("/openapi.json")
    async def openapi_json(web: Any, request: Any) -> Any:
        return web.json(document())

    @app.page("/orgs")
    async def orgs(web: Any, request: Any) -> Any:
        """All organisations: this worker's, plus (unless ``?local=1``) its peers'."""
        found = set(ctx.states.orgs)
        if request.query.get("local") != "1":
            for url in _peer_urls(ctx):
                try:
                    async with app.http_client.get(
                        f"{url}/orgs?local=1", headers=peer_headers(ctx.settings)
                    ) as resp:
                        found.update((await resp.json())["orgs"])
                except Exception as exc:  # a peer mid-restart must not break the listing
                    return problem(
                        web,
                        503,
                        "A worker did not answer",
                        str(exc) or type(exc).__name__,
                        worker=url,
                    )
        return _ok(web, OrgList, {"orgs": sorted(found)})

    @app.page("/orgs/{org_id}/level")
    @routed
    async def org_level(web: Any, request: Any, org_id: str) -> Any:
        state = scored_state(ctx, org_id)
        if state is None:
            return unknown_org(web, org_id)
        payload = score_payload(state, ctx.emitter.as_of_now(org_id, state.as_of))
        return _ok(web, LevelView, ctx.read_model.level_view(payload))

    @app.page("/orgs/{org_id}/alerts")
    @routed
    async def org_alerts(web: Any, request: Any, org_id: str) -> Any:
        if org_id not in ctx.states.orgs:
            return unknown_org(web, org_id)
        return _ok(web, AlertsView, {"org_id": org_id, "firing": ctx.assessments.firing(org_id)})

    @app.page("/benchmarks")
    async def benchmarks(web: Any, request: Any) -> Any:
        """Published peer groups (a global table: every worker holds all of them)."""
        groups = [v["benchmark"] for v in list(ctx.tables.benchmarks.values())]
        ordered = sorted(groups, key=lambda g: sorted(g["group"].items()))
        return _ok(web, Benchmarks, {"groups": ordered})

    @app.page("/orgs/{org_id}/score")
    @routed
    async def org_score(web: Any, request: Any, org_id: str) -> Any:
        state = scored_state(ctx, org_id)
        if state is None:
            return unknown_org(web, org_id)
        payload = score_payload(state, ctx.emitter.as_of_now(org_id, state.as_of))
        payload = ctx.read_model.enrich(payload)
        return web.json(payload.model_dump(mode="json"))
