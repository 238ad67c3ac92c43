"""The organisation pages in a real browser show the worker's actual figures, live.

A worker scores five synthetic organisations of one peer group (so its benchmark is
published) laid out on the level profiles; one of them grows from Informing to Engaging over
the month. The index must list them all with the API's figures; the organisation page's radar
chart, peer chart, level, alerts, trend (from the history API), closed months, advice,
breakdowns and CSV link must carry the API's numbers (read back from the drawn SVG and tables:
data attributes and point positions), and must follow new traffic without a reload.
"""

from __future__ import annotations

import asyncio
import math
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engagement.domain import COMPONENTS, DEFAULT_PROFILES
from engagement.events import KafkaRecord, encode_event, topics
from engagement.events.models import ContentPublished, Interaction

from ..clock import TEST_NOW
from ..integration.harness import Topics, Worker, produce, wait_until
from ..integration.synthetic import Shape, activity, profile

pytestmark = pytest.mark.kafka

# The history ends at noon the day before TEST_NOW (its last day is END's date whatever
# TEST_NOW's hour), so the live step, later that day, never runs into the worker's future.
END = (TEST_NOW - timedelta(days=1)).replace(hour=12, minute=0, second=0)
LIVE = END + timedelta(hours=11)
SECTOR, EMPLOYEES = "ui-test", 120  # one peer group: ui-test | 100-499 | intranet
FOCUS = "ui-growing"


def require_ui(worker: Worker) -> None:
    try:
        with urllib.request.urlopen(worker.url + "/ui/profiles.json", timeout=10) as resp:
            status = resp.status
    except urllib.error.HTTPError as err:
        status = err.code
    if status != 200:
        pytest.fail(
            f"the worker does not serve the UI (GET /ui/profiles.json: {status}): "
            "create_app() in services/engagement_scorer/app.py must call register_ui(scorer)",
            pytrace=False,
        )


def shape_of(level: str) -> Shape:
    p = DEFAULT_PROFILES[level]
    return Shape(p.reach, p.visit, p.view, p.interact, p.contribute)


# org -> (target level, phases of activity)
ORGS: dict[str, tuple[str | None, list[tuple[int, Shape]]]] = {
    "ui-initiation": ("informing", [(30, shape_of("initiation"))]),
    "ui-informing": ("engaging", [(30, shape_of("informing"))]),
    "ui-engaging": ("engaging", [(30, shape_of("engaging"))]),
    "ui-co-creating": (None, [(30, shape_of("co_creating"))]),
    FOCUS: ("co_creating", [(15, shape_of("informing")), (15, shape_of("engaging"))]),
}


def fval(text: str | None) -> float | None:
    return None if text in (None, "") else float(text)  # type: ignore[arg-type]


def close(a: float | None, b: float | None, tolerance: float = 0.05) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= tolerance


def api_figures(worker: Worker, org: str) -> dict[str, Any]:
    """Everything the page should show for ``org``, from the JSON API."""
    status, score = worker.get(f"/orgs/{org}/score")
    assert status == 200, score
    _, level = worker.get(f"/orgs/{org}/level")
    _, alerts = worker.get(f"/orgs/{org}/alerts")
    _, days = worker.get(f"/orgs/{org}/history?granularity=day")
    _, months = worker.get(f"/orgs/{org}/history?granularity=month")
    _, advice = worker.get(f"/orgs/{org}/advice")
    _, breakdowns = worker.get(f"/orgs/{org}/breakdowns")
    return {
        "score": score,
        "level": level,
        "alerts": alerts,
        "days": days,
        "months": months,
        "advice": advice,
        "breakdowns": breakdowns,
    }


def peer_medians(worker: Worker) -> dict[str, float] | None:
    _, body = worker.get("/benchmarks")
    for group in body["groups"]:
        if group["group"]["sector"] == SECTOR:
            return {name: q["median"] for name, q in group["components"].items()}
    return None


