"""``python -m engagement_simulator``: arguments, JSONL output, and the produce/live flow with
fakes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

import engagement_simulator.__main__ as cli
from engagement.events import KafkaRecord, decode_activity
from engagement.settings import Settings
from engagement_simulator.traffic import read_jsonl

from .conftest import END, NOW


@pytest.fixture(autouse=True)
def _keep_test_logging(monkeypatch: pytest.MonkeyPatch) -> None:
    """main() configures process-wide logging; tests must not replace pytest's handlers."""
    monkeypatch.setattr(cli, "configure_logging", lambda *a, **kw: None)


def test_parser_defaults_and_validation() -> None:
    args = cli.build_parser().parse_args([])
    assert (args.orgs, args.days, args.seed, args.live_minutes, args.rate) == (6, 30, 42, 0.0, 20.0)
    for bad in (["--duplicates", "2"], ["--orgs", "0"], ["--rate", "0"], ["--end", "2025-01-01"]):
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args(bad)


def test_profiles_path_sits_next_to_the_activity_file() -> None:
    assert cli.profiles_path(Path("out/log.jsonl")) == Path("out/log.profiles.jsonl")
    assert cli.profiles_path(Path("log")) == Path("log.profiles.jsonl")


def test_no_produce_writes_deterministic_jsonl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--orgs", "2", "--days", "3", "--seed", "9", "--end", END.isoformat(), "--no-produce"]
    first, second = tmp_path / "a" / "log.jsonl", tmp_path / "b" / "log.jsonl"
    assert cli.main([*argv, "--jsonl-out", str(first)]) == 0
    assert cli.main([*argv, "--jsonl-out", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    activity = read_jsonl(first)
    assert activity
    for record in activity:
        decode_activity(record.key, record.value, record.headers, now=NOW)
    assert len(read_jsonl(cli.profiles_path(first))) == 2
    assert "not produced" in capsys.readouterr().out


def test_remote_bootstrap_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--bootstrap", "10.9.8.7:9092", "--orgs", "1", "--days", "1"]) == 2
    assert "non-loopback" in capsys.readouterr().err


class FakeProducer:
    sent: list[tuple[str, KafkaRecord]] = []

    def __init__(self, bootstrap: str, **kw: Any) -> None:
        self.bootstrap = bootstrap

    async def __aenter__(self) -> FakeProducer:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass

    async def send_all(self, records: Any, topic: str, **kw: Any) -> int:
        batch = list(records)
        FakeProducer.sent.extend((topic, r) for r in batch)
        return len(batch)


async def test_run_produces_profiles_backfill_then_live(monkeypatch: pytest.MonkeyPatch) -> None:
    ensured: list[tuple[str, list[str], int, list[str]]] = []

    async def fake_ensure(
        bootstrap: str, names: list[str], partitions: int, *, compacted: list[str], **kw: Any
    ) -> list[str]:
        ensured.append((bootstrap, list(names), partitions, list(compacted)))
        return []

    FakeProducer.sent = []
    monkeypatch.setattr(cli, "ensure_topics", fake_ensure)
    monkeypatch.setattr(cli, "Producer", FakeProducer)
    settings = Settings(activity_topic="act", profiles_topic="prof", topic_partitions=3)
    args = cli.build_parser().parse_args(
        ["--orgs", "2", "--days", "2", "--live-minutes", "0.02", "--rate", "100"]
    )
    stats = cli.Stats()
    await cli.run(args, settings, stats)

    assert ensured == [(settings.kafka_bootstrap, ["act", "prof"], 3, ["prof"])]
    topics = [t for t, _ in FakeProducer.sent]
    assert topics[:2] == ["prof", "prof"]
    assert set(topics[2:]) == {"act"}
    assert stats.profiles == 2
    assert stats.backfill > 0
    assert 50 <= stats.live <= 130  # about 1.2 s at 100/s
    assert stats.total == len(FakeProducer.sent)


def test_main_reports_a_summary(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    async def fake_run(args: argparse.Namespace, settings: Settings, stats: cli.Stats) -> None:
        stats.profiles, stats.backfill = 2, 40

    monkeypatch.setattr(cli, "run", fake_run)
    assert cli.main(["--orgs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("simulator: produced 42 records (2 profiles, 40 backfill, 0 live)")


def test_topics_only_creates_topics_and_produces_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ensured: list[list[str]] = []

    async def fake_ensure(
        bootstrap: str, names: list[str], partitions: int, **kw: Any
    ) -> list[str]:
        ensured.append(list(names))
        return list(names)

    FakeProducer.sent = []
    monkeypatch.setattr(cli, "ensure_topics", fake_ensure)
    monkeypatch.setattr(cli, "Producer", FakeProducer)
    assert cli.main(["--topics-only"]) == 0
    settings = Settings()
    assert ensured == [[settings.activity_topic, settings.profiles_topic]]
    assert FakeProducer.sent == []
    assert "ready" in capsys.readouterr().out


def test_scenario_needs_enough_history_and_organisations(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as short:
        cli.main(["--scenario", "adoption-drop", "--days", "10", "--no-produce"])
    assert short.value.code == 2
    assert "--days 40" in capsys.readouterr().err
    with pytest.raises(SystemExit) as few:
        cli.main(["--scenario", "growth", "--orgs", "2", "--days", "30", "--no-produce"])
    assert few.value.code == 2
    assert "--orgs 4" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--scenario", "no-such-story"])


def test_scenario_shapes_the_written_history(tmp_path: Path) -> None:
    base = ["--orgs", "2", "--days", "3", "--seed", "9", "--end", END.isoformat(), "--no-produce"]
    plain, twins = tmp_path / "plain.jsonl", tmp_path / "twins.jsonl"
    assert cli.main([*base, "--jsonl-out", str(plain)]) == 0
    assert cli.main([*base, "--scenario", "community-vs-intranet", "--jsonl-out", str(twins)]) == 0
    plain_orgs = {r.key for r in read_jsonl(plain)}
    twin_orgs = {r.key for r in read_jsonl(twins)}
    assert plain_orgs < twin_orgs  # the twins are added, the originals kept
    assert len(read_jsonl(cli.profiles_path(twins))) > len(read_jsonl(cli.profiles_path(plain)))
