"""Kafka <-> CloudEvents codec for the contract, built on the CloudEvents v2 SDK Kafka binding.

Inbound, the stream must never stop on bad input: `decode_activity`/`decode_org_profile` turn
*any* key/value/headers into either a validated :class:`InboundEvent` or a
:class:`RejectedEvent` whose :class:`DeadLetterReason` is put on the dead-letter record. No other
exception escapes for bad input. The checks run in a fixed order (documented in
`docs/contract/README.md`) so one bad record always gets the same reason.

The SDK does the CloudEvents parsing and attribute validation. It is lenient in places where our
contract is not (it invents a missing `id`/`time`, defaults `specversion` and falls back to
text for invalid JSON), so the raw attributes are checked here first.

Outbound, :func:`encode_event` publishes in binary mode (attributes in `ce_*` headers, the JSON
payload as the value); :func:`encode_structured` exists for tests and producers that prefer it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final, NoReturn

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.v1.event import CloudEvent
from pydantic import BaseModel, ValidationError

from .fields import in_event_time_range, is_rfc3339
from .models import (
    ACTIVITY_TYPES,
    ALL_TYPES,
    OUTPUT_TYPES,
    AccountCreated,
    BenchmarkUpdated,
    OrgProfile,
)
from .topics import ORG_PROFILE_TYPE, benchmark_key

__all__ = [
    "DEAD_LETTER_DETAIL_HEADER",
    "DEAD_LETTER_REASON_HEADER",
    "DEFAULT_MAX_FUTURE",
    "DEFAULT_MAX_VALUE_BYTES",
    "ID_NAMESPACE",
    "DeadLetterReason",
    "InboundEvent",
    "KafkaRecord",
    "RejectedEvent",
    "dead_letter_headers",
    "decode_activity",
    "decode_org_profile",
    "decode_output",
    "deterministic_id",
    "encode_event",
    "encode_structured",
]

DEAD_LETTER_REASON_HEADER: Final = "engagement_dlq_reason"
DEAD_LETTER_DETAIL_HEADER: Final = "engagement_dlq_detail"
DEFAULT_MAX_FUTURE: Final = timedelta(minutes=5)
DEFAULT_MAX_VALUE_BYTES: Final = 256 * 1024

#: Namespace of :func:`deterministic_id`; fixed forever, changing it changes every output id.
ID_NAMESPACE: Final = uuid.UUID("6f1d8c2e-5b0a-5c43-9e55-0e7a3c1b2d40")

_CONTENT_TYPE: Final = "content-type"
_CE_PREFIX: Final = "ce_"
_JSON: Final = "application/json"
_STRUCTURED_PREFIX: Final = "application/cloudevents"
_REQUIRED_ATTRIBUTES: Final = ("specversion", "id", "source", "type", "time")
_MAX_DETAIL_CHARS: Final = 300


class DeadLetterReason(StrEnum):
    """Why a record went to the dead-letter topic (value of the reason header and metric label)."""

    NOT_JSON = "not_json"
    NOT_CLOUDEVENT = "not_cloudevent"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_DATA = "invalid_data"
    FUTURE_TIME = "future_time"
    KEY_MISMATCH = "key_mismatch"
    OVERSIZED = "oversized"
    LATE = "late"  # decided by the stream processor (grace period), never by the codec


def _clip(text: str) -> str:
    """Keep details short and always encodable (lone surrogates can come from JSON escapes)."""
    safe = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return safe if len(safe) <= _MAX_DETAIL_CHARS else safe[: _MAX_DETAIL_CHARS - 3] + "..."


class RejectedEvent(Exception):
    """A record that breaks the contract; route it to the dead-letter topic.

    `detail` is a short human message (field path, attribute name); it never contains the
    payload, so it is safe to log and to put in a header.
    """

    def __init__(self, reason: DeadLetterReason, detail: str) -> None:
        self.reason = reason
        self.detail = _clip(detail)
        super().__init__(f"{reason.value}: {self.detail}")


def _reject(reason: DeadLetterReason, detail: str) -> NoReturn:
    raise RejectedEvent(reason, detail)


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """A validated inbound event: the CloudEvents attributes we use plus the typed payload."""

    id: str
    source: str
    type: str
    time: datetime  # aware, UTC
    data: BaseModel  # an instance of the model registered for `type`


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """What to hand to a Kafka producer: key, value and headers in order."""

    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]


HeadersIn = Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None


# ------------------------------------------------------------------------------------------------
# decoding
# ------------------------------------------------------------------------------------------------


def _header_pairs(headers: Any) -> list[tuple[Any, Any]]:
    if headers is None:
        return []
    if isinstance(headers, Mapping):
        return list(headers.items())
    pairs: list[tuple[Any, Any]] = []
    for item in headers:
        if not isinstance(item, tuple | list) or len(item) != 2:
            _reject(DeadLetterReason.NOT_CLOUDEVENT, "malformed Kafka header")
        pairs.append((item[0], item[1]))
    return pairs


def _normalise_headers(headers: Any) -> tuple[dict[str, bytes], str | None]:
    """Collect the CloudEvents-relevant headers (`ce_*` and `content-type`), lower-cased.

    Kafka allows repeated header names. Identical repeats are harmless and collapsed; repeats
    with different values make the attribute ambiguous, which is reported (as the second
    element) and turned into NOT_CLOUDEVENT once the value has been checked to be JSON.
    Other headers (tracing etc.) are ignored.
    """
    relevant: dict[str, bytes] = {}
    problem: str | None = None
    try:
        pairs = _header_pairs(headers)
    except RejectedEvent:
        return {}, "malformed Kafka header"
    except Exception:
        return {}, "unreadable Kafka headers"
    for raw_name, raw_value in pairs:
        if isinstance(raw_name, bytes | bytearray):
            try:
                name = bytes(raw_name).decode("utf-8")
            except UnicodeDecodeError:
                continue  # cannot be a ce_ header
        elif isinstance(raw_name, str):
            name = raw_name
        else:
            continue
        name = name.lower()
        if not (name.startswith(_CE_PREFIX) or name == _CONTENT_TYPE):
            continue
        if isinstance(raw_value, str):
            value = raw_value.encode("utf-8", "surrogatepass")
        elif isinstance(raw_value, bytes | bytearray | memoryview):
            value = bytes(raw_value)
        else:
            problem = problem or f"header {name!r} has no value"
            continue
        previous = relevant.setdefault(name, value)
        if previous != value:
            problem = problem or f"header {name!r} repeated with different values"
    return relevant, problem


def _content_type(headers: Mapping[str, bytes]) -> str:
    raw = headers.get(_CONTENT_TYPE)
    if raw is None:
        return ""
    try:
        return raw.decode("utf-8").strip().lower()
    except UnicodeDecodeError:
        return ""


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(value: bytes) -> Any:
    """Strict RFC 8259 parse: UTF-8 only, no NaN/Infinity; every failure is NOT_JSON."""
    try:
        return json.loads(value.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        _reject(DeadLetterReason.NOT_JSON, f"value is not JSON ({type(exc).__name__})")


def _check_attributes(attributes: Mapping[str, Any]) -> None:
    """Our contract's attribute rules, checked on the raw attributes before the SDK sees them."""
    for name in _REQUIRED_ATTRIBUTES:
        if name not in attributes or attributes[name] is None:
            _reject(DeadLetterReason.NOT_CLOUDEVENT, f"missing attribute {name!r}")
        value = attributes[name]
        if not isinstance(value, str) or not value:
            _reject(
                DeadLetterReason.NOT_CLOUDEVENT, f"attribute {name!r} must be a non-empty string"
            )
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            _reject(DeadLetterReason.NOT_CLOUDEVENT, f"attribute {name!r} is not valid text")
    if attributes["specversion"] != "1.0":
        _reject(DeadLetterReason.NOT_CLOUDEVENT, "specversion must be '1.0'")
    if not is_rfc3339(attributes["time"]):
        _reject(DeadLetterReason.NOT_CLOUDEVENT, "attribute 'time' is not RFC 3339")


