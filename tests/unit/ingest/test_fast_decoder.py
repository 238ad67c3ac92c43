"""The fast decoder equals the reference decoder: same accept/reject, reason, detail, type and
``Activity`` (field values and their types), on the contract's fuzzing strategies and on
mutations of the simulator's real records; and it takes the simulator's traffic fast."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import pytest
from dateutil.parser import isoparse
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from engagement.events import ACTIVITY_TYPES, RejectedEvent, decode_activity
from engagement.fast_ingest import STATS, DecodeStats, decode_to_activity, try_fast_decode
from engagement.fast_ingest import _event_time as fast_event_time
from engagement.fast_ingest import _whole_second as fast_whole_second
from engagement.ingest import to_activity
from engagement_simulator.traffic import generate
from tests.unit.events.test_events_fuzz import (
    attribute_names,
    attribute_values,
    data_field_values,
    envelopes,
    field_names,
    header_values,
    keys,
)
from tests.unit.events.test_events_fuzz import headers as fuzz_headers

END = datetime(2025, 1, 31, tzinfo=UTC)
NOW = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)  # the fuzz strategies' event time is 08:00Z
MAX_FUTURE = timedelta(minutes=5)
MAX_BYTES = 256 * 1024


def property_settings(examples: int) -> settings:
    return settings(
        max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )


Raw = tuple[Any, Any, Any]


@cache
def real_records() -> tuple[tuple[bytes | None, bytes, tuple[tuple[str, bytes], ...]], ...]:
    """The simulator's traffic (binary and about 10 % structured mode), with duplicates."""
    log = generate(5, 4, 12, END, duplicates=0.05, disorder=0.1)
    return tuple((r.key, r.value, tuple(r.headers)) for r in log.activity)


def _outcome(decode: Any, key: Any, value: Any, headers: Any, **kw: Any) -> tuple[Any, ...]:
    try:
        event_type, activity = decode(key, value, headers, **kw)
    except RejectedEvent as exc:
        return ("rejected", exc.reason, exc.detail)
    except Exception as exc:  # e.g. the reference's ValueError for a naive `now`
        return ("raised", type(exc))
    types = tuple(type(getattr(activity, f.name)) for f in fields(activity))
    return ("accepted", type(event_type), event_type, activity, types)


def _reference(key: Any, value: Any, headers: Any, **kw: Any) -> tuple[str, Any]:
    inbound = decode_activity(key, value, headers, **kw)
    return inbound.type, to_activity(inbound)


def assert_same(
    key: Any,
    value: Any,
    headers: Any,
    *,
    now: datetime = NOW,
    max_future: timedelta = MAX_FUTURE,
    max_value_bytes: int = MAX_BYTES,
) -> bool:
    """Fast == reference on one record; True if the fast path took it."""
    kw = {"now": now, "max_future": max_future, "max_value_bytes": max_value_bytes}
    reference = _outcome(_reference, key, value, headers, **kw)
    stats = DecodeStats()
    combined = _outcome(decode_to_activity, key, value, headers, stats=stats, **kw)
    assert combined == reference
    assert stats.total == 1
    fast = try_fast_decode(key, value, headers, **kw)
    if fast is not None:  # the fast path alone never gives a different answer
        assert reference[0] == "accepted"
        assert reference[2:4] == fast
    assert stats.fast == (fast is not None)
    if currently_in_test_context():  # the spread, with --hypothesis-show-statistics
        label = reference[2] if reference[0] == "accepted" else reference[1]
        event(f"fast path: {fast is not None}; reference: {reference[0]} {label}")
    return fast is not None


# ---- the real traffic -------------------------------------------------------------------------


def test_the_simulators_traffic_takes_the_fast_path_with_the_reference_result() -> None:
    records = real_records()
    structured = sum(
        1 for _k, _v, h in records if h[0] == ("content-type", b"application/cloudevents+json")
    )
    assert 0 < structured < len(records)  # both modes are exercised
    now = END + timedelta(minutes=1)
    assert all(assert_same(k, v, list(h), now=now) for k, v, h in records)


