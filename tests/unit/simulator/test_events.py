"""Typed simulated events: the log keeps them, records are encoded from them, byte-pinned."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from engagement.events import KafkaRecord, decode_activity, encode_event, encode_structured
from engagement_simulator import events as sim_events
from engagement_simulator.events import SimEvent, encode, encode_all
from engagement_simulator.scenarios import SCENARIOS, apply_scenario, records_until
from engagement_simulator.traffic import LiveTraffic, SimulatedLog, generate, to_jsonl

from .conftest import END

FAR = datetime(9999, 1, 1, tzinfo=UTC)


def digest(records: list[KafkaRecord]) -> str:
    return hashlib.sha256(to_jsonl(records).encode()).hexdigest()


def small() -> SimulatedLog:
    return generate(7, 3, 6, END, duplicates=0.05, disorder=0.1, accounts_per_org=(10, 30))


def test_output_is_pinned_byte_for_byte() -> None:
    """The records of a fixed seed and end, as the generator gave them before it was split
    into modules (update only for an intended change of the generated traffic)."""
    log = small()
    live = LiveTraffic(log).batch(END + timedelta(minutes=1), 200)
    twins = apply_scenario("community-vs-intranet", small())
    assert len(log.activity) == 227
    assert digest(log.profiles).startswith("6008bebde7f44584")
    assert digest(log.activity).startswith("476cffd8f0bf9170")
    assert digest(live).startswith("953cfad74a3c8946")
    assert digest(twins.profiles).startswith("b761139e80a14817")
    assert digest(twins.activity).startswith("e3f721e465c1f82d")


def test_records_are_the_events_encoded(messy_log: SimulatedLog) -> None:
    assert len(messy_log.events) == len(messy_log.activity)
    for event, record in zip(messy_log.events, messy_log.activity, strict=True):
        decoded = decode_activity(record.key, record.value, record.headers, now=FAR)
        assert (decoded.id, decoded.type, decoded.source) == (event.id, event.type, event.source)
        assert int(decoded.time.timestamp()) == event.t
        assert decoded.data == event.data
        assert record.key == event.key.encode()


def test_a_duplicate_is_the_same_event(messy_log: SimulatedLog) -> None:
    """A re-sent record is the same event object again (encoded once, byte-identical)."""
    first: dict[str, SimEvent] = {}
    for event in messy_log.events:
        assert first.setdefault(event.id, event) is event
    assert len(first) < len(messy_log.events)


def test_sdk_fallback_gives_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    fast = small()
    monkeypatch.setattr(sim_events, "_fast_ok", lambda: False)
    slow = small()
    assert slow.activity == fast.activity
    assert slow.profiles == fast.profiles


def test_encode_modes() -> None:
    log = small()
    binary = next(e for e in log.events if not e.structured)
    structured = next(e for e in log.events if e.structured)
    for event, sdk in ((binary, encode_event), (structured, encode_structured)):
        expected = sdk(
            type=event.type,
            source=event.source,
            id=event.id,
            time=datetime.fromtimestamp(event.t, UTC),
            subject=None,
            data=event.data,
            key=event.key,
        )
        assert encode(event) == expected
    assert encode_all([binary, binary, structured]) == [
        encode(binary),
        encode(binary),
        encode(structured),
    ]


def test_scenarios_transform_events_and_leave_the_base_alone() -> None:
    base = generate(8, 4, 40, END, duplicates=0.05, accounts_per_org=(10, 20))
    before = list(base.events)
    for name in SCENARIOS:
        shaped = apply_scenario(name, base)
        assert len(shaped.events) == len(shaped.activity)
        assert base.events == before


def test_records_until_takes_the_log(messy_log: SimulatedLog) -> None:
    until = END - timedelta(days=3)
    kept = records_until(messy_log, until)
    expected = [
        r
        for r, e in zip(messy_log.activity, messy_log.events, strict=True)
        if e.t <= int(until.timestamp())
    ]
    assert kept == expected
    assert 0 < len(kept) < len(messy_log.activity)