def settled(worker: Worker) -> bool:
    """All five scored at the end of their history, group published, positions known."""
    medians = peer_medians(worker)
    if not medians or len(medians) < len(COMPONENTS):
        return False
    for org in ORGS:
        status, score = worker.get(f"/orgs/{org}/score")
        if status != 200 or score.get("benchmark_position") is None:
            return False
        if not score["as_of"].startswith(END.date().isoformat()):
            return False
    _, alerts = worker.get("/orgs/ui-initiation/alerts")
    return bool(alerts.get("firing"))  # Reach 90 < 95: component_below_threshold


def live_day(org: str, at: datetime, accounts: int = 12) -> list[KafkaRecord]:
    """A day of new contributions and likes from accounts that did not contribute before."""
    records = []
    for i in range(accounts):
        account = f"a{59 - i}"
        for n, (type_, data) in enumerate(
            (
                (
                    topics.CONTENT_PUBLISHED_TYPE,
                    ContentPublished(
                        org_id=org,
                        account_id=account,
                        content_id=f"live-page-{i}",
                        content_type="page",
                    ),
                ),
                (
                    topics.INTERACTION_TYPE,
                    Interaction(org_id=org, account_id=account, kind="comment"),
                ),
            )
        ):
            records.append(
                encode_event(
                    type=type_,
                    source=f"urn:test:{org}",
                    id=f"{org}-live-{i}-{n}",
                    time=at + timedelta(minutes=i, seconds=n),
                    subject=org,
                    data=data,
                    key=org,
                )
            )
    return records


# ------------------------------------------------------------------------------------------------
# what the page drew, read back from the DOM
# ------------------------------------------------------------------------------------------------

_READ_ORG_PAGE = """
() => {
  const out = {radar: {}, peers: {}, trend: [], alerts: [], components: {}};
  const radar = document.getElementById('radar');
  out.center = [Number(radar.dataset.cx), Number(radar.dataset.cy)];
  out.radius = Number(radar.dataset.radius);
  for (const dot of radar.querySelectorAll('circle[data-series]')) {
    const s = dot.dataset.series;
    (out.radar[s] = out.radar[s] || {})[dot.dataset.component] = {
      value: dot.dataset.value, cx: Number(dot.getAttribute('cx')),
      cy: Number(dot.getAttribute('cy')),
    };
  }
  out.targetLevel = (radar.querySelector('polygon[data-series=target]') || {dataset: {}})
    .dataset.level || null;
  for (const row of document.querySelectorAll('#peers g[data-component]')) {
    out.peers[row.dataset.component] = {...row.dataset};
  }
  for (const dot of document.querySelectorAll('#trend circle[data-series]')) {
    out.trend.push({...dot.dataset});
  }
  for (const li of document.querySelectorAll('#alerts li[data-alert]')) {
    out.alerts.push(li.dataset.alert + ':' + li.dataset.component);
  }
  for (const row of document.querySelectorAll('#components tbody tr')) {
    const cells = {};
    for (const td of row.querySelectorAll('td[data-field]')) {
      cells[td.dataset.field] = td.dataset.value;
    }
    out.components[row.dataset.component] = cells;
  }
  out.score = document.getElementById('score').dataset.value;
  out.level = document.getElementById('level').dataset.level;
  out.bestFit = document.getElementById('best-fit').dataset.level;
  out.confidence = document.getElementById('best-fit').dataset.confidence;
  out.target = document.getElementById('target').dataset.level;
  out.alertCount = document.getElementById('alert-count').dataset.count;
  out.asOf = document.body.dataset.asOf;
  out.title = document.getElementById('title').textContent;
  out.months = {};
  for (const row of document.querySelectorAll('#months tbody tr[data-month]')) {
    const cells = {};
    for (const td of row.querySelectorAll('td[data-component]')) {
      cells[td.dataset.component] = td.dataset.value;
    }
    cells.score = row.querySelector('td[data-field=score]').dataset.value;
    cells.level = row.querySelector('td[data-field=level]').dataset.level;
    out.months[row.dataset.month] = cells;
  }
  out.advice = [...document.querySelectorAll('#advice li[data-component]')].map(
    (li) => ({component: li.dataset.component, gap: li.dataset.gap, text: li.textContent}));
  out.channels = [...document.querySelectorAll('#channels tbody tr')].map((tr) => ({
    channel: tr.dataset.channel,
    messages: tr.querySelector('[data-field=messages]').textContent,
    reads: tr.querySelector('[data-field=reads]').textContent,
    audience: tr.querySelector('[data-field=audience]').textContent,
    view: tr.querySelector('[data-field=view]').dataset.value}));
  out.types = {};
  for (const tr of document.querySelectorAll('#content-types tbody tr')) {
    out.types[tr.dataset.type] = ['contributions', 'contributors', 'viewers'].map(
      (f) => tr.querySelector('[data-field=' + f + ']').textContent);
  }
  out.frequency = {};
  for (const tr of document.querySelectorAll('#visit-frequency tbody tr')) {
    out.frequency[tr.dataset.bucket] = tr.querySelector('[data-field=accounts]').textContent;
  }
  out.concentration = document.getElementById('concentration').dataset.share;
  out.csv = document.getElementById('csv').getAttribute('href');
  return out;
}
"""