def test_stats_count_fast_hits_and_fallbacks() -> None:
    key, value, headers = real_records()[0]
    stats = DecodeStats()
    now = END + timedelta(minutes=1)
    decode_to_activity(key, value, list(headers), now=now, stats=stats)
    decode_to_activity(key, value, dict(headers), now=now, stats=stats)  # a dict: fallback
    with pytest.raises(RejectedEvent):
        decode_to_activity(b"other-org", value, list(headers), now=now, stats=stats)
    assert (stats.fast, stats.fallback, stats.total) == (1, 2, 3)
    before = STATS.fast
    decode_to_activity(key, value, list(headers), now=now)
    assert STATS.fast == before + 1


# ---- cases the fast path must leave to the reference -------------------------------------------

_VISIT = {"org_id": "org-1", "account_id": "acc-1"}
_BINARY_HEADERS = [
    ("ce_specversion", b"1.0"),
    ("ce_id", b"e-1"),
    ("ce_source", b"urn:x"),
    ("ce_type", b"intranet.visit.v1"),
    ("ce_time", b"2025-01-31T08:00:00Z"),
    ("content-type", b"application/json"),
]


def _with(name: str, value: bytes | None) -> list[tuple[str, bytes]]:
    out = [(n, v) for n, v in _BINARY_HEADERS if n != name]
    return out if value is None else [*out, (name, value)]


@pytest.mark.parametrize(
    ("value", "headers"),
    [
        (json.dumps(_VISIT).encode(), _BINARY_HEADERS),  # plain: fast
        (b'{"org_id":"org-1","account_id":"acc-\\ud800"}', _BINARY_HEADERS),  # lone surrogate
        (b'{"org_id":"org-1","account_id":"acc-\\udc00\\ud800"}', _BINARY_HEADERS),
        (b'\xef\xbb\xbf{"org_id":"org-1","account_id":"a"}', _BINARY_HEADERS),  # BOM
        (b'{"org_id":"org-1","account_id":"a","n":1e400}', _BINARY_HEADERS),  # inf in json
        (b'{"org_id":"org-1","account_id":"a","n":' + b"9" * 5000 + b"}", _BINARY_HEADERS),
        (b'{"org_id":"org-1","account_id":"a","n":' + b"9" * 30 + b"}", _BINARY_HEADERS),
        (b'{"org_id":"x","account_id":"a","org_id":"org-1"}', _BINARY_HEADERS),  # last wins
        (b'{"org_id":"org-1","account_id":"a"} \n', _BINARY_HEADERS),
        (b'{"org_id":"org-1","account_id":"a"}\x00', _BINARY_HEADERS),
        (b'{"org_id":"org-1","account_id":"a","x":NaN}', _BINARY_HEADERS),
        (json.dumps(_VISIT).encode(), [*_BINARY_HEADERS, ("ce_id", b"e-1")]),  # same repeat
        (json.dumps(_VISIT).encode(), [*_BINARY_HEADERS, ("ce_id", b"e-2")]),  # ambiguous
        (json.dumps(_VISIT).encode(), [*_BINARY_HEADERS, ("CE_ID", b"e-2")]),
        (json.dumps(_VISIT).encode(), [*_BINARY_HEADERS, ("ce_subject", b"s")]),
        (json.dumps(_VISIT).encode(), [*_BINARY_HEADERS, ("ce_", b"s")]),
        (json.dumps(_VISIT).encode(), [*_BINARY_HEADERS, ("traceparent", b"00-ab")]),
        (json.dumps(_VISIT).encode(), [*_BINARY_HEADERS, (b"\xff", b"x")]),
        (
            json.dumps(_VISIT).encode(),
            [("Content-Type" if n == "content-type" else n, v) for n, v in _BINARY_HEADERS],
        ),
        (json.dumps(_VISIT).encode(), _with("content-type", None)),
        (json.dumps(_VISIT).encode(), _with("content-type", b"text/plain")),
        (json.dumps(_VISIT).encode(), _with("content-type", b"application/json; charset=utf-8")),
        (json.dumps(_VISIT).encode(), _with("content-type", b"Application/JSON")),
        (json.dumps(_VISIT).encode(), _with("content-type", b"")),
        (json.dumps(_VISIT).encode(), _with("ce_time", b"2025-01-31T08:00:00.1234567Z")),
        (json.dumps(_VISIT).encode(), _with("ce_time", b"2025-01-31T24:00:00Z")),
        (json.dumps(_VISIT).encode(), _with("ce_time", b"2025-01-30T24:00:00Z")),
        (json.dumps(_VISIT).encode(), _with("ce_time", b"2025-01-31t08:00:00z")),
        (json.dumps(_VISIT).encode(), _with("ce_time", b"2025-01-31T08:00:00+23:59")),
        (json.dumps(_VISIT).encode(), _with("ce_time", b"2025-01-31T08:00:00+24:00")),
        (json.dumps(_VISIT).encode(), _with("ce_time", b"2025-01-31T08:00:00-00:00")),
        (json.dumps(_VISIT).encode(), _with("ce_time", b"2025-02-29T08:00:00Z")),
        (json.dumps(_VISIT).encode(), _with("ce_time", b"2025-01-31T09:05:00Z")),  # edge
        (json.dumps(_VISIT).encode(), _with("ce_time", b"2025-01-31T09:05:00.000001Z")),
        (json.dumps(_VISIT).encode(), _with("ce_time", b"1969-12-31T23:59:59Z")),
        (json.dumps(_VISIT).encode(), _with("ce_time", b"1970-01-01T00:30:00+01:00")),
        (json.dumps(_VISIT).encode(), _with("ce_time", "2025-01-31T08:00:00Z")),
        (json.dumps(_VISIT).encode(), _with("ce_specversion", b"0.3")),
        (json.dumps(_VISIT).encode(), _with("ce_id", b"")),
        (json.dumps(_VISIT).encode(), _with("ce_source", b"\xff")),
        (json.dumps({**_VISIT, "client": None}).encode(), _BINARY_HEADERS),
        (json.dumps({**_VISIT, "client": True}).encode(), _BINARY_HEADERS),
        (json.dumps({**_VISIT, "extra": [1]}).encode(), _BINARY_HEADERS),
        (json.dumps({**_VISIT, "extra": 1.5}).encode(), _BINARY_HEADERS),
        (json.dumps({**_VISIT, "account_id": ""}).encode(), _BINARY_HEADERS),
        (json.dumps([_VISIT]).encode(), _BINARY_HEADERS),
    ],
)
def test_edge_cases_agree(value: bytes, headers: list[tuple[str, bytes]]) -> None:
    assert_same(b"org-1", value, headers)


