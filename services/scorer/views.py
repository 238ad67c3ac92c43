"""The query API on the worker's web server.

``/orgs/{org_id}/score`` is routed by Faust to the worker that owns the organisation's
partition, so any worker can be asked. Errors are JSON with an ``error`` field.
"""

from __future__ import annotations

import time
from typing import Any

from .app import Scorer
from .publish import score_payload

__all__ = ["register_views"]


def register_views(scorer: Scorer) -> None:
    app, s = scorer.app, scorer.settings

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
        """Organisations owned by this worker (each worker answers for its partitions)."""
        return web.json({"orgs": sorted(scorer.registry.orgs)})

    @app.page("/orgs/{org_id}/score")
    @app.table_route(table=scorer.tables.orgs, match_info="org_id")
    async def org_score(web: Any, request: Any, org_id: str) -> Any:
        state = scorer.registry.orgs.get(org_id)
        if state is None or state.first_month < 0:
            return web.json({"error": "unknown organisation", "org_id": org_id}, status=404)
        now = int(time.time()) if s.live_clock else 0
        payload = score_payload(state, max(now, state.as_of))
        return web.json(payload.model_dump(mode="json"))
