"""Shared builders for the event-contract tests: raw Kafka records in both CloudEvents modes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

NOW = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)
EVENT_TIME = "2025-01-31T08:59:00Z"

Raw = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]

_DROP = object()


class Records:
    """Builds raw (key, value, headers) triples, with any attribute overridden or dropped."""

    drop = _DROP

    @staticmethod
    def attributes(event_type: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "specversion": "1.0",
            "id": "evt-1",
            "source": "urn:test:producer",
            "type": event_type,
            "time": EVENT_TIME,
        }
        for name, value in (overrides or {}).items():
            if value is _DROP:
                attrs.pop(name, None)
            else:
                attrs[name] = value
        return attrs

    def binary(
        self,
        event_type: str,
        data: Any,
        *,
        key: bytes | None = b"org-1",
        attrs: dict[str, Any] | None = None,
        content_type: str | None = "application/json",
        value: bytes | None = None,
    ) -> Raw:
        headers = [
            (f"ce_{name}", str(v).encode("utf-8"))
            for name, v in self.attributes(event_type, attrs).items()
        ]
        if content_type is not None:
            headers.append(("content-type", content_type.encode("utf-8")))
        body = json.dumps(data).encode("utf-8") if value is None else value
        return key, body, headers

    def structured(
        self,
        event_type: str,
        data: Any,
        *,
        key: bytes | None = b"org-1",
        attrs: dict[str, Any] | None = None,
        value: bytes | None = None,
        extra_headers: list[tuple[str, bytes]] | None = None,
    ) -> Raw:
        envelope = {**self.attributes(event_type, attrs), "data": data}
        if data is _DROP:
            envelope.pop("data")
        body = json.dumps(envelope).encode("utf-8") if value is None else value
        headers = [("content-type", b"application/cloudevents+json"), *(extra_headers or [])]
        return key, body, headers


@pytest.fixture
def records() -> Records:
    return Records()


@pytest.fixture
def now() -> datetime:
    return NOW