def test_edge_case_keys_and_shapes_agree() -> None:
    value = json.dumps(_VISIT).encode()
    for key in (None, b"org-2", b"\xff", "org-1", bytearray(b"org-1"), b""):
        assert_same(key, value, _BINARY_HEADERS)
    assert_same(b"org-1", bytearray(value), _BINARY_HEADERS)
    assert_same(b"org-1", b"", _BINARY_HEADERS)
    assert_same(b"org-1", None, _BINARY_HEADERS)
    assert_same(b"org-1", value, _BINARY_HEADERS, max_value_bytes=len(value) - 1)
    assert_same(b"org-1", value, dict(_BINARY_HEADERS))
    assert_same(b"org-1", value, [list(h) for h in _BINARY_HEADERS])
    assert_same(b"org-1", value, None)
    assert_same(b"org-1", value, _BINARY_HEADERS, now=NOW.replace(tzinfo=None))


# ---- the contract's fuzzing strategies ---------------------------------------------------------


@property_settings(400)
@given(key=st.one_of(st.none(), st.binary(max_size=16)), value=st.binary(), hdrs=fuzz_headers)
def test_random_bytes_agree(key: Any, value: Any, hdrs: Any) -> None:
    assert_same(key, value, hdrs)


@property_settings(700)
@given(envelope=envelopes(), key=keys)
def test_structured_envelopes_agree(envelope: dict[str, Any], key: Any) -> None:
    value = json.dumps(envelope).encode("utf-8", "surrogatepass")
    assert_same(key, value, [("content-type", b"application/cloudevents+json")])


@property_settings(700)
@given(envelope=envelopes(), key=keys, content_type=header_values)
def test_binary_envelopes_agree(
    envelope: dict[str, Any], key: Any, content_type: bytes | None
) -> None:
    data = envelope.pop("data", None)
    hdrs = [(f"ce_{name}", str(v).encode("utf-8", "surrogatepass")) for name, v in envelope.items()]
    if content_type is not None:
        hdrs.append(("content-type", content_type))
    value = json.dumps(data).encode("utf-8", "surrogatepass")
    assert_same(key, value, hdrs)


