"""The query API on the worker's web server.

``/orgs/{org_id}/score`` is routed by Faust to the worker that owns the organisation's
partition, so any worker can be asked. Errors are JSON with an ``error`` field.
"""

from __future__ import annotations

from typing import Any

from .agents import enrich
from .app import Scorer
from .assess import level_view
from .publish import score_payload

__all__ = ["register_views"]


def _peer_urls(scorer: Scorer) -> list[str]:
    """Web addresses of the other workers of the group, from Faust's partition assignor."""
    me = str(scorer.app.conf.canonical_url).rstrip("/")
    try:
        hosts = scorer.app.router.tables_metadata().keys()
    except Exception:
        return []
    return sorted({str(h).rstrip("/") for h in hosts} - {me})


def register_views(scorer: Scorer) -> None:
    app = scorer.app

    @app.page("/health")
    async def health(web: Any, request: Any) -> Any:
        return web.json({"status": "ok"})

    @app.page("/ready")
    async def ready(web: Any, request: Any) -> Any:
        if scorer.registry.ready and not app.rebalancing:
            return web.json({"status": "ready", "organisations": len(scorer.registry.orgs)})
        return web.json({"status": "starting"}, status=503)

    @app.page("/orgs")
    async def orgs(web: Any, request: Any) -> Any:
        """All organisations: this worker's, plus (unless ``?local=1``) its peers'."""
        found = set(scorer.registry.orgs)
        if request.query.get("local") != "1":
            for url in _peer_urls(scorer):
                try:
                    async with app.http_client.get(f"{url}/orgs?local=1") as resp:
                        found.update((await resp.json())["orgs"])
                except Exception as exc:  # a peer mid-restart must not break the listing
                    return web.json(
                        {"error": "a worker did not answer", "worker": url, "detail": str(exc)},
                        status=503,
                    )
        return web.json({"orgs": sorted(found)})

    def _unknown(web: Any, org_id: str) -> Any:
        return web.json({"error": "unknown organisation", "org_id": org_id}, status=404)

    @app.page("/orgs/{org_id}/level")
    @app.table_route(table=scorer.tables.orgs, match_info="org_id")
    async def org_level(web: Any, request: Any, org_id: str) -> Any:
        state = scorer.registry.orgs.get(org_id)
        if state is None or state.first_month < 0:
            return _unknown(web, org_id)
        now = scorer.live_now()
        payload = score_payload(state, max(now, state.as_of))
        assessment = scorer.assessments.get(org_id)
        return web.json(level_view(assessment, payload, scorer.tables.profiles.get(org_id)))

    @app.page("/orgs/{org_id}/alerts")
    @app.table_route(table=scorer.tables.orgs, match_info="org_id")
    async def org_alerts(web: Any, request: Any, org_id: str) -> Any:
        if org_id not in scorer.registry.orgs:
            return _unknown(web, org_id)
        firing = scorer.assessments.get(org_id).firing
        return web.json({"org_id": org_id, "firing": sorted(firing.values(), key=str)})

    @app.page("/benchmarks")
    async def benchmarks(web: Any, request: Any) -> Any:
        """Published peer groups (a global table: every worker holds all of them)."""
        groups = [v["benchmark"] for v in list(scorer.benchmark_table.values())]
        return web.json({"groups": sorted(groups, key=lambda g: sorted(g["group"].items()))})

    @app.page("/orgs/{org_id}/score")
    @app.table_route(table=scorer.tables.orgs, match_info="org_id")
    async def org_score(web: Any, request: Any, org_id: str) -> Any:
        state = scorer.registry.orgs.get(org_id)
        if state is None or state.first_month < 0:
            return web.json({"error": "unknown organisation", "org_id": org_id}, status=404)
        now = scorer.live_now()
        payload = enrich(scorer, score_payload(state, max(now, state.as_of)))
        return web.json(payload.model_dump(mode="json"))
