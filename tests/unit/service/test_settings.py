"""Settings come from ENGAGEMENT_* variables and .env, and refuse nonsense clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from engagement.settings import Settings


def test_defaults_are_the_contract_topics_and_local_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("ENGAGEMENT_"):
            monkeypatch.delenv(name)
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert s.activity_topic == "intranet.activity"
    assert s.dead_letter_topic == "intranet.activity.dlq"
    assert s.broker_url == "kafka://127.0.0.1:9092"
    assert s.scoring_rules().window_days == 30


def test_environment_and_dotenv_override_defaults(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("ENGAGEMENT_WEB_PORT=7000\nENGAGEMENT_WINDOW_DAYS=7\n")
    monkeypatch.setenv("ENGAGEMENT_WINDOW_DAYS", "14")
    monkeypatch.setenv("ENGAGEMENT_INCLUDED_KINDS", '["member", "guest"]')
    s = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert s.web_port == 7000
    assert s.window_days == 14  # the environment wins over .env
    assert s.scoring_rules().included_kinds == frozenset({"member", "guest"})


def test_unknown_account_kind_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGAGEMENT_INCLUDED_KINDS", '["robots"]')
    with pytest.raises(ValidationError, match="unknown account kinds"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_topic_names_lists_every_topic_setting_inputs_first() -> None:
    s = Settings(scores_topic="x.scores", dead_letter_topic="x.dlq")
    names = s.topic_names()
    assert list(names)[:2] == ["activity", "profiles"]
    assert names == {
        "activity": s.activity_topic,
        "profiles": s.profiles_topic,
        "dead_letter": "x.dlq",
        "scores": "x.scores",
        "monthly": s.monthly_topic,
        "level_changes": s.level_changes_topic,
        "alerts": s.alerts_topic,
        "benchmarks": s.benchmarks_topic,
    }