# ---- mutations of real records ------------------------------------------------------------


@st.composite
def times(draw: st.DrawFn) -> str:
    """RFC 3339-ish times around every edge the SDK's isoparse and our checks have."""
    date = draw(
        st.sampled_from(
            [
                "2025-01-31",
                "2025-01-20",
                "2024-02-29",
                "2025-02-29",
                "2025-13-01",
                "2025-00-10",
                "2025-01-32",
                "0000-01-01",
                "0001-01-01",
                "1969-12-31",
                "1970-01-01",
                "8999-12-31",
                "9000-01-01",
                "9999-12-31",
                "2025-1-31",
                "20250131",
            ]
        )
    )
    sep = draw(st.sampled_from(["T", "T", "T", "t", " "]))
    clock = draw(
        st.sampled_from(
            [
                "08:00:00",
                "00:00:00",
                "23:59:59",
                "23:59:60",
                "24:00:00",
                "24:00:01",
                "12:60:00",
                "09:05:00",
                "09:04:59",
                "8:00:00",
                "08:00",
            ]
        )
    )
    fraction = draw(
        st.sampled_from(["", "", ".5", ".123", ".123456", ".1234567", ".999999999", "."])
    )
    offset = draw(
        st.sampled_from(
            [
                "Z",
                "Z",
                "z",
                "+00:00",
                "-00:00",
                "+01:00",
                "-05:30",
                "+23:59",
                "-23:59",
                "+24:00",
                "+23:60",
                "+00:60",
                "-05:75",
                "+99:99",
                "+0100",
                "+01",
                "",
            ]
        )
    )
    return f"{date}{sep}{clock}{fraction}{offset}"


odd_strings = st.sampled_from(["", "\ud800", "acc-\udfff", "é", "\x00", "s7-org-00", "org-1"])
literals = st.sampled_from(
    [
        "created",
        "edited",
        "member",
        "guest",
        "system",
        "implicit",
        "like",
        "comment",
        "message",
        "page",
        "document",
        "event",
        "Message",
        "web",
    ]
)
mutated_fields = st.one_of(
    field_names,
    st.sampled_from(["action", "client", "channel_id", "target_id", "content_type", "kind"]),
)
field_values = st.one_of(
    data_field_values,
    odd_strings,
    st.sampled_from([2**62 - 1, 2**62, -(2**62), 2**64, 10**30, 1.0, 0.5, True, False, None, 0]),
    literals,
    times(),
)
header_names = st.sampled_from(
    [
        "traceparent",
        "ce_subject",
        "ce_partitionkey",
        "Content-Type",
        "CE_ID",
        "ce_",
        "ce_Bad",
        "ce_time",
        "ce_type",
        "ce_id",
        "content-type",
        "CE_SPECVERSION",
    ]
)
content_types = st.sampled_from(
    [
        b"application/json",
        b"application/json; charset=utf-8",
        b"text/json",
        b"APPLICATION/JSON",
        b"application/cloudevents+json",
        b"application/cloudevents+json; charset=utf-8",
        b"text/plain",
        b"",
        b"application/json\n",
        b" application/json",
        b"\xff",
    ]
)


def _structured(headers: list[Any]) -> bool:
    return any(n == "content-type" and v == b"application/cloudevents+json" for n, v in headers)


def _mutate_json(draw: st.DrawFn, key: Any, value: Any, headers: list[Any]) -> Raw:
    try:
        document = json.loads(bytes(value).decode("utf-8"))
    except (ValueError, TypeError):
        return key, value, headers
    target = (
        document.get("data") if _structured(headers) and isinstance(document, dict) else document
    )
    if not isinstance(target, dict):
        return key, value, headers
    choice = draw(st.integers(0, 3))
    if choice == 0:
        target[draw(mutated_fields)] = draw(field_values)
    elif choice == 1:
        target.pop(draw(st.sampled_from(sorted(target) or ["org_id"])), None)
    elif choice == 2 and target is not document:
        document[draw(attribute_names)] = draw(st.one_of(attribute_values, times()))
    elif choice == 3 and target is not document:
        document.pop(draw(attribute_names), None)
    text = json.dumps(document, ensure_ascii=draw(st.booleans()))
    return key, text.encode("utf-8", "surrogatepass"), headers


