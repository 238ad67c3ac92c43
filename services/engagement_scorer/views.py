"""The query API on the worker's web server.

Any worker can be asked about any organisation: the per-organisation routes (``org_route``)
answer on the worker that owns the organisation's partition, and elsewhere forward the
request over HTTP to that worker (found in Faust's table metadata by our own partitioner, not
with Faust's ``table_route``: see ``_owner_url``) and relay its answer. Errors are JSON with
an ``error`` field. What is answered comes from the read side (``read_model``).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from yarl import URL

from engagement.domain import OrgState

from .context import WorkerContext
from .publish import score_payload
from .security import peer_headers
from .state import partition_of

__all__ = ["org_route", "register_views", "scored_state", "unknown_org"]


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
    return web.json({"error": "unknown organisation", "org_id": org_id}, status=404)


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
                return view.json(
                    {
                        "error": "the owning worker did not answer",
                        "worker": owner,
                        "detail": str(exc),
                    },
                    status=503,
                )

        return routed

    return decorator


def register_views(ctx: WorkerContext) -> None:
    app = ctx.app
    routed = org_route(ctx)

    @app.page("/health")
    async def health(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page("/ready")
    async def ready(web: Any, request: Any) -> Any:
        if ctx.states.ready and not app.rebalancing:
            return web.json({"status": "ready", "organisations": len(ctx.states.orgs)})
        return web.json({"status": "starting"}, status=503)

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
                    return web.json(
                        {"error": "a worker did not answer", "worker": url, "detail": str(exc)},
                        status=503,
                    )
        return web.json({"orgs": sorted(found)})

    @app.page("/orgs/{org_id}/level")
    @routed
    async def org_level(web: Any, request: Any, org_id: str) -> Any:
        state = scored_state(ctx, org_id)
        if state is None:
            return unknown_org(web, org_id)
        payload = score_payload(state, ctx.emitter.as_of_now(org_id, state.as_of))
        return web.json(ctx.read_model.level_view(payload))

    @app.page("/orgs/{org_id}/alerts")
    @routed
    async def org_alerts(web: Any, request: Any, org_id: str) -> Any:
        if org_id not in ctx.states.orgs:
            return unknown_org(web, org_id)
        return web.json({"org_id": org_id, "firing": ctx.assessments.firing(org_id)})

    @app.page("/benchmarks")
    async def benchmarks(web: Any, request: Any) -> Any:
        """Published peer groups (a global table: every worker holds all of them)."""
        groups = [v["benchmark"] for v in list(ctx.tables.benchmarks.values())]
        return web.json({"groups": sorted(groups, key=lambda g: sorted(g["group"].items()))})

    @app.page("/orgs/{org_id}/score")
    @routed
    async def org_score(web: Any, request: Any, org_id: str) -> Any:
        state = scored_state(ctx, org_id)
        if state is None:
            return unknown_org(web, org_id)
        payload = score_payload(state, ctx.emitter.as_of_now(org_id, state.as_of))
        payload = ctx.read_model.enrich(payload)
        return web.json(payload.model_dump(mode="json"))
