"""The traffic generator: deterministic, valid against the contract, causally sound."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engagement.events import (
    AccountCreated,
    AccountDeleted,
    ContentPublished,
    ContentViewed,
    InboundEvent,
    Interaction,
    KafkaRecord,
    OrgProfile,
    Visit,
    decode_activity,
    decode_org_profile,
    encode_event,
    topics,
)
from engagement_simulator.traffic import (
    TIMEZONES,
    LiveTraffic,
    SimulatedLog,
    generate,
    read_jsonl,
    to_jsonl,
    write_jsonl,
)

from .conftest import END, NOW


def decode(record: KafkaRecord) -> InboundEvent:
    return decode_activity(record.key, record.value, record.headers, now=NOW)


def is_structured(record: KafkaRecord) -> bool:
    return dict(record.headers).get("content-type", b"").startswith(b"application/cloudevents")


# ------------------------------------------------------------------------------------------------
# determinism and validity
# ------------------------------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_log() -> None:
    first = generate(3, 3, 5, END, duplicates=0.05, disorder=0.1)
    second = generate(3, 3, 5, END, duplicates=0.05, disorder=0.1)
    assert first.profiles == second.profiles
    assert first.activity == second.activity
    assert first.org_ids == second.org_ids


def test_other_seed_or_end_gives_other_log() -> None:
    base = generate(3, 2, 3, END)
    assert generate(4, 2, 3, END).activity != base.activity
    shifted = generate(3, 2, 3, END + timedelta(hours=1))
    base_ids = {dict(r.headers).get("ce_id") for r in base.activity} - {None}
    shifted_ids = {dict(r.headers).get("ce_id") for r in shifted.activity} - {None}
    assert not base_ids & shifted_ids, "a log with another end must not reuse event ids"


def test_every_activity_record_decodes_and_is_keyed_by_its_org(
    plain_log: SimulatedLog, plain_events: list[InboundEvent]
) -> None:
    org_ids = set(plain_log.org_ids)
    for record, event in zip(plain_log.activity, plain_events, strict=True):
        org_id = event.data.org_id
        assert record.key == org_id.encode()
        assert org_id in org_ids
        assert event.source == f"urn:intranet:simulator:{org_id}"
        assert plain_log.start <= event.time <= plain_log.end


def test_messy_log_decodes_too(messy_log: SimulatedLog, messy_events: list[InboundEvent]) -> None:
    for record, event in zip(messy_log.activity, messy_events, strict=True):
        assert record.key == event.data.org_id.encode()


def test_profiles_one_per_org_with_variety() -> None:
    log = generate(5, 12, 2, END)
    profiles = [decode_org_profile(r.key, r.value, r.headers, now=NOW) for r in log.profiles]
    data = [p.data for p in profiles]
    assert all(isinstance(d, OrgProfile) for d in data)
    assert [d.org_id for d in data] == log.org_ids
    assert len(set(log.org_ids)) == 12
    for record, d in zip(log.profiles, data, strict=True):
        assert record.key == d.org_id.encode()
    assert {d.timezone for d in data} == set(TIMEZONES)
    assert len({d.sector for d in data}) > 1
    assert len({d.target_level for d in data}) > 1
    assert len({d.employees for d in data}) > 1


def test_event_ids_are_unique_per_source(plain_events: list[InboundEvent]) -> None:
    ids = [(e.source, e.id) for e in plain_events]
    assert len(ids) == len(set(ids))


def test_both_cloudevents_modes_are_used(plain_log: SimulatedLog) -> None:
    structured = sum(is_structured(r) for r in plain_log.activity)
    share = structured / len(plain_log.activity)
    assert 0.05 < share < 0.15


def test_binary_records_equal_encode_event(
    plain_log: SimulatedLog, plain_events: list[InboundEvent]
) -> None:
    """The fast binary path must produce exactly what the codec's encode_event produces."""
    for record, event in zip(plain_log.activity, plain_events, strict=True):
        if is_structured(record):
            continue
        expected = encode_event(
            type=event.type,
            source=event.source,
            id=event.id,
            time=event.time,
            subject=None,
            data=event.data,
            key=record.key.decode() if record.key else None,
        )
        assert record == expected


# ------------------------------------------------------------------------------------------------
# realism and causality
# ------------------------------------------------------------------------------------------------