def _set_time(draw: st.DrawFn, key: Any, value: Any, headers: list[Any]) -> Raw:
    text = draw(times())
    if _structured(headers):
        try:
            document = json.loads(value)
            document["time"] = text
        except (ValueError, TypeError):
            return key, value, headers
        return key, json.dumps(document).encode(), headers
    return key, value, [(n, text.encode() if n == "ce_time" else v) for n, v in headers]


def _drop_header(draw: st.DrawFn, key: Any, value: Any, headers: list[Any]) -> Raw:
    if headers:
        headers = list(headers)
        del headers[draw(st.integers(0, len(headers) - 1))]
    return key, value, headers


def _repeat_header(draw: st.DrawFn, key: Any, value: Any, headers: list[Any]) -> Raw:
    if not headers:
        return key, value, headers
    name, v = draw(st.sampled_from(headers))
    repeated = v if draw(st.booleans()) else draw(header_values)
    return key, value, [*headers, (name, repeated)]


def _extra_header(draw: st.DrawFn, key: Any, value: Any, headers: list[Any]) -> Raw:
    extra = (draw(header_names), draw(st.one_of(header_values, content_types)))
    at = draw(st.integers(0, len(headers)))
    return key, value, [*headers[:at], extra, *headers[at:]]


def _header_case(draw: st.DrawFn, key: Any, value: Any, headers: list[Any]) -> Raw:
    if not headers:
        return key, value, headers
    i = draw(st.integers(0, len(headers) - 1))
    name, v = headers[i]
    if not isinstance(name, str):
        return key, value, headers
    name = draw(st.sampled_from([name.upper(), name.title(), name.encode(), f" {name}"]))
    return key, value, [*headers[:i], (name, v), *headers[i + 1 :]]


def _content_type(draw: st.DrawFn, key: Any, value: Any, headers: list[Any]) -> Raw:
    kept = [(n, v) for n, v in headers if n != "content-type"]
    if draw(st.booleans()):
        kept.append(("content-type", draw(content_types)))
    return key, value, kept


def _binary_attribute(draw: st.DrawFn, key: Any, value: Any, headers: list[Any]) -> Raw:
    name = draw(st.sampled_from(["ce_specversion", "ce_id", "ce_source", "ce_type"]))
    new = draw(
        st.one_of(
            header_values,
            st.sampled_from(
                [b"", b"1.0", b"intranet.content.viewed.v1", b"intranet.nope.v1", b"\xff"]
            ),
        )
    )
    out = [(n, new if n == name else v) for n, v in headers]
    if new is None:
        out = [(n, v) for n, v in headers if n != name]
    return key, value, out


def _bytes(draw: st.DrawFn, key: Any, value: Any, headers: list[Any]) -> Raw:
    choice = draw(st.integers(0, 4))
    if not value:
        return key, value, headers
    if choice == 0:
        value += draw(st.sampled_from([b" ", b"\n", b"x", b"\x00", b"{}", b"\xff", b"\t\r\n"]))
    elif choice == 1:
        value = draw(st.sampled_from([b"\xef\xbb\xbf", b" ", b"\x0b", b"\n"])) + value
    elif choice == 2:
        value = value[: draw(st.integers(0, len(value)))]
    elif choice == 3:
        i = draw(st.integers(0, len(value) - 1))
        value = value[:i] + bytes([draw(st.integers(0, 255))]) + value[i + 1 :]
    else:  # a duplicate key in front: the later one wins in json.loads
        at = value.find(b'"org_id"') if draw(st.booleans()) else 1
        dup = draw(st.sampled_from([b'"org_id":"other",', b'"account_id":1,', b'"kind":"guest",']))
        value = value[:at] + dup + value[at:] if at > 0 else value
    return key, value, headers


def _key(draw: st.DrawFn, key: Any, value: Any, headers: list[Any]) -> Raw:
    new = draw(st.sampled_from([None, b"", b"\xff", b"other-org", "str-key"]))
    if new == "str-key":
        new = key.decode("utf-8", "replace") if isinstance(key, bytes) else key
    return new, value, headers


