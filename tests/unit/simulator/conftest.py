"""Shared generated logs for the simulator tests (generated once per session)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engagement.events import InboundEvent, decode_activity
from engagement_simulator.traffic import SimulatedLog, generate

END = datetime(2025, 3, 14, 15, 30, tzinfo=UTC)
NOW = END + timedelta(minutes=1)


@pytest.fixture(scope="session")
def plain_log() -> SimulatedLog:
    """No duplicates, no disorder: activity strictly in event-time order."""
    return generate(11, 6, 21, END, accounts_per_org=(20, 70))


@pytest.fixture(scope="session")
def messy_log() -> SimulatedLog:
    return generate(12, 4, 14, END, duplicates=0.1, disorder=0.2)


def _decode_all(log: SimulatedLog) -> list[InboundEvent]:
    return [decode_activity(r.key, r.value, r.headers, now=NOW) for r in log.activity]


@pytest.fixture(scope="session")
def plain_events(plain_log: SimulatedLog) -> list[InboundEvent]:
    """The plain log decoded (decoding raises on any contract violation)."""
    return _decode_all(plain_log)


@pytest.fixture(scope="session")
def messy_events(messy_log: SimulatedLog) -> list[InboundEvent]:
    return _decode_all(messy_log)
