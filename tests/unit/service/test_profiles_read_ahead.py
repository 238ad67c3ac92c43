"""Time zones read ahead from a snapshot of the profiles topic (engagement_scorer.profiles)."""

from __future__ import annotations

from datetime import UTC, datetime

from engagement.events import decode_org_profile
from engagement_scorer.profiles import ProfileSnapshot, timezones_of
from engagement_simulator.traffic import generate

END = datetime(2026, 3, 1, tzinfo=UTC)
LOG = generate(seed=3, orgs=4, days=1, end=END)
NOW = END  # the worker clock's moment: the codec's future-time check is against it


def _snapshot() -> ProfileSnapshot:
    snapshot = ProfileSnapshot()
    for record in LOG.profiles:
        assert record.key is not None
        snapshot.records[record.key.decode()] = (record.value, list(record.headers))
    return snapshot


def test_valid_profiles_give_their_time_zones() -> None:
    expected = {}
    for r in LOG.profiles:
        profile = decode_org_profile(r.key, r.value, r.headers, now=NOW).data
        expected[profile.org_id] = profile.timezone
    assert len(set(expected.values())) > 1  # the test means something: several zones
    assert timezones_of(_snapshot(), NOW) == expected


def test_withdrawn_and_invalid_profiles_give_none() -> None:
    snapshot = _snapshot()
    withdrawn, broken, *kept = sorted(snapshot.records)
    snapshot.records[withdrawn] = (None, [])
    value, headers = snapshot.records[broken]
    snapshot.records[broken] = (value[: len(value) // 2], headers)
    assert sorted(timezones_of(snapshot, NOW)) == sorted(kept)