def _shape(draw: st.DrawFn, key: Any, value: Any, headers: list[Any]) -> Raw:
    choice = draw(st.integers(0, 4))
    if choice == 0:
        return key, value, dict(headers)
    if choice == 1:
        return key, value, [list(h) for h in headers]
    if choice == 2:
        return key, value, tuple(headers)
    if choice == 3:
        return key, bytearray(value), headers
    return (
        key,
        value,
        [(n, v.decode("utf-8", "replace") if isinstance(v, bytes) else v) for n, v in headers],
    )


MUTATIONS = (
    _mutate_json,
    _mutate_json,
    _set_time,
    _set_time,
    _drop_header,
    _repeat_header,
    _extra_header,
    _header_case,
    _content_type,
    _binary_attribute,
    _bytes,
    _key,
)


@st.composite
def mutated_records(draw: st.DrawFn) -> tuple[Raw, datetime, int]:
    key, value, headers = draw(st.sampled_from(real_records()))
    raw: Raw = (key, value, list(headers))
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), max_size=3)):
        raw = mutation(draw, *raw)
    if draw(st.integers(0, 9)) == 0:
        raw = _shape(draw, *raw)
    now = END + draw(
        st.sampled_from([timedelta(minutes=1), timedelta(days=-3), timedelta(days=-30)])
    )
    limit = draw(st.sampled_from([MAX_BYTES, 100, len(raw[1] or b""), len(raw[1] or b"") - 1]))
    return raw, now, limit


@property_settings(3000)
@given(case=mutated_records())
def test_mutated_real_records_agree(case: tuple[Raw, datetime, int]) -> None:
    (key, value, headers), now, limit = case
    assert_same(key, value, headers, now=now, max_value_bytes=limit)


_TYPES = {
    "created": "intranet.account.created.v1",
    "published": "intranet.content.published.v1",
    "viewed": "intranet.content.viewed.v1",
    "interaction": "intranet.interaction.v1",
    "visit": "intranet.visit.v1",
}
_MESSAGE = {**_VISIT, "content_id": "m-1", "content_type": "message"}


@pytest.mark.parametrize(
    ("kind", "data"),
    [
        ("created", {**_VISIT, "activated_at": "2025-01-30T08:00:00Z"}),
        ("created", {**_VISIT, "activated_at": "2025-01-30T08:00:00.25Z"}),
        ("created", {**_VISIT, "activated_at": "2025-01-30T09:00:00+01:00"}),
        ("created", {**_VISIT, "activated_at": "2025-01-31T08:00:01Z"}),  # after the event
        ("created", {**_VISIT, "activated_at": "1969-12-31T23:59:59Z"}),
        ("created", {**_VISIT, "activated_at": "2025-01-30"}),
        ("created", {**_VISIT, "activated_at": 1_700_000_000}),
        ("created", {**_VISIT, "activated_at": None, "kind": "guest"}),
        ("created", {**_VISIT, "kind": None}),
        ("created", {**_VISIT, "kind": "implicit"}),
        ("published", {**_MESSAGE, "audience_size": 3, "channel_id": "news"}),
        ("published", {**_MESSAGE, "audience_size": True}),
        ("published", {**_MESSAGE, "audience_size": 0}),
        ("published", {**_MESSAGE, "audience_size": None, "action": "edited"}),
        ("published", {**_MESSAGE, "action": None}),
        ("published", {**_MESSAGE, "channel_id": ""}),
        ("published", {**_MESSAGE, "content_type": "Message"}),
        ("viewed", _MESSAGE),
        ("viewed", {**_MESSAGE, "content_id": ""}),
        ("interaction", {**_VISIT, "kind": "like", "target_id": None}),
        ("interaction", {**_VISIT, "kind": "like", "target_id": ""}),
        ("interaction", {**_VISIT, "kind": "hug"}),
        ("visit", {**_VISIT, "client": ""}),
        ("visit", {**_VISIT, "client": 1}),
        ("visit", {**_VISIT, "org_id": 1}),
        ("visit", {"org_id": "org-1"}),
    ],
)
def test_payload_edge_cases_agree(kind: str, data: dict[str, Any]) -> None:
    headers = [(n, _TYPES[kind].encode() if n == "ce_type" else v) for n, v in _BINARY_HEADERS]
    assert_same(b"org-1", json.dumps(data).encode(), headers)