def test_all_event_types_and_interaction_kinds_occur(plain_events: list[InboundEvent]) -> None:
    events = plain_events
    assert {e.type for e in events} == {
        topics.ACCOUNT_CREATED_TYPE,
        topics.ACCOUNT_DELETED_TYPE,
        topics.VISIT_TYPE,
        topics.CONTENT_PUBLISHED_TYPE,
        topics.CONTENT_VIEWED_TYPE,
        topics.INTERACTION_TYPE,
    }
    kinds = {e.data.kind for e in events if isinstance(e.data, Interaction)}
    assert kinds == {"like", "reaction", "comment", "chat_message", "program_completed"}
    published = [e.data for e in events if isinstance(e.data, ContentPublished)]
    assert {p.content_type for p in published} == {"message", "page", "document", "event"}
    assert {p.action for p in published} == {"created", "edited"}
    assert any(p.audience_size is not None for p in published)
    assert any(p.content_type == "message" and p.audience_size is None for p in published)


def test_accounts_cover_kinds_activation_and_inactivity(
    plain_log: SimulatedLog, plain_events: list[InboundEvent]
) -> None:
    events = plain_events
    created = [e.data for e in events if isinstance(e.data, AccountCreated)]
    assert {c.kind for c in created} == {"member", "guest", "system"}
    assert any(c.activated_at is not None and c.activated_at < plain_log.start for c in created)
    active = {
        (e.data.org_id, e.data.account_id)
        for e in events
        if not isinstance(e.data, AccountCreated | AccountDeleted)
    }
    never = [
        c
        for c in created
        if c.activated_at is None and (c.org_id, c.account_id) not in active and c.kind == "member"
    ]
    assert never, "some accounts are created but never log in"
    implicit = active - {(c.org_id, c.account_id) for c in created}
    assert implicit, "some accounts appear without account.created (SSO)"


def test_no_activity_after_deletion(plain_events: list[InboundEvent]) -> None:
    events = plain_events
    deleted = {
        (e.data.org_id, e.data.account_id): e.time
        for e in events
        if isinstance(e.data, AccountDeleted)
    }
    assert deleted
    for e in events:
        if isinstance(e.data, Visit | ContentViewed | Interaction | ContentPublished):
            at = deleted.get((e.data.org_id, e.data.account_id))
            assert at is None or e.time < at


def test_reads_never_precede_publication(
    plain_events: list[InboundEvent], messy_events: list[InboundEvent]
) -> None:
    for events in (plain_events, messy_events):
        published: dict[tuple[str, str], datetime] = {}
        for e in events:
            if isinstance(e.data, ContentPublished) and e.data.action == "created":
                key = (e.data.org_id, e.data.content_id)
                published[key] = min(e.time, published.get(key, e.time))
        reads = [e for e in events if isinstance(e.data, ContentViewed)]
        assert reads
        for e in reads:
            assert isinstance(e.data, ContentViewed)
            key = (e.data.org_id, e.data.content_id)
            assert key in published, f"read of unknown content {key}"
            assert e.time > published[key]


def test_weekday_rhythm(plain_events: list[InboundEvent]) -> None:
    visits = Counter(e.time.weekday() for e in plain_events if e.type == topics.VISIT_TYPE)
    weekday_mean = sum(visits[d] for d in range(5)) / 5
    weekend_mean = (visits[5] + visits[6]) / 2
    assert weekend_mean < weekday_mean / 3


def test_volume_roughly_follows_events_per_account_day() -> None:
    def per_account_day(rate: float) -> float:
        total = 0.0
        for seed in range(4):
            log = generate(seed, 4, 8, END, events_per_account_day=rate)
            accounts = sum(len(o.accounts) for o in log.world.orgs)
            total += len(log.activity) / (accounts * 8)
        return total / 4

    low, high = per_account_day(0.5), per_account_day(2.0)
    assert 0.3 < low < 0.8
    assert 1.3 < high < 2.8


# ------------------------------------------------------------------------------------------------
# produce order: event time, disorder, duplicates
# ------------------------------------------------------------------------------------------------


def test_plain_log_is_in_event_time_order(plain_events: list[InboundEvent]) -> None:
    times = [e.time for e in plain_events]
    assert times == sorted(times)


def test_duplicates_are_identical_resends_later_in_order(messy_log: SimulatedLog) -> None:
    first_position: dict[tuple[bytes, bytes], int] = {}
    repeats = 0
    for position, record in enumerate(messy_log.activity):
        identity = (record.value, repr(record.headers).encode())
        if identity in first_position:
            repeats += 1
            assert first_position[identity] < position
        else:
            first_position[identity] = position
    unique = len(first_position)
    assert repeats == round(0.1 * unique)


def test_disorder_fraction_and_bound(
    messy_log: SimulatedLog, messy_events: list[InboundEvent]
) -> None:
    seen: set[bytes] = set()
    running_max: datetime | None = None
    late = unique = 0
    for record, event in zip(messy_log.activity, messy_events, strict=True):
        time = event.time
        if record.value + repr(record.headers).encode() in seen:
            continue  # duplicates are late by construction; counted in the other test
        seen.add(record.value + repr(record.headers).encode())
        unique += 1
        if running_max is not None and time < running_max:
            late += 1
            assert running_max - time <= timedelta(days=3)
        running_max = time if running_max is None else max(running_max, time)
    assert 0.12 < late / unique <= 0.21