_READ_INDEX = """
() => {
  const rows = {};
  for (const tr of document.querySelectorAll('#orgs tbody tr[data-org]')) {
    const row = {components: {}};
    for (const td of tr.querySelectorAll('td[data-component]')) {
      row.components[td.dataset.component] = td.dataset.value;
    }
    row.score = tr.querySelector('td[data-field=score]').dataset.value;
    row.level = tr.querySelector('td[data-field=level]').dataset.level;
    row.target = tr.querySelector('td[data-field=target]').dataset.level;
    row.relation = tr.querySelector('td[data-field=target]').dataset.relation;
    row.alerts = Number(tr.querySelector('td[data-field=alerts]').dataset.count);
    row.href = tr.querySelector('a').getAttribute('href');
    rows[tr.dataset.org] = row;
  }
  return rows;
}
"""


def org_page_mismatches(
    drawn: dict[str, Any], api: dict[str, Any], medians: dict[str, float]
) -> list[str]:
    """Every difference between the drawn org page and the API (empty: the page is right)."""
    score, level, alerts = api["score"], api["level"], api["alerts"]
    wrong: list[str] = []
    cx, cy = drawn["center"]
    radius = drawn["radius"]
    target = score["target_level"]
    expected_series = {
        "org": {c: score["components"][c]["value"] for c in COMPONENTS},
        "target": DEFAULT_PROFILES[target].values() if target else None,
        "peer": medians,
    }
    for series, expected in expected_series.items():
        if expected is None:
            if series in drawn["radar"]:
                wrong.append(f"radar draws a {series} series it should not")
            continue
        for c in COMPONENTS:
            dot = drawn["radar"].get(series, {}).get(c)
            if dot is None:
                wrong.append(f"radar: no {series} point for {c}")
                continue
            want = expected.get(c)
            if not close(fval(dot["value"]), want):
                wrong.append(f"radar {series}.{c}: data-value {dot['value']} != {want}")
            # The point's position encodes the value: distance from the centre / radius.
            drawn_value = math.hypot(dot["cx"] - cx, dot["cy"] - cy) / radius * 100
            if want is not None and not close(drawn_value, want, 0.05):
                wrong.append(f"radar {series}.{c}: drawn at {drawn_value:.2f}, value {want}")
    if drawn["targetLevel"] != target:
        wrong.append(f"target series level {drawn['targetLevel']} != {target}")
    for c in COMPONENTS:
        row = drawn["peers"].get(c, {})
        if not close(fval(row.get("value")), score["components"][c]["value"]):
            wrong.append(f"peers {c}: value {row.get('value')}")
        if not close(fval(row.get("median")), medians[c]):
            wrong.append(f"peers {c}: median {row.get('median')} != {medians[c]}")
        if row.get("position") != score["benchmark_position"].get(c):
            wrong.append(f"peers {c}: {row.get('position')} != {score['benchmark_position'][c]}")
        table = drawn["components"].get(c, {})
        if not close(fval(table.get("month")), score["month_to_date"][c]["value"]):
            wrong.append(f"table {c}: month to date {table.get('month')}")
        gap = (score["target_gap"] or {}).get(c)
        if not close(fval(table.get("gap")), gap):
            wrong.append(f"table {c}: gap {table.get('gap')} != {gap}")
    if not close(fval(drawn["score"]), score["engagement_score"]):
        wrong.append(f"score {drawn['score']} != {score['engagement_score']}")
    if (drawn["level"] or None) != score["operating_level"]:
        wrong.append(f"operating level {drawn['level']} != {score['operating_level']}")
    if drawn["bestFit"] != level["best_fit"] or not close(
        fval(drawn["confidence"]), level["confidence"], 0.0005
    ):
        wrong.append(f"best fit {drawn['bestFit']} {drawn['confidence']} != {level}")
    if (drawn["target"] or None) != target:
        wrong.append(f"target {drawn['target']} != {target}")
    firing = sorted(f"{a['alert']}:{a.get('component') or ''}" for a in alerts["firing"])
    if sorted(drawn["alerts"]) != firing or drawn["alertCount"] != str(len(firing)):
        wrong.append(f"alerts {drawn['alerts']} != {firing}")
    if drawn["asOf"] != score["as_of"]:
        wrong.append(f"as_of {drawn['asOf']} != {score['as_of']}")
    wrong += insight_mismatches(drawn, api)
    return wrong


