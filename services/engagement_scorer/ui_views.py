"""Organisation pages in the browser, served by the worker itself.

No build step and nothing from a CDN: the pages are the hand-written files in ``ui/`` (HTML,
vanilla JavaScript drawing inline SVG, CSS), served from memory. The pages read the public
query API (``/orgs``, ``/orgs/{id}/score``, ``/level``, ``/alerts``, ``/history`` for the
trend, the closed months and the CSV download, ``/advice``, ``/breakdowns``) and poll it
every few seconds; three small JSON endpoints under ``/ui/`` add what the API does not carry:

- ``GET /ui/profiles.json``: the level profiles the levels are computed against.
- ``GET /ui/api/orgs/{org_id}/profile``: name, target and the organisation's peer group with
  its published quartiles (the group is only published with at least k organisations).
- ``GET /ui/api/orgs/{org_id}/trend``: the in-memory 30-day trend, see :class:`TrendRecorder`
  (kept for API clients; the page draws its trend from the history, which survives restarts).

The recorder predates the history store: the worker that owns an organisation records,
in memory, the figures it publishes (a sampler follows the debounced score updates) and keeps
the latest figures of each local day of ``as_of``, for the last 30 days. A backfill streams
through its days at event time, so after one the trend covers the days it contained. The
trend starts empty when the worker starts or takes the organisation over in a rebalance; the
answer says since when it has been recording (``recording_since``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from engagement.domain import COMPONENTS, DEFAULT_PROFILES, LEVELS
from engagement.events import ScoreUpdated

from .context import WorkerContext
from .emitter import ScoreEmitter
from .publish import score_payload
from .views import org_route, scored_state, unknown_org

__all__ = ["TREND_DAYS", "TrendRecorder", "register_ui"]

UI_DIR = Path(__file__).with_name("ui")
TREND_DAYS = 30

_CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
}
_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}


def load_assets(directory: Path = UI_DIR) -> dict[str, tuple[bytes, str]]:
    """Every servable file of the UI directory: name -> (content, content type)."""
    assets = {}
    for path in sorted(directory.iterdir()):
        kind = _CONTENT_TYPES.get(path.suffix)
        if kind and path.is_file():
            assets[path.name] = (path.read_bytes(), kind)
    return assets


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class _OrgTrend:
    days: dict[date, dict[str, Any]] = field(default_factory=dict)
    digest: str | None = None  # the published digest last sampled
    as_of: int = -1  # the state's event time last sampled


class TrendRecorder:
    """Per organisation, the latest figures of each of the last ``days`` local days."""

    def __init__(self, days: int = TREND_DAYS, now: float | None = None) -> None:
        self.days = days
        self.since = datetime.fromtimestamp(time.time() if now is None else now, UTC)
        self.orgs: dict[str, _OrgTrend] = {}

    def observe(self, payload: ScoreUpdated) -> None:
        trend = self.orgs.setdefault(payload.org_id, _OrgTrend())
        day = payload.window_end
        current = trend.days.get(day)
        if current is not None and current["as_of"] > _iso(payload.as_of):
            return  # never replace a day's figures with older ones
        trend.days[day] = {
            "day": day.isoformat(),
            "as_of": _iso(payload.as_of),
            "engagement_score": payload.engagement_score,
            "components": {name: getattr(payload.components, name).value for name in COMPONENTS},
        }
        latest = max(trend.days)
        for old in [d for d in trend.days if d <= latest - timedelta(days=self.days)]:
            del trend.days[old]

    def points(self, org_id: str) -> list[dict[str, Any]]:
        trend = self.orgs.get(org_id)
        return [trend.days[d] for d in sorted(trend.days)] if trend else []

    def keep_only(self, org_ids: Iterable[str]) -> None:
        """Forget organisations this worker no longer owns."""
        keep = set(org_ids)
        for org_id in [o for o in self.orgs if o not in keep]:
            del self.orgs[org_id]

    def sample(self, emitter: ScoreEmitter) -> int:
        """Record the organisations whose published figures changed since the last sample.

        Figures are taken at the as_of the worker publishes them at
        (``ScoreEmitter.as_of_now``). Returns how many were recorded.
        """
        orgs = emitter.states.orgs
        self.keep_only(orgs)
        recorded = 0
        for org_id, digest in list(emitter.last_digest.items()):
            state = orgs.get(org_id)
            if state is None or state.first_month < 0:
                continue
            trend = self.orgs.setdefault(org_id, _OrgTrend())
            published = emitter.last_published.get(org_id)
            if trend.digest != digest and published is not None:
                # the figures the scorer just published: no need to compute them again
                trend.digest, trend.as_of = digest, state.as_of
                self.observe(published)
                recorded += 1
                continue
            if trend.digest == digest and (
                trend.as_of == state.as_of
                or state.calendar.day(trend.as_of) == state.calendar.day(state.as_of)
            ):
                continue  # same figures on the same local day: that day's point stands
            at = emitter.as_of_now(org_id, state.as_of)
            trend.digest, trend.as_of = digest, state.as_of
            self.observe(score_payload(state, at))
            recorded += 1
        return recorded


def profiles_body() -> dict[str, Any]:
    return {
        "levels": list(LEVELS),
        "components": list(COMPONENTS),
        "profiles": {level: DEFAULT_PROFILES[level].values() for level in LEVELS},
    }


def register_ui(ctx: WorkerContext) -> TrendRecorder:
    """Add the UI pages, their assets and JSON, and the trend sampler to the worker."""
    app, settings = ctx.app, ctx.settings
    assets = load_assets()
    recorder = TrendRecorder(now=ctx.clock.now())
    routed = org_route(ctx)

    def asset(web: Any, name: str) -> Any:
        found = assets.get(name)
        if found is None:
            return web.json({"error": "not found", "path": name}, status=404)
        body, kind = found
        return web.bytes(body, content_type=kind, headers=dict(_HEADERS))

    @app.page("/ui")
    async def ui_root(web: Any, request: Any) -> Any:
        return web.text("", status=302, headers={"Location": "/ui/"})

    @app.page("/ui/")
    async def ui_index(web: Any, request: Any) -> Any:
        return asset(web, "index.html")

    @app.page("/ui/orgs/{org_id}")
    async def ui_org(web: Any, request: Any, org_id: str) -> Any:
        return asset(web, "org.html")

    @app.page("/ui/assets/{name}")
    async def ui_asset(web: Any, request: Any, name: str) -> Any:
        return asset(web, name)

    @app.page("/ui/profiles.json")
    async def ui_profiles(web: Any, request: Any) -> Any:
        return web.json(profiles_body())

    @app.page("/ui/api/orgs/{org_id}/profile")
    @routed
    async def ui_org_profile(web: Any, request: Any, org_id: str) -> Any:
        state = scored_state(ctx, org_id)
        if state is None:
            return unknown_org(web, org_id)
        profile = ctx.read_model.profile(org_id)
        return web.json(
            {
                "org_id": org_id,
                "name": profile.name if profile else None,
                "sector": profile.sector if profile else None,
                "employees": profile.employees if profile else None,
                "platform_type": profile.platform_type if profile else None,
                "target_level": profile.target_level if profile else None,
                "timezone": state.timezone,
                "peer_group": ctx.read_model.peer_group(profile),
            }
        )

    @app.page("/ui/api/orgs/{org_id}/trend")
    @routed
    async def ui_org_trend(web: Any, request: Any, org_id: str) -> Any:
        state = scored_state(ctx, org_id)
        if state is None:
            return unknown_org(web, org_id)
        # The figures the score endpoint answers now are the trend's latest point.
        recorder.observe(score_payload(state, ctx.emitter.as_of_now(org_id, state.as_of)))
        return web.json(
            {
                "org_id": org_id,
                "days": recorder.days,
                "source": "figures observed by the owning worker since it started recording",
                "recording_since": _iso(recorder.since),
                "points": recorder.points(org_id),
            }
        )

    interval = min(1.0, max(0.1, settings.emit_interval_seconds))

    @app.timer(interval=interval)
    async def ui_trend_sampler() -> None:
        if ctx.states.ready:
            recorder.sample(ctx.emitter)

    return recorder