def test_fractions_are_validated() -> None:
    with pytest.raises(ValueError, match="fractions"):
        generate(1, 1, 1, END, duplicates=1.5)
    with pytest.raises(ValueError, match="timezone-aware"):
        generate(1, 1, 1, datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="accounts_per_org"):
        generate(1, 1, 1, END, accounts_per_org=(10, 5))


def test_accounts_per_org_range_is_respected() -> None:
    log = generate(8, 5, 2, END, accounts_per_org=(5, 8))
    assert all(5 <= len(o.accounts) <= 8 for o in log.world.orgs)


# ------------------------------------------------------------------------------------------------
# live traffic
# ------------------------------------------------------------------------------------------------


def test_live_batches_continue_the_world() -> None:
    log = generate(21, 3, 5, END)
    live = LiveTraffic(log)
    backfill_ids = {decode(r).id for r in log.activity}
    published = {
        (e.data.org_id, e.data.content_id): e.time
        for e in map(decode, log.activity)
        if isinstance(e.data, ContentPublished)
    }
    seen: set[str] = set()
    types: Counter[str] = Counter()
    deleted: dict[tuple[str, str], datetime] = {}
    for step in range(60):
        now = END + timedelta(seconds=10 * (step + 1))
        for record in live.batch(now, 30):
            event = decode_activity(record.key, record.value, record.headers, now=now)
            data = event.data
            assert event.time == now
            assert record.key == data.org_id.encode()
            assert event.id not in backfill_ids
            assert event.id not in seen
            seen.add(event.id)
            types[event.type] += 1
            account = (data.org_id, data.account_id)
            assert account not in deleted, "activity of a deleted account"
            if isinstance(data, AccountDeleted):
                deleted[account] = now
            if isinstance(data, ContentPublished):
                published[(data.org_id, data.content_id)] = now
            if isinstance(data, ContentViewed):
                assert published[(data.org_id, data.content_id)] < now
    assert types[topics.VISIT_TYPE]
    assert types[topics.CONTENT_VIEWED_TYPE]
    assert types[topics.INTERACTION_TYPE]
    assert types[topics.CONTENT_PUBLISHED_TYPE]


def test_live_batches_are_deterministic() -> None:
    now = END + timedelta(minutes=5)
    first = LiveTraffic(generate(2, 2, 3, END)).batch(now, 50)
    second = LiveTraffic(generate(2, 2, 3, END)).batch(now, 50)
    assert first == second


# ------------------------------------------------------------------------------------------------
# JSON lines
# ------------------------------------------------------------------------------------------------


def test_jsonl_round_trip_is_byte_exact(tmp_path: Path, messy_log: SimulatedLog) -> None:
    odd = [
        KafkaRecord(key=None, value=b"\x00\xffnot json", headers=[]),
        KafkaRecord(key=b"\xff\xfe-not-utf8", value=b"{}", headers=[("x-h", b"\x80\x81")]),
        KafkaRecord(key="örg-ü".encode(), value=b"v", headers=[("a", b""), ("a", b"dup")]),
    ]
    records = [*messy_log.profiles, *messy_log.activity[:300], *odd]
    path = tmp_path / "log.jsonl"
    assert write_jsonl(path, records) == len(records)
    assert read_jsonl(path) == records
    assert path.read_text(encoding="utf-8") == to_jsonl(records)
    assert to_jsonl(records).count("\n") == len(records)


def test_reads_count_per_message_is_at_most_audience(plain_events: list[InboundEvent]) -> None:
    """Distinct readers of a message never exceed its declared audience."""
    events = plain_events
    audience = {
        (e.data.org_id, e.data.content_id): e.data.audience_size
        for e in events
        if isinstance(e.data, ContentPublished) and e.data.audience_size is not None
    }
    readers: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for e in events:
        if isinstance(e.data, ContentViewed):
            readers[(e.data.org_id, e.data.content_id)].add(e.data.account_id)
    for key, size in audience.items():
        assert len(readers[key]) <= size


def test_end_is_normalised_to_utc() -> None:
    from zoneinfo import ZoneInfo

    local_end = END.astimezone(ZoneInfo("Asia/Tokyo"))
    assert generate(1, 1, 2, local_end).activity == generate(1, 1, 2, END).activity
    assert generate(1, 1, 2, local_end).end == END.astimezone(UTC)