def _binary_attributes(headers: Mapping[str, bytes]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for name, raw in headers.items():
        if not name.startswith(_CE_PREFIX):
            continue
        try:
            attributes[name[len(_CE_PREFIX) :]] = raw.decode("utf-8")
        except UnicodeDecodeError:
            _reject(DeadLetterReason.NOT_CLOUDEVENT, f"header {name!r} is not UTF-8")
    return attributes


def _sdk_event(mode_structured: bool, headers: Mapping[str, bytes], value: bytes) -> BaseCloudEvent:
    """Let the SDK build the event; any SDK complaint means the attributes are not valid."""
    # The key is handled by us (KEY_MISMATCH), so it is not given to the SDK, which would
    # otherwise fail on a non-UTF-8 key before we could classify it.
    message = ce_kafka.KafkaMessage(headers=dict(headers), key=None, value=value)
    try:
        if mode_structured:
            return ce_kafka.from_structured_event(message)
        return ce_kafka.from_binary_event(message)
    except Exception as exc:
        _reject(DeadLetterReason.NOT_CLOUDEVENT, f"invalid CloudEvent: {exc}")


def _validation_detail(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    parts = []
    for error in errors[:3]:
        path = ".".join(str(p) for p in ("data", *error["loc"]))
        parts.append(f"{path}: {error['msg']}")
    if len(errors) > 3:
        parts.append(f"(+{len(errors) - 3} more)")
    return "; ".join(parts)


def _expected_key(payload: BaseModel) -> str | None:
    """The Kafka key a payload must travel under: its org_id, or the benchmark group."""
    if isinstance(payload, BenchmarkUpdated):
        group = payload.group
        return benchmark_key(group.sector, group.size_band, group.platform_type)
    org_id = getattr(payload, "org_id", None)
    return org_id if isinstance(org_id, str) else None


def _decode(
    key: Any,
    value: Any,
    headers: Any,
    *,
    registry: Mapping[str, type[BaseModel]],
    now: datetime | None,
    max_future: timedelta,
    max_value_bytes: int,
) -> InboundEvent:
    if now is not None and now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")  # programming error, not bad input

    # 1. size
    if value is None or not isinstance(value, bytes | bytearray | memoryview) or len(value) == 0:
        _reject(DeadLetterReason.NOT_CLOUDEVENT, "empty value")
    value = bytes(value)
    if len(value) > max_value_bytes:
        _reject(DeadLetterReason.OVERSIZED, f"value is {len(value)} bytes (max {max_value_bytes})")

    # 2. JSON, in the mode the content-type announces
    relevant, header_problem = _normalise_headers(headers)
    structured = _content_type(relevant).startswith(_STRUCTURED_PREFIX)
    document = _parse_json(value)

    # 3. CloudEvents attributes
    if header_problem is not None:
        _reject(DeadLetterReason.NOT_CLOUDEVENT, header_problem)
    if structured:
        if not isinstance(document, dict):
            _reject(DeadLetterReason.NOT_CLOUDEVENT, "structured event must be a JSON object")
        _check_attributes(document)
        sdk_headers = {_CONTENT_TYPE: relevant[_CONTENT_TYPE]}
    else:
        _check_attributes(_binary_attributes(relevant))
        sdk_headers = relevant
    event = _sdk_event(structured, sdk_headers, value)

    # 4. type
    event_type = event.get_type()
    model = registry.get(event_type)
    if model is None:
        _reject(DeadLetterReason.UNKNOWN_TYPE, f"unknown type {event_type!r}")

    # 5. data
    data = event.get_data()
    if not isinstance(data, dict):
        _reject(DeadLetterReason.INVALID_DATA, "data must be a JSON object")
    try:
        payload = model.model_validate(data)
    except ValidationError as exc:
        _reject(DeadLetterReason.INVALID_DATA, _validation_detail(exc))

    # 6. time
    sdk_time = event.get_time()
    if sdk_time is None:  # pre-checked, but the SDK's own typing allows it
        _reject(DeadLetterReason.NOT_CLOUDEVENT, "missing attribute 'time'")
    try:
        event_time = sdk_time.astimezone(UTC)
    except (OverflowError, ValueError):
        _reject(DeadLetterReason.NOT_CLOUDEVENT, "attribute 'time' is out of range")
    if not in_event_time_range(event_time):
        _reject(DeadLetterReason.NOT_CLOUDEVENT, "attribute 'time' is out of range")
    if now is not None and event_time > now + max_future:
        _reject(DeadLetterReason.FUTURE_TIME, f"time {event_time.isoformat()} is in the future")

    # 7. key
    expected_key = _expected_key(payload)
    if key is None:
        _reject(DeadLetterReason.KEY_MISMATCH, "record has no key")
    try:
        key_text = key if isinstance(key, str) else bytes(key).decode("utf-8")
    except (UnicodeDecodeError, TypeError, ValueError):
        _reject(DeadLetterReason.KEY_MISMATCH, "key is not UTF-8")
    if key_text != expected_key:
        _reject(DeadLetterReason.KEY_MISMATCH, "key differs from data.org_id")

    # 8. cross-field rules of our own
    if (
        isinstance(payload, AccountCreated)
        and payload.activated_at is not None
        and payload.activated_at > event_time
    ):
        _reject(DeadLetterReason.INVALID_DATA, "data.activated_at: later than the event time")

    return InboundEvent(
        id=event.get_id(), source=event.get_source(), type=event_type, time=event_time, data=payload
    )


def decode_activity(
    key: bytes | None,
    value: bytes | None,
    headers: HeadersIn,
    *,
    now: datetime,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
) -> InboundEvent:
    """Decode one record of the activity topic (binary or structured mode).

    `now` is the wall-clock reference for the future-time check (aware datetime).
    Raises :class:`RejectedEvent` for every kind of bad input and nothing else.
    """
    return _decode(
        key,
        value,
        headers,
        registry=ACTIVITY_TYPES,
        now=now,
        max_future=max_future,
        max_value_bytes=max_value_bytes,
    )


_ORG_PROFILE_REGISTRY: Final[dict[str, type[BaseModel]]] = {ORG_PROFILE_TYPE: OrgProfile}


def decode_org_profile(
    key: bytes | None,
    value: bytes | None,
    headers: HeadersIn,
    *,
    now: datetime,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
) -> InboundEvent:
    """Decode one record of the org-profile topic; the type must be `intranet.org.profile.v1`.

    The topic is compacted: a tombstone (`value is None`) is a deletion marker, not an event;
    callers that care must check for it before decoding (here it is NOT_CLOUDEVENT).
    """
    return _decode(
        key,
        value,
        headers,
        registry=_ORG_PROFILE_REGISTRY,
        now=now,
        max_future=max_future,
        max_value_bytes=max_value_bytes,
    )


def decode_output(
    key: bytes | None,
    value: bytes | None,
    headers: HeadersIn,
    *,
    now: datetime | None = None,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
) -> InboundEvent:
    """Decode one record of an output topic (for consumers, end-to-end tests and tools).

    Same checks as the input side; the key must be the org_id, or `sector|size_band|
    platform_type` for benchmarks. With `now=None` (replays, simulated time) there is no
    future-time check.
    """
    return _decode(
        key,
        value,
        headers,
        registry=OUTPUT_TYPES,
        now=now,
        max_future=max_future,
        max_value_bytes=max_value_bytes,
    )


# ------------------------------------------------------------------------------------------------
# encoding
# ------------------------------------------------------------------------------------------------


def _attributes(
    type: str,
    source: str,
    id: str,
    time: datetime,
    subject: str | None,
    dataschema: str | None = None,
) -> dict[str, Any]:
    if time.utcoffset() is None:
        raise ValueError("time must be timezone-aware")
    attributes: dict[str, Any] = {
        "specversion": "1.0",
        "id": id,
        "source": source,
        "type": type,
        "time": time.astimezone(UTC),
    }
    if subject:
        attributes["subject"] = subject
    if dataschema:
        attributes["dataschema"] = dataschema
    attributes["datacontenttype"] = _JSON
    return attributes


def _check_model(type: str, data: BaseModel) -> None:
    expected = ALL_TYPES.get(type)
    if expected is not None and not isinstance(data, expected):
        raise TypeError(f"{type} carries {expected.__name__}, not {data.__class__.__name__}")


def _record(message: ce_kafka.KafkaMessage, key: str | None) -> KafkaRecord:
    return KafkaRecord(
        key=None if key is None else key.encode("utf-8"),
        value=message.value,
        headers=list(message.headers.items()),
    )


def encode_event(
    *,
    type: str,
    source: str,
    id: str,
    time: datetime,
    subject: str | None,
    data: BaseModel,
    key: str | None,
    dataschema: str | None = None,
) -> KafkaRecord:
    """Encode an event in binary mode: `ce_*` headers, `content-type: application/json`,
    value = `data.model_dump_json()`. An empty/None `subject` or `dataschema` is omitted."""
    _check_model(type, data)
    event = CloudEvent(
        _attributes(type, source, id, time, subject, dataschema),
        data.model_dump_json().encode("utf-8"),
    )
    return _record(ce_kafka.to_binary_event(event, key_mapper=lambda _e: None), key)


def encode_structured(
    *,
    type: str,
    source: str,
    id: str,
    time: datetime,
    subject: str | None,
    data: BaseModel,
    key: str | None,
) -> KafkaRecord:
    """Encode an event in structured mode (`application/cloudevents+json`, whole event as
    the value). The service itself publishes binary; this is for tests and the simulator."""
    _check_model(type, data)
    event = CloudEvent(_attributes(type, source, id, time, subject), data.model_dump(mode="json"))
    return _record(ce_kafka.to_structured_event(event, key_mapper=lambda _e: None), key)


def deterministic_id(*parts: str) -> str:
    """A stable event id: UUIDv5 over :data:`ID_NAMESPACE` of `"|".join(parts)`.

    Output ids derive from (org, type, as_of) so an event replayed after a restart gets the
    same id and consumers can deduplicate it.
    """
    return str(uuid.uuid5(ID_NAMESPACE, "|".join(parts)))


def dead_letter_headers(
    original: Sequence[tuple[str, bytes]] | Mapping[str, bytes] | None,
    reason: DeadLetterReason,
    detail: str,
) -> list[tuple[str, bytes]]:
    """Headers for the dead-letter copy: the original headers untouched and in order, then the
    reason and the (clipped) detail appended."""
    kept: list[tuple[str, bytes]] = (
        []
        if original is None
        else list(original.items() if isinstance(original, Mapping) else original)
    )
    return [
        *kept,
        (DEAD_LETTER_REASON_HEADER, reason.value.encode("utf-8")),
        (DEAD_LETTER_DETAIL_HEADER, _clip(detail).encode("utf-8")),
    ]
