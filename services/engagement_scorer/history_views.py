"""The insight endpoints, answered by the worker that owns the organisation (forwarded like
every organisation endpoint, ``views.org_route``):

- ``GET /orgs/{org_id}/history``: day-end or closed-month figures, as JSON or CSV;
- ``GET /orgs/{org_id}/advice``: advice per component below the target level's profile
  (``engagement.domain.advice``, where all the wording is);
- ``GET /orgs/{org_id}/breakdowns``: View per channel, contributions and viewers by content
  type, visit frequency, contributor concentration (``engagement.domain.breakdowns``).

Also registers the rebuild of the breakdowns after a rebalance (their table's recovery).

History:
Query: ``granularity`` (``day``, default, or ``month``), ``from`` and ``to`` (inclusive:
``YYYY-MM-DD`` for days, ``YYYY-MM`` or a date for months; default: everything retained),
``format`` (``json`` or ``csv``; without it, an ``Accept: text/csv`` asks for CSV). Errors
are ``application/problem+json`` (RFC 9457).
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engagement.domain import COMPONENTS, Component, month_key_of, month_label
from engagement.domain.advice import advise
from engagement.domain.history import HistoryPoint
from engagement.events import ComponentFigure, Components

from .context import WorkerContext
from .openapi import Param, Problem, Route, register
from .publish import score_payload
from .views import org_route, problem, scored_state

__all__ = [
    "CSV_COLUMNS",
    "AdviceResponse",
    "HistoryPointModel",
    "HistoryResponse",
    "advice_response",
    "history_csv",
    "problem",
    "register_history_views",
]

Granularity = Literal["day", "month"]

#: the CSV header, in this order (stable: new columns are only ever appended)
CSV_COLUMNS: tuple[str, ...] = (
    "org_id",
    "granularity",
    "period",
    "as_of",
    *(f"{name}{suffix}" for name in COMPONENTS for suffix in ("", "_numerator", "_denominator")),
    "engagement_score",
    "level",
    "level_confidence",
)


class HistoryPointModel(BaseModel):
    """One local day's last figures, or one closed month's final figures."""

    period: str = Field(description="the local date (YYYY-MM-DD) or month (YYYY-MM)")
    as_of: datetime = Field(description="the moment of the figures")
    components: Components
    engagement_score: float | None
    level: str | None = Field(description="best-fit ambition level of these figures")
    level_confidence: float


class HistoryResponse(BaseModel):
    org_id: str
    granularity: Granularity
    from_: str | None = Field(alias="from", description="first period asked for (inclusive)")
    to: str | None = Field(description="last period asked for (inclusive)")
    retention_days: int
    points: list[HistoryPointModel]

    model_config = {"populate_by_name": True}


class AdviceModel(BaseModel):
    component: str
    value: float
    target_value: float = Field(description="the target level profile's value")
    gap: float = Field(description="value - target_value, in points")
    numerator: int
    denominator: int
    text: str = Field(description="one or two sentences, with the numbers behind them")


class AdviceResponse(BaseModel):
    org_id: str
    as_of: datetime
    operating_level: str | None
    target_level: str | None
    advice: list[AdviceModel]


def advice_response(ctx: WorkerContext, org_id: str) -> AdviceResponse | None:
    """The advice on the organisation's current figures (None: unknown organisation)."""
    state = scored_state(ctx, org_id)
    if state is None:
        return None
    payload = ctx.read_model.enrich(
        score_payload(state, ctx.emitter.as_of_now(org_id, state.as_of))
    )
    components = {
        name: Component(
            getattr(payload.components, name).numerator,
            getattr(payload.components, name).denominator,
        )
        for name in COMPONENTS
    }
    found = advise(components, payload.target_level, payload.operating_level)
    return AdviceResponse(
        org_id=org_id,
        as_of=payload.as_of,
        operating_level=payload.operating_level,
        target_level=payload.target_level,
        advice=[
            AdviceModel(
                component=a.component,
                value=a.value,
                target_value=a.target_value,
                gap=a.gap,
                numerator=a.numerator,
                denominator=a.denominator,
                text=a.text,
            )
            for a in found
        ],
    )


class BadQuery(ValueError):
    pass


def _point_model(period: str, point: HistoryPoint) -> HistoryPointModel:
    return HistoryPointModel(
        period=period,
        as_of=datetime.fromtimestamp(point.as_of, UTC),
        components=Components(
            **{
                name: ComponentFigure(
                    value=point.components[name].value,
                    numerator=point.components[name].numerator,
                    denominator=point.components[name].denominator,
                )
                for name in COMPONENTS
            }
        ),
        engagement_score=point.score,
        level=point.level,
        level_confidence=point.confidence,
    )


def _day(text: str, name: str) -> int:
    try:
        return date.fromisoformat(text).toordinal()
    except ValueError:
        raise BadQuery(f"{name}={text!r} is not a date (YYYY-MM-DD)") from None


def _month(text: str, name: str) -> int:
    if len(text) == 7:
        text += "-01"
    try:
        return month_key_of(date.fromisoformat(text).toordinal())
    except ValueError:
        raise BadQuery(f"{name}={text!r} is not a month (YYYY-MM) or a date") from None