@st.composite
def activity_payloads(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A valid payload of one activity type with its own fields overridden, dropped or set to
    odd values, so every field rule of the models is exercised."""
    event_type = draw(st.sampled_from(sorted(ACTIVITY_TYPES)))
    model = ACTIVITY_TYPES[event_type]
    data = dict(draw(st.sampled_from(model.model_json_schema()["examples"])))
    data["org_id"] = "org-1"
    names = st.sampled_from([*sorted(model.model_fields), "extra"])
    for name in draw(st.lists(names, max_size=3)):
        data[name] = draw(field_values)
    for name in draw(st.lists(names, max_size=1)):
        data.pop(name, None)
    return event_type, data


@property_settings(1500)
@given(payload=activity_payloads())
def test_activity_payloads_agree(payload: tuple[str, dict[str, Any]]) -> None:
    event_type, data = payload
    headers = [(n, event_type.encode() if n == "ce_type" else v) for n, v in _BINARY_HEADERS]
    value = json.dumps(data, ensure_ascii=False).encode("utf-8", "surrogatepass")
    assert_same(b"org-1", value, headers)


canonical_times = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}{}".format,
    st.one_of(st.integers(0, 9999), st.integers(1969, 2025)),
    st.integers(0, 13),
    st.integers(0, 32),
    st.integers(0, 25),
    st.integers(0, 61),
    st.integers(0, 61),
    st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,6}", fullmatch=True)),
    st.one_of(
        st.just("Z"),
        st.builds(
            "{}{:02d}:{:02d}".format, st.sampled_from("+-"), st.integers(0, 25), st.integers(0, 61)
        ),
    ),
)


@property_settings(1000)
@given(text=canonical_times)
def test_canonical_times_parse_as_the_sdk_parses_them(text: str) -> None:
    """Where the fast path's parser accepts a canonical time, the SDK's isoparse gives the same
    instant (so the fast path never accepts a time the reference reads differently)."""
    fast = fast_event_time(text)
    if fast is not None:
        assert isoparse(text).astimezone(UTC) == fast


@property_settings(500)
@given(text=canonical_times)
def test_canonical_activated_at_times_agree(text: str) -> None:
    data = {**_VISIT, "activated_at": text}
    headers = [(n, _TYPES["created"].encode() if n == "ce_type" else v) for n, v in _BINARY_HEADERS]
    assert_same(b"org-1", json.dumps(data).encode(), headers)


@property_settings(1000)
@given(text=canonical_times)
def test_whole_second_times_read_as_the_general_parser_reads_them(text: str) -> None:
    """The usual headers' shortcut for ``...:SSZ`` times gives what ``_event_time`` gives, and
    declines (None) only what is not that form or no such time."""
    quick = fast_whole_second(text.encode())
    general = fast_event_time(text)
    if quick is not None:
        assert quick == general
        assert quick.tzinfo is UTC
    elif len(text) == 20 and text.endswith("Z"):
        assert general is None  # the shortcut declines only what the parser refuses too


@property_settings(500)
@given(text=canonical_times)
def test_records_with_any_canonical_time_agree(text: str) -> None:
    headers = [(n, text.encode() if n == "ce_time" else v) for n, v in _BINARY_HEADERS]
    assert_same(b"org-1", json.dumps(_VISIT).encode(), headers)


def test_the_usual_headers_in_another_shape_take_the_general_path_alike() -> None:
    """Lists for tuples, upper-case names, another order, a bytes subclass: not the shortcut's
    shape; the general path decides them, as the reference would."""

    class Bytes(bytes):
        pass

    value = json.dumps(_VISIT).encode()
    variants = [
        [list(h) for h in _BINARY_HEADERS],
        [(n.upper(), v) for n, v in _BINARY_HEADERS],
        list(reversed(_BINARY_HEADERS)),
        [(n, Bytes(v)) for n, v in _BINARY_HEADERS],
        [*_BINARY_HEADERS[:5], ("content-type", b"application/cloudevents+json")],
    ]
    for headers in variants:
        assert_same(b"org-1", value, headers)
