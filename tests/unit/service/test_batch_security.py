"""``python -m engagement_scorer.batch --topic`` reads with the worker's TLS/SASL settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiokafka
import pytest

from engagement_scorer import batch


class _Consumer:
    made: list[dict[str, Any]] = []

    def __init__(self, **kwargs: Any) -> None:
        _Consumer.made.append(kwargs)

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def partitions_for_topic(self, topic: str) -> set[int]:
        return set()


def test_batch_topic_reads_with_the_configured_sasl_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(aiokafka, "AIOKafkaConsumer", _Consumer)
    monkeypatch.setenv("ENGAGEMENT_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("ENGAGEMENT_KAFKA_SASL_USERNAME", "scorer")
    monkeypatch.setenv("ENGAGEMENT_KAFKA_SASL_PASSWORD", "s3cret")
    _Consumer.made.clear()
    out = tmp_path / "scores.json"
    assert batch.main(["--topic", "a", "--profiles-topic", "p", "--out", str(out)]) == 0
    assert len(_Consumer.made) == 2  # activity and profiles
    for kwargs in _Consumer.made:
        assert kwargs["security_protocol"] == "SASL_PLAINTEXT"
        assert kwargs["sasl_plain_username"] == "scorer"
        assert kwargs["sasl_plain_password"] == "s3cret"
    assert '"scores": {}' in out.read_text()
