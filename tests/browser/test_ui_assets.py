"""The UI's server side without a broker or a browser: assets and the trend recorder."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from engagement.domain import COMPONENTS, DEFAULT_PROFILES, LEVELS
from engagement.events import ComponentFigure, Components, ScoreUpdated
from engagement_scorer.ui_views import UI_DIR, TrendRecorder, load_assets, profiles_body

START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def payload(org: str, at: datetime, visit: int) -> ScoreUpdated:
    figures = {name: ComponentFigure.from_counts(visit, 100) for name in COMPONENTS}
    return ScoreUpdated(
        org_id=org,
        as_of=at,
        timezone="UTC",
        window_start=at.date() - timedelta(days=29),
        window_end=at.date(),
        components=Components(**figures),
        engagement_score=float(visit),
        month=at.strftime("%Y-%m"),
        month_to_date=Components(**figures),
        month_engagement_score=float(visit),
    )


def test_assets_are_self_contained() -> None:
    assets = load_assets()
    assert {"index.html", "org.html", "app.js", "style.css", "favicon.svg"} <= set(assets)
    assert assets["app.js"][1] == "text/javascript"
    assert set(assets) == {p.name for p in UI_DIR.iterdir()}, "every file in ui/ is served"
    for name, (body, _kind) in assets.items():
        text = body.decode()
        # nothing from elsewhere: the only absolute URL is the SVG namespace name
        urls = set(re.findall(r"https?://[^\s\"')]+", text)) - {"http://www.w3.org/2000/svg"}
        assert not urls, f"{name} refers to {urls}"
    for page in ("index.html", "org.html"):
        html = assets[page][0].decode()
        assert "<script>" not in html, "no inline scripts (the pages send a strict CSP)"
        assert 'src="/ui/assets/app.js"' in html


def test_profiles_are_the_domain_profiles() -> None:
    body = profiles_body()
    assert body["levels"] == list(LEVELS)
    assert body["components"] == list(COMPONENTS)
    for level in LEVELS:
        assert body["profiles"][level] == DEFAULT_PROFILES[level].values()


def test_trend_keeps_the_latest_figures_of_each_of_the_last_30_days() -> None:
    recorder = TrendRecorder(days=30, now=START.timestamp())
    for day in range(40):
        for hour, visit in ((0, day), (5, day + 1)):  # the later figure of a day wins
            recorder.observe(payload("o", START + timedelta(days=day, hours=hour), visit))
    points = recorder.points("o")
    assert len(points) == 30
    assert points[0]["day"] == (START.date() + timedelta(days=10)).isoformat()
    assert points[-1]["day"] == (START.date() + timedelta(days=39)).isoformat()
    assert [p["engagement_score"] for p in points] == [float(d + 1) for d in range(10, 40)]
    assert points[-1]["components"] == dict.fromkeys(COMPONENTS, 40.0)
    # an older figure never replaces a day's later one
    recorder.observe(payload("o", START + timedelta(days=39, hours=1), 99))
    assert recorder.points("o")[-1]["engagement_score"] == 40.0
    assert recorder.points("unknown") == []


def test_trend_forgets_organisations_the_worker_gave_up() -> None:
    recorder = TrendRecorder()
    for org in ("a", "b"):
        recorder.observe(payload(org, START, 50))
    recorder.keep_only(["b"])
    assert recorder.points("a") == []
    assert [p["day"] for p in recorder.points("b")] == [date(2025, 3, 1).isoformat()]