def fetch_lines(url: str) -> tuple[str, list[str]]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.headers.get_content_type(), resp.read().decode().splitlines()


def insight_mismatches(drawn: dict[str, Any], api: dict[str, Any]) -> list[str]:
    """The history trend, closed months, advice, breakdowns and CSV link against the API."""
    wrong: list[str] = []
    history = {p["period"]: p for p in api["days"]["points"]}
    for dot in drawn["trend"]:
        point = history.get(dot["day"])
        if point is None:
            wrong.append(f"trend day {dot['day']} is not in the history")
            continue
        want = (
            point["engagement_score"]
            if dot["series"] == "score"
            else point["components"][dot["series"]]["value"]
        )
        if not close(fval(dot["value"]), want):
            wrong.append(f"trend {dot['series']} {dot['day']}: {dot['value']} != {want}")
    months = api["months"]["points"][-12:]
    if sorted(drawn["months"]) != [m["period"] for m in months]:
        wrong.append(f"months {sorted(drawn['months'])} != {[m['period'] for m in months]}")
    for m in months:
        row = drawn["months"].get(m["period"], {})
        for c in COMPONENTS:
            if not close(fval(row.get(c)), m["components"][c]["value"]):
                wrong.append(f"month {m['period']} {c}: {row.get(c)}")
        if not close(fval(row.get("score")), m["engagement_score"]):
            wrong.append(f"month {m['period']} score {row.get('score')}")
        if (row.get("level") or None) != m["level"]:
            wrong.append(f"month {m['period']} level {row.get('level')} != {m['level']}")
    advice = api["advice"]["advice"]
    drawn_advice = [(a["component"], fval(a["gap"])) for a in drawn["advice"]]
    if drawn_advice != [(a["component"], a["gap"]) for a in advice]:
        wrong.append(f"advice {drawn_advice} != {advice}")
    for shown, a in zip(drawn["advice"], advice, strict=False):
        if a["text"] not in shown["text"]:
            wrong.append(f"advice text for {a['component']}")
    b = api["breakdowns"]
    want_channels = [
        {
            "channel": c["channel"],
            "messages": str(c["messages"]),
            "reads": str(c["reads"]),
            "audience": str(c["audience"]),
            "view": c["view"],
        }
        for c in b["channels"]
    ]
    shown_channels = [{**c, "view": fval(c["view"])} for c in drawn["channels"]]
    if shown_channels != want_channels:
        wrong.append(f"channels {drawn['channels']} != {want_channels}")
    want_types = {
        t: [str(v["contributions"]), str(v["contributors"]), str(v["viewers"])]
        for t, v in b["content_types"].items()
    }
    if drawn["types"] != want_types:
        wrong.append(f"content types {drawn['types']} != {want_types}")
    if drawn["frequency"] != {k: str(v) for k, v in b["visit_frequency"].items()}:
        wrong.append(f"visit frequency {drawn['frequency']} != {b['visit_frequency']}")
    if not close(fval(drawn["concentration"]), b["concentration"]["top_share"]):
        wrong.append(f"concentration {drawn['concentration']}")
    if not (drawn["csv"] or "").endswith("/history?format=csv"):
        wrong.append(f"csv link {drawn['csv']}")
    return wrong


