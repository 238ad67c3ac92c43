"""The ``make run`` demo: one peer group of at least k organisations (its benchmark is
published), and an organisation whose Reach drops during the live phase (an alert fires)."""

from __future__ import annotations

from typing import Any

import pytest

import engagement_simulator.__main__ as cli
from engagement.domain import DEFAULT_MIN_GROUP_SIZE, AlertRules, AlertTracker, OrgSnapshot
from engagement.events import OrgProfile, decode_activity, decode_org_profile
from engagement.settings import Settings
from engagement_scorer.batch import recompute, timezones_from
from engagement_scorer.org_profile import OrgProfileView
from engagement_simulator.demo import Demo, onboarding_wave, shape_demo
from engagement_simulator.traffic import generate

from .conftest import END, NOW

RULES = Settings().scoring_rules()


def profiles(log: Any) -> dict[str, OrgProfile]:
    out = {}
    for r in log.profiles:
        data = decode_org_profile(r.key, r.value, r.headers, now=NOW).data
        assert isinstance(data, OrgProfile)
        out[data.org_id] = data
    return out


def test_the_demo_puts_k_or_more_organisations_in_one_peer_group() -> None:
    log = shape_demo(generate(42, 8, 30, END))
    groups: dict[Any, list[str]] = {}
    for org, p in profiles(log).items():
        group = OrgProfileView.from_json(org, p.model_dump(mode="json"))
        assert group is not None
        groups.setdefault(group.group, []).append(org)
    biggest = max(groups.values(), key=len)
    assert len(biggest) >= max(Demo().group_size, DEFAULT_MIN_GROUP_SIZE)
    assert Demo().dropping(log) in biggest


def test_the_dropping_organisation_starts_at_full_reach_and_the_wave_fires_the_reach_alert() -> (
    None
):
    log = shape_demo(generate(42, 8, 30, END))
    demo = Demo()
    org = demo.dropping(log)
    zones = timezones_from(log.profiles)
    before = recompute(log.activity, RULES, zones).scores[org]
    reach = before["components"]["reach"]
    assert reach["numerator"] == reach["denominator"] > 0  # 100 %: no alert before
    wave = onboarding_wave(log, demo, int(END.timestamp()) + 60)
    assert all(decode_activity(r.key, r.value, r.headers, now=NOW).data.org_id == org for r in wave)
    after = recompute([*log.activity, *wave], RULES, zones).scores[org]
    reach_after = after["components"]["reach"]
    assert reach_after["numerator"] == reach["numerator"]
    assert reach_after["denominator"] == reach["denominator"] + len(wave)
    assert reach_after["value"] < AlertRules().reach_threshold

    tracker = AlertTracker(AlertRules())
    day = 700_000

    def snapshot(score: dict[str, Any]) -> OrgSnapshot:
        values = {k: v["value"] for k, v in score["components"].items()}
        return OrgSnapshot(values, score["engagement_score"], None, None, day)

    assert not [t for t in tracker.evaluate(snapshot(before), 1000) if t.status == "firing"]
    fired = [t for t in tracker.evaluate(snapshot(after), 1060) if t.status == "firing"]
    assert [(t.alert, t.component) for t in fired] == [("component_below_threshold", "reach")]


def test_the_demo_needs_enough_organisations() -> None:
    with pytest.raises(ValueError, match="at least 6"):
        shape_demo(generate(42, 4, 5, END))
    with pytest.raises(SystemExit):
        cli.main(["--demo", "--orgs", "3", "--no-produce"])


async def test_live_until_stopped_runs_on_and_sends_the_wave_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With --live-until-stopped the live loop has no deadline (here stopped from outside),
    and the demo's wave goes out once, after its delay."""
    import asyncio

    sent: list[Any] = []

    class Producer:
        async def send_all(self, records: Any, topic: str, **kw: Any) -> int:
            batch = list(records)
            sent.append(batch)
            return len(batch)

    log = shape_demo(generate(42, 8, 3, END))
    demo = Demo(drop_after=0.3)
    from engagement_simulator.live import LiveTraffic

    args = cli.build_parser().parse_args(["--live-until-stopped", "--demo", "--orgs", "8"])
    assert args.live_until_stopped
    waves: list[int] = []

    def wave(now: int) -> list[Any]:
        records = onboarding_wave(log, demo, now)
        waves.append(len(records))
        return records

    stats = cli.Stats()
    task = asyncio.ensure_future(
        cli._live(
            Producer(),  # type: ignore[arg-type]
            LiveTraffic(log),
            "act",
            rate=50,
            minutes=float("inf"),
            stats=stats,
            wave=(demo.drop_after, wave),
        )
    )
    await asyncio.sleep(2.5)
    assert not task.done()  # no deadline
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(waves) == 1
    assert stats.live >= waves[0] + 1
