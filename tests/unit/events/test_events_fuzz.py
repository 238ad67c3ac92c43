"""Fuzzing: whatever arrives on a topic, the decoders only return an event or raise
RejectedEvent (the stream must never stop on bad input)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from engagement.events import (
    INPUT_TYPES,
    InboundEvent,
    RejectedEvent,
    decode_activity,
    decode_org_profile,
    decode_output,
)

NOW = datetime(2025, 1, 31, 9, 0, tzinfo=UTC)
DECODERS = (decode_activity, decode_org_profile, decode_output)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

header_names = st.one_of(
    st.sampled_from(
        [
            "ce_specversion",
            "ce_id",
            "ce_source",
            "ce_type",
            "ce_time",
            "ce_subject",
            "CE_TYPE",
            "ce_",
            "content-type",
            "Content-Type",
            "traceparent",
        ]
    ),
    st.text(max_size=12),
    st.binary(max_size=12),
)
header_values = st.one_of(
    st.none(),
    st.binary(max_size=40),
    st.sampled_from(
        [
            b"1.0",
            b"0.3",
            b"application/cloudevents+json",
            b"application/json",
            b"text/plain",
            b"2025-01-31T08:00:00Z",
            b"intranet.visit.v1",
            b"intranet.org.profile.v1",
        ]
    ),
)
headers = st.one_of(
    st.none(),
    st.lists(st.tuples(header_names, header_values), max_size=8),
    st.dictionaries(st.text(max_size=12), st.binary(max_size=20), max_size=5),
)


def _check(key: Any, value: Any, hdrs: Any) -> None:
    for decode in DECODERS:
        outcome: InboundEvent | RejectedEvent
        try:
            outcome = decode(key, value, hdrs, now=NOW)
        except RejectedEvent as error:
            outcome = error
        # shows the spread of outcomes with --hypothesis-show-statistics
        event(f"{decode.__name__}: {getattr(outcome, 'reason', 'accepted')}")
        if isinstance(outcome, RejectedEvent):
            assert outcome.detail.encode("utf-8")  # always loggable / usable as a header
        else:
            assert isinstance(outcome, InboundEvent)
            assert outcome.time.tzinfo is UTC


@FUZZ
@given(
    key=st.one_of(st.none(), st.binary(max_size=16)),
    value=st.one_of(st.none(), st.binary()),
    hdrs=headers,
)
def test_random_bytes_only_ever_reject(key: Any, value: Any, hdrs: Any) -> None:
    _check(key, value, hdrs)


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=20),
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
attribute_values = st.one_of(
    json_values,
    st.sampled_from(
        [
            "1.0",
            "2025-01-31T08:00:00Z",
            "2025-01-31T08:00:00+99:99",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-23:59",
            *INPUT_TYPES,
            "org-1",
        ]
    ),
)
data_field_values = st.one_of(
    json_values,
    st.sampled_from(
        ["org-1", "acc-1", "message", "member", "like", "Europe/Amsterdam", "2025-01-01T00:00:00Z"]
    ),
    st.integers(min_value=-2, max_value=2_000),
)
field_names = st.sampled_from(
    [
        "org_id",
        "account_id",
        "content_id",
        "content_type",
        "kind",
        "activated_at",
        "audience_size",
        "employees",
        "timezone",
        "platform_type",
        "target_level",
        "extra",
    ]
)
attribute_names = st.sampled_from(
    [
        "specversion",
        "id",
        "source",
        "type",
        "time",
        "data",
        "subject",
        "datacontenttype",
        "data_base64",
        "traceid",
        "Bad_Name",
    ]
)


@st.composite
def envelopes(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with a few mutations, so fuzzing reaches the later checks too."""
    event_type = draw(st.sampled_from(sorted(INPUT_TYPES)))
    data = dict(draw(st.sampled_from(INPUT_TYPES[event_type].model_json_schema()["examples"])))
    data.update(draw(st.dictionaries(field_names, data_field_values, max_size=3)))
    for name in draw(st.lists(field_names, max_size=2)):
        data.pop(name, None)
    envelope: dict[str, Any] = {
        "specversion": "1.0",
        "id": "e-1",
        "source": "urn:x",
        "type": event_type,
        "time": "2025-01-31T08:00:00Z",
        "data": data,
    }
    envelope.update(draw(st.dictionaries(attribute_names, attribute_values, max_size=2)))
    for name in draw(st.lists(attribute_names, max_size=1)):
        envelope.pop(name, None)
    return envelope


keys = st.one_of(st.just(b"org-1"), st.none(), st.binary(max_size=8))


@FUZZ
@given(envelope=envelopes(), key=keys)
def test_structured_envelopes_only_ever_reject(envelope: dict[str, Any], key: Any) -> None:
    value = json.dumps(envelope).encode("utf-8", "surrogatepass")
    _check(key, value, [("content-type", b"application/cloudevents+json")])


@FUZZ
@given(envelope=envelopes(), key=keys, content_type=header_values)
def test_binary_envelopes_only_ever_reject(
    envelope: dict[str, Any], key: Any, content_type: bytes | None
) -> None:
    data = envelope.pop("data", None)
    hdrs = [(f"ce_{name}", str(v).encode("utf-8", "surrogatepass")) for name, v in envelope.items()]
    if content_type is not None:
        hdrs.append(("content-type", content_type))
    value = json.dumps(data).encode("utf-8", "surrogatepass")
    _check(key, value, hdrs)