def history_response(ctx: WorkerContext, org_id: str, query: Any) -> HistoryResponse:
    granularity = query.get("granularity", "day")
    if granularity not in ("day", "month"):
        raise BadQuery(f"granularity={granularity!r}: use day or month")
    lo, hi = query.get("from"), query.get("to")
    points: list[HistoryPointModel] = []
    history = ctx.history
    if granularity == "day":
        first = _day(lo, "from") if lo else 0
        last = _day(hi, "to") if hi else 10**7
        if first > last:
            raise BadQuery("from is after to")
        for day, point in history.days(org_id, first, last):
            points.append(_point_model(date.fromordinal(day).isoformat(), point))
    else:
        first = _month(lo, "from") if lo else 0
        last = _month(hi, "to") if hi else 10**7
        if first > last:
            raise BadQuery("from is after to")
        for key, point in history.months(org_id, first, last):
            points.append(_point_model(month_label(key), point))
    return HistoryResponse(
        org_id=org_id,
        granularity=granularity,
        from_=lo,
        to=hi,
        retention_days=history.retention_days,
        points=points,
    )


def history_csv(response: HistoryResponse) -> str:
    """The points as CSV: a header row (``CSV_COLUMNS``), one row per period, oldest first.
    Empty cells are null values."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for p in response.points:
        row: list[Any] = [
            response.org_id,
            response.granularity,
            p.period,
            p.as_of.isoformat().replace("+00:00", "Z"),
        ]
        for name in COMPONENTS:
            figure: ComponentFigure = getattr(p.components, name)
            row += [
                "" if figure.value is None else figure.value,
                figure.numerator,
                figure.denominator,
            ]
        row += [
            "" if p.engagement_score is None else p.engagement_score,
            p.level or "",
            p.level_confidence,
        ]
        writer.writerow(row)
    return out.getvalue()


def wants_csv(request: Any) -> bool:
    fmt = request.query.get("format")
    if fmt is not None:
        if fmt not in ("json", "csv"):
            raise BadQuery(f"format={fmt!r}: use json or csv")
        return fmt == "csv"
    accept = request.headers.get("Accept", "")
    return "text/csv" in accept and "application/json" not in accept


def known(ctx: WorkerContext, org_id: str) -> bool:
    return (
        org_id in ctx.states.orgs
        or ctx.history.day_span(org_id) is not None
        or ctx.history.month_span(org_id) is not None
    )


class BreakdownsResponse(BaseModel):
    """The breakdowns of an organisation's rolling window (docs/scoring.md, "Breakdowns")."""

    model_config = ConfigDict(extra="allow")

    org_id: str
    window: dict[str, str] = Field(description="start and end of the window (ISO dates)")


_ERRORS: dict[int, type[BaseModel] | str] = {404: Problem, 503: Problem}
register(
    Route(
        "/orgs/{org_id}/history",
        "History",
        {200: HistoryResponse, 400: Problem, **_ERRORS},
        description="Each local day's last figures, or each closed month's final figures; "
        "the same rows as CSV (text/csv, header row, fixed columns) with ?format=csv or "
        "Accept: text/csv.",
        params=(
            Param(
                "granularity",
                description="day (default) or month",
                schema={"type": "string", "enum": ["day", "month"]},
            ),
            Param("from", description="first day or month (YYYY-MM-DD or YYYY-MM)"),
            Param("to", description="last day or month (YYYY-MM-DD or YYYY-MM)"),
        ),
        tags=("organisations",),
    )
)
register(
    Route(
        "/orgs/{org_id}/advice",
        "Advice",
        {200: AdviceResponse, **_ERRORS},
        description="For each component below the target level's profile, what it takes.",
        tags=("organisations",),
    )
)
register(
    Route(
        "/orgs/{org_id}/breakdowns",
        "Breakdowns",
        {200: BreakdownsResponse, **_ERRORS},
        description="View per channel, by content type, visit frequency, contributor share.",
        tags=("organisations",),
    )
)


def register_history_views(ctx: WorkerContext) -> None:
    app = ctx.app
    routed = org_route(ctx)

    @app.page("/orgs/{org_id}/history")
    @routed
    async def org_history(web: Any, request: Any, org_id: str) -> Any:
        try:
            csv_wanted = wants_csv(request)
            if not known(ctx, org_id):
                return problem(
                    web, 404, "unknown organisation", f"no figures of {org_id!r}", org_id=org_id
                )
            response = history_response(ctx, org_id, request.query)
        except BadQuery as exc:
            return problem(web, 400, "bad query", str(exc), org_id=org_id)
        if csv_wanted:
            name = f"{org_id}-history-{response.granularity}.csv"
            return web.text(
                history_csv(response),
                content_type="text/csv",
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return web.json(response.model_dump(mode="json", by_alias=True))

    @app.page("/orgs/{org_id}/advice")
    @routed
    async def org_advice(web: Any, request: Any, org_id: str) -> Any:
        found = advice_response(ctx, org_id)
        if found is None:
            return problem(
                web, 404, "unknown organisation", f"no figures of {org_id!r}", org_id=org_id
            )
        return web.json(found.model_dump(mode="json"))

    @app.page("/orgs/{org_id}/breakdowns")
    @routed
    async def org_breakdowns(web: Any, request: Any, org_id: str) -> Any:
        state = scored_state(ctx, org_id)
        found = None
        if state is not None:
            window = state.figures(ctx.emitter.as_of_now(org_id, state.as_of))
            found = ctx.breakdowns.figures(org_id, window)
        if found is None:
            return problem(
                web, 404, "unknown organisation", f"no figures of {org_id!r}", org_id=org_id
            )
        return web.json({"org_id": org_id, **found})

    @ctx.tables.breakdowns.on_recover
    async def rebuild_breakdowns() -> None:
        ctx.breakdowns.rebuild(ctx.emitter.owns)
