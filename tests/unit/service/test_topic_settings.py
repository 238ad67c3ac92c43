"""What each topic of the service needs (engagement.kafka_admin.service_topics) and how the
broker's topics are compared with it (mismatches, TopicConfigError). The real broker side:
tests/integration/test_three_brokers.py."""

from __future__ import annotations

import pytest

from engagement.kafka_admin import (
    DAY_MS,
    TopicConfigError,
    TopicSpec,
    mismatches,
    service_topics,
)
from engagement.settings import Settings


def _specs(**settings: object) -> dict[str, TopicSpec]:
    s = Settings.model_construct(**settings)
    return {spec.name: spec for spec in service_topics(s, ["app-peer"], ["app-orgs-changelog"])}


def test_every_topic_of_the_service_has_a_spec() -> None:
    specs = _specs()
    assert set(Settings.model_construct().topic_names().values()) <= set(specs)
    assert {"app-peer", "app-orgs-changelog"} <= set(specs)


def test_retention_and_compaction_per_topic() -> None:
    specs = _specs()
    configs = {name: dict(spec.configs) for name, spec in specs.items()}
    assert configs["engagement.scores"] == {
        "cleanup.policy": "compact",
        "min.compaction.lag.ms": str(7 * DAY_MS),
    }
    assert configs["engagement.benchmarks"] == {"cleanup.policy": "compact"}
    # the official monthly figures never expire, neither by time nor by size
    assert configs["engagement.monthly"] == {
        "cleanup.policy": "delete",
        "retention.ms": "-1",
        "retention.bytes": "-1",
    }
    assert configs["engagement.alerts"] == {
        "cleanup.policy": "delete",
        "retention.ms": str(400 * DAY_MS),
    }
    assert configs["engagement.level-changes"]["retention.ms"] == str(400 * DAY_MS)
    assert configs["intranet.activity.dlq"]["retention.ms"] == str(30 * DAY_MS)
    assert configs["intranet.org-profiles"] == {"cleanup.policy": "compact"}
    assert configs["intranet.activity"] == {}  # the platforms' topic: nothing imposed
    assert configs["app-orgs-changelog"] == {"cleanup.policy": "compact"}
    assert configs["app-peer"] == {}


def test_replication_and_min_insync_replicas_are_configurable() -> None:
    specs = _specs(
        topic_replication_factor=3, topic_min_insync_replicas=2, alerts_retention_days=-1
    )
    for name, spec in specs.items():
        assert spec.replication_factor == 3, name
        own = name not in ("intranet.activity", "intranet.org-profiles")
        assert spec.check_replication is own, name
        assert (spec.configs.get("min.insync.replicas") == "2") is own, name
    assert specs["engagement.alerts"].configs["retention.ms"] == "-1"
    # unset: the broker's default, not checked
    assert all("min.insync.replicas" not in s.configs for s in _specs().values())


def test_min_insync_replicas_above_the_replication_factor_is_refused() -> None:
    with pytest.raises(ValueError, match="no write could ever be acknowledged"):
        _specs(topic_replication_factor=2, topic_min_insync_replicas=3)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGAGEMENT_TOPIC_REPLICATION_FACTOR", "3")
    monkeypatch.setenv("ENGAGEMENT_TOPIC_MIN_INSYNC_REPLICAS", "2")
    monkeypatch.setenv("ENGAGEMENT_TOPIC_CONFIG_CHECK", "warn")
    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (s.topic_replication_factor, s.topic_min_insync_replicas) == (3, 2)
    assert s.topic_config_check == "warn"
    monkeypatch.setenv("ENGAGEMENT_TOPIC_CONFIG_CHECK", "sometimes")
    with pytest.raises(ValueError, match="topic_config_check"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_mismatches_name_topic_setting_and_both_values() -> None:
    specs = [
        TopicSpec("scores", 3, {"cleanup.policy": "compact", "min.insync.replicas": "2"}),
        TopicSpec("monthly", 3, {"retention.ms": "-1"}),
        TopicSpec("activity", 3, {}, check_replication=False),
        TopicSpec("gone", 3, {}),
    ]
    actual = {
        "scores": (1, {"cleanup.policy": "delete", "min.insync.replicas": "2"}),
        "monthly": (3, {"retention.ms": "604800000"}),
        "activity": (1, {}),  # an input: its replication is the platforms' business
    }
    assert mismatches(specs, actual) == [
        "scores: replication factor is 1, expected 3",
        "scores: cleanup.policy is delete, expected compact",
        "monthly: retention.ms is 604800000, expected -1",
        "gone: missing on the broker",
    ]


def test_equal_configs_and_policy_order_are_no_mismatch() -> None:
    specs = [TopicSpec("t", 1, {"cleanup.policy": "compact,delete"})]
    assert mismatches(specs, {"t": (1, {"cleanup.policy": "delete, compact"})}) == []


def test_the_error_lists_every_problem_and_what_to_do() -> None:
    error = TopicConfigError(["a: x is 1, expected 2", "b: missing on the broker"])
    text = str(error)
    assert "\n  a: x is 1, expected 2\n  b: missing on the broker\n" in text
    assert "ENGAGEMENT_TOPIC_REPLICATION_FACTOR" in text
    assert "ENGAGEMENT_TOPIC_CONFIG_CHECK=warn" in text
    assert error.problems == ["a: x is 1, expected 2", "b: missing on the broker"]