async def wait_for_page(page: Any, read: str, check: Any, what: str, seconds: float = 45.0) -> Any:
    """Poll what the page drew until ``check(drawn)`` reports no mismatch."""
    deadline = time.monotonic() + seconds
    problems: Any = ["never read"]
    drawn: Any = None
    while time.monotonic() < deadline:
        drawn = await page.evaluate(read)
        problems = check(drawn)
        if not problems:
            return drawn
        await page.wait_for_timeout(500)
    raise AssertionError(f"{what}: the page does not show the API's figures: {problems}")


# ------------------------------------------------------------------------------------------------


async def test_index_and_org_page_show_the_live_figures(
    created_topics: Topics,
    workers: list[Worker],
    tmp_path: Path,
    browser: Any,
    artifacts: Path,
) -> None:
    t = created_topics
    worker = Worker("ui-" + t.prefix, t, tmp_path).start()
    workers.append(worker)
    worker.wait_ready()
    require_ui(worker)
    await produce(
        t.profiles,
        [
            profile(org, sector=SECTOR, employees=EMPLOYEES, target=target)
            for org, (target, _) in ORGS.items()
        ],
    )
    records: list[KafkaRecord] = []
    for org, (_, phases) in ORGS.items():
        records += activity(org, phases, END)
    await produce(t.activity, records)
    wait_until(lambda: settled(worker), timeout=150, interval=1.0, what="all orgs scored")

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)

    # --- index: every organisation, with the API's figures ------------------------------------
    await page.goto(worker.url + "/ui")  # redirects to /ui/
    assert page.url == worker.url + "/ui/"
    _, listing = worker.get("/orgs")
    assert sorted(listing["orgs"]) == sorted(ORGS)

    def index_mismatches(rows: dict[str, Any]) -> list[str]:
        expected_rows = {org: api_figures(worker, org) for org in ORGS}
        wrong = []
        if sorted(rows) != sorted(ORGS):
            return [f"rows {sorted(rows)}"]
        for org, row in rows.items():
            score = expected_rows[org]["score"]
            for c in COMPONENTS:
                if not close(fval(row["components"][c]), score["components"][c]["value"]):
                    wrong.append(f"{org}.{c}: {row['components'][c]}")
            if not close(fval(row["score"]), score["engagement_score"]):
                wrong.append(f"{org} score {row['score']}")
            if (row["level"] or None) != score["operating_level"]:
                wrong.append(f"{org} level {row['level']}")
            if (row["target"] or None) != score["target_level"]:
                wrong.append(f"{org} target {row['target']}")
            if row["alerts"] != len(expected_rows[org]["alerts"]["firing"]):
                wrong.append(f"{org} alerts {row['alerts']}")
            if row["href"] != f"/ui/orgs/{org}":
                wrong.append(f"{org} link {row['href']}")
        return wrong

    rows = await wait_for_page(page, _READ_INDEX, index_mismatches, "index")
    assert rows["ui-initiation"]["alerts"] >= 1
    await page.screenshot(path=str(artifacts / "ui-index.png"), full_page=True)

    def org_page_now(drawn: dict[str, Any]) -> list[str]:
        """Mismatches against the API as it answers now (peer medians settle last)."""
        return org_page_mismatches(drawn, api_figures(worker, FOCUS), peer_medians(worker) or {})

    # --- the organisation page, reached by its link ----------------------------------------------
    await page.click(f"tr[data-org='{FOCUS}'] a")
    await page.wait_for_url(f"{worker.url}/ui/orgs/{FOCUS}")
    before = api_figures(worker, FOCUS)
    assert before["score"]["target_level"] == "co_creating"
    drawn = await wait_for_page(page, _READ_ORG_PAGE, org_page_now, "organisation page")
    assert FOCUS in drawn["title"]
    # The trend: the worker recorded the days the backfill streamed through, one point per
    # local day; the latest is today's figure.
    score_points = sorted(
        (p for p in drawn["trend"] if p["series"] == "score"), key=lambda p: p["day"]
    )
    assert len(score_points) >= 5, score_points
    assert score_points[-1]["day"] == before["score"]["window_end"]
    assert close(fval(score_points[-1]["value"]), before["score"]["engagement_score"])
    first_day = datetime.fromisoformat(score_points[0]["day"]).date()
    assert (END.date() - first_day).days <= 29
    # The organisation grew from Informing to Engaging: the score rose over the month.
    assert fval(score_points[-1]["value"]) > fval(score_points[0]["value"])  # type: ignore[operator]
    # The closed month (the history spans a month end for 30 days of history), the advice of
    # an organisation below its target and the breakdowns are there, not only equal.
    assert drawn["months"], "no closed month shown"
    assert drawn["advice"], "no advice shown (the organisation is below co_creating)"
    assert drawn["channels"]
    assert sum(int(n) for n in drawn["frequency"].values()) > 0
    # The CSV download: the history as CSV, one row per day the trend could draw.
    content_type, lines = fetch_lines(worker.url + drawn["csv"])
    assert content_type == "text/csv"
    assert lines[0].startswith("org_id,granularity,period,as_of,reach,")
    assert len(lines) - 1 == len(before["days"]["points"])
    await page.screenshot(path=str(artifacts / "ui-org.png"), full_page=True)

    # --- live: a new day of contributions shows up without a reload ----------------------------
    await produce(t.activity, live_day(FOCUS, LIVE))
    wait_until(
        lambda: worker.get(f"/orgs/{FOCUS}/score")[1]["as_of"] != before["score"]["as_of"],
        what="the live day scored",
    )
    # the debounced figures of the whole live day: poll until Contribute has risen (the page
    # check below polls the second stage, levels and alerts, against the API as it answers)
    contribute_before = before["score"]["components"]["contribute"]["value"]
    deadline = time.monotonic() + 30
    while True:
        after = api_figures(worker, FOCUS)
        if after["score"]["components"]["contribute"]["value"] > contribute_before:
            break
        assert time.monotonic() < deadline, (
            f"Contribute did not rise after the live day: {after['score']['components']}"
        )
        await asyncio.sleep(0.2)
    navigations = len([r for r in requests if r.endswith(f"/ui/orgs/{FOCUS}")])
    await wait_for_page(page, _READ_ORG_PAGE, org_page_now, "organisation page after new traffic")
    assert len([r for r in requests if r.endswith(f"/ui/orgs/{FOCUS}")]) == navigations, (
        "the page reloaded instead of updating"
    )
    await page.screenshot(path=str(artifacts / "ui-org-live.png"), full_page=True)

    # --- served by the worker alone --------------------------------------------------------------
    foreign = [u for u in requests if not u.startswith(worker.url)]
    assert not foreign, f"the pages fetched from elsewhere: {foreign}"
    assert not errors, f"browser errors: {errors}"
    await context.close()


async def test_unknown_organisation_page_says_so(
    created_topics: Topics, workers: list[Worker], tmp_path: Path, browser: Any
) -> None:
    worker = Worker("ui-" + created_topics.prefix, created_topics, tmp_path).start()
    workers.append(worker)
    worker.wait_ready()
    require_ui(worker)
    page = await browser.new_page()
    await page.goto(worker.url + "/ui/orgs/no-such-org")
    await page.wait_for_selector("body[data-missing='true']", timeout=20_000)
    assert "no-such-org" in (await page.text_content("#missing") or "")
    await page.goto(worker.url + "/ui/")
    await page.wait_for_selector("body[data-updated]", timeout=20_000)
    assert await page.is_visible("#empty")
    status, _ = worker.get("/ui/api/orgs/no-such-org/trend")
    assert status == 404
