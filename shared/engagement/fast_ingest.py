"""The fast decoder of the activity topic: a record straight to ``(type, Activity)``.

:func:`decode_to_activity` returns exactly what
``to_activity(decode_activity(key, value, headers, ...))`` returns, and raises exactly the
same :class:`~engagement.events.RejectedEvent` (reason and detail) when that rejects, at a
fraction of the cost. It does so by *accepting a subset*: :func:`try_fast_decode` takes a
record only when it can show that the reference decoder (the CloudEvents SDK plus the
contract's own checks, ``engagement.events.codec``) accepts it with the same result, and
returns ``None`` ("don't know") for anything else, for which the reference decoder then runs
unchanged. Rejections are rare (they go to the dead-letter topic), so they always take the
reference path, which decides their reason and detail exactly as before.

What the fast path takes (everything else goes to the reference decoder):

* the value is ``bytes``, not empty, at most ``max_value_bytes``; the headers are a list (or
  tuple) of ``(str, bytes)`` tuples, as aiokafka delivers them;
* binary mode: exactly the five headers ``ce_specversion``, ``ce_id``, ``ce_source``,
  ``ce_type``, ``ce_time`` (names compared lower-cased, as the reference does), each once,
  plus ``content-type`` once with exactly ``application/json``, or no ``content-type``; no
  other ``ce_*`` header; other headers (tracing and the like) are ignored, as the reference
  ignores them;
  the usual shape (those six, in the SDK's order, lower-case, ``content-type`` last) is
  recognised in one step, and a whole-second ``...:SSZ`` time read from a cache of hours,
  both giving exactly what the general handling gives (``_canonical_headers``,
  ``_whole_second``);
* structured mode: ``content-type`` exactly ``application/cloudevents+json`` and no ``ce_*``
  header; the document's keys among the five attributes, ``datacontenttype``
  (``application/json`` only) and ``data``;
* the JSON is parsed by msgspec, which is stricter than ``json.loads`` (it refuses lone
  surrogate escapes, NaN, out-of-range floats, a BOM) and agrees with it on everything it
  accepts; on top, ``data`` must be a flat object of strings, booleans, nulls and integers
  below 2**62, and attributes must be non-empty strings;
* ``time`` in the canonical form ``YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM)`` with an
  offset of at most 23:59, parsed by ``datetime.fromisoformat`` (whatever it accepts in that
  form, the SDK's dateutil ``isoparse`` accepts as the same instant), inside the contract's
  range and not in the future;
* ``data`` is validated as the type's pydantic model validates it: by a small builder per
  activity type for the plain subset (non-empty string ids, known literals, a strict
  ``audience_size >= 1``, omitted defaults, a UTC ``activated_at``), which builds the
  ``Activity`` as :func:`engagement.ingest.activity_of` does, or else by the model itself
  followed by ``activity_of``; the key is the payload's ``org_id``; an ``account.created``'s
  ``activated_at`` is not after the event time.

``tests/unit/ingest/test_fast_decoder.py`` holds the two decoders equal on the contract's
fuzzing strategies and on mutations of the simulator's records. msgspec is used rather than
orjson on purpose: orjson would turn large integers into errors or floats, and its mere
presence changes Faust's table codec (``tests/unit/ingest/test_no_orjson.py``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, get_args

import msgspec
from pydantic import BaseModel, ValidationError

from .domain import Activity, ActivityKind
from .events import ACTIVITY_TYPES, AccountCreated, decode_activity, topics
from .events.codec import DEFAULT_MAX_FUTURE, DEFAULT_MAX_VALUE_BYTES, HeadersIn
from .events.fields import (
    AccountKind,
    ContentType,
    InteractionKind,
    PublishAction,
    in_event_time_range,
)
from .ingest import activity_of, epoch_seconds, to_activity

__all__ = ["STATS", "DecodeStats", "decode_to_activity", "try_fast_decode"]


@dataclass(slots=True)
class DecodeStats:
    """How many records took the fast path and how many the reference decoder (accepted or
    rejected). Plain ints: the caller reads them (e.g. per batch) and reports the hit rate."""

    fast: int = 0
    fallback: int = 0

    @property
    def total(self) -> int:
        return self.fast + self.fallback


#: The counters :func:`decode_to_activity` uses unless given its own.
STATS: Final = DecodeStats()

_CONTENT_TYPE: Final = "content-type"
_JSON: Final = b"application/json"
_STRUCTURED: Final = b"application/cloudevents+json"
_CE_NAMES: Final = ("ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time")
_KNOWN_HEADERS: Final = frozenset((*_CE_NAMES, _CONTENT_TYPE))
_STRUCTURED_KEYS: Final = frozenset(
    ("specversion", "id", "source", "type", "time", "datacontenttype", "data")
)
_ATTRIBUTES: Final = ("id", "source", "type", "time")
_MAX_INT: Final = 1 << 62
_TIME: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"  # fromisoformat would take +00:60, isoparse not
)
_decode_json = msgspec.json.decode


def _relevant_headers(headers: Any) -> dict[str, bytes] | None:
    """The CloudEvents headers by lower-cased name, or None when the reference's header
    handling could differ (odd shapes, repeats, other ``ce_*`` names, non-bytes values)."""
    if type(headers) is not list and type(headers) is not tuple:
        return None
    found: dict[str, bytes] = {}
    for item in headers:
        if type(item) is not tuple or len(item) != 2:
            return None
        name, value = item
        if type(name) is not str:
            return None
        low = name if name in _KNOWN_HEADERS else name.lower()  # usually already lower-case
        if low in _KNOWN_HEADERS:
            if type(value) is not bytes or low in found:
                return None
            found[low] = value
        elif low.startswith("ce_"):
            return None
    return found


def _flat(data: Any) -> bool:
    """A JSON object whose values msgspec and ``json.loads`` certainly read alike."""
    if type(data) is not dict:
        return False
    for v in data.values():
        t = type(v)
        if t is int:
            if not -_MAX_INT < v < _MAX_INT:
                return False
        elif t is not str and v is not None and t is not bool:
            return False
    return True


def _event_time(text: str) -> datetime | None:
    if _TIME.fullmatch(text) is None:
        return None
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _binary(found: dict[str, bytes], value: bytes) -> tuple[dict[str, str], Any] | None:
    content_type = found.get(_CONTENT_TYPE)
    if len(found) != (5 if content_type is None else 6) or (
        content_type is not None and content_type != _JSON
    ):
        return None
    if found["ce_specversion"] != b"1.0":
        return None
    try:
        attributes = {name[3:]: found[name].decode("utf-8") for name in _CE_NAMES[1:]}
    except UnicodeDecodeError:
        return None
    return attributes, _decode_json(value)


def _structured(value: bytes) -> tuple[dict[str, str], Any] | None:
    document = _decode_json(value)
    if type(document) is not dict or not _STRUCTURED_KEYS.issuperset(document):
        return None
    if document.get("specversion") != "1.0" or "data" not in document:
        return None
    if "datacontenttype" in document and document["datacontenttype"] != "application/json":
        return None
    return document, document["data"]


# ---- payloads without pydantic -----------------------------------------------------------------
#
# For the six activity payloads, the subset of inputs below is validated here exactly as the
# pydantic models validate it (non-empty strings for ids, the literal sets, a strict int >= 1
# for audience_size, an omitted field for a default that is not null, extra keys ignored) and
# the Activity built as ``activity_of`` builds it. Anything outside the subset (a wrong type, an
# unknown literal, an ``activated_at`` that is not plain UTC) returns None. A builder is used
# only while its model has exactly the fields it knows; otherwise the model validates.

_UTC_TIME: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?Z"
)
_ACCOUNT_KINDS: Final = frozenset(get_args(AccountKind))
_CONTENT_TYPES: Final = frozenset(get_args(ContentType))
_PUBLISH_ACTIONS: Final = frozenset(get_args(PublishAction))
_INTERACTION_KINDS: Final = frozenset(get_args(InteractionKind))

_Builder = Callable[[dict[str, Any], int, datetime], Activity | None]


def _id(data: dict[str, Any], name: str) -> str | None:
    value = data.get(name)
    return value if type(value) is str and value else None


def _optional_id(data: dict[str, Any], name: str) -> bool:
    """An ``Id | None = None`` field is acceptable as given."""
    value = data.get(name)
    return value is None or (type(value) is str and value != "")


def _literal(data: dict[str, Any], name: str, allowed: frozenset[str], default: str) -> str | None:
    if name not in data:
        return default
    value = data[name]
    return value if type(value) is str and value in allowed else None


def _account_created(data: dict[str, Any], t: int, event_time: datetime) -> Activity | None:
    org_id, account_id = _id(data, "org_id"), _id(data, "account_id")
    kind = _literal(data, "kind", _ACCOUNT_KINDS, "member")
    if org_id is None or account_id is None or kind is None:
        return None
    activated = data.get("activated_at")
    activated_at = None
    if activated is not None:
        if type(activated) is not str or _UTC_TIME.fullmatch(activated) is None:
            return None
        try:
            moment = datetime.fromisoformat(activated).astimezone(UTC)
        except (ValueError, OverflowError):
            return None
        if not in_event_time_range(moment) or moment > event_time:
            return None
        activated_at = epoch_seconds(moment)
    return Activity(
        ActivityKind.ACCOUNT_CREATED,
        org_id,
        account_id,
        t,
        account_kind=kind,
        activated_at=activated_at,
    )


def _account_only(kind: ActivityKind, optional: str | None = None) -> _Builder:
    def build(data: dict[str, Any], t: int, _event_time: datetime) -> Activity | None:
        org_id, account_id = _id(data, "org_id"), _id(data, "account_id")
        if org_id is None or account_id is None:
            return None
        if optional is not None:
            value = data.get(optional)
            if value is not None and type(value) is not str:
                return None
        return Activity(kind, org_id, account_id, t)

    return build


def _interaction(data: dict[str, Any], t: int, _event_time: datetime) -> Activity | None:
    org_id, account_id = _id(data, "org_id"), _id(data, "account_id")
    if org_id is None or account_id is None:
        return None
    kind = data.get("kind")
    if type(kind) is not str or kind not in _INTERACTION_KINDS:
        return None
    if not _optional_id(data, "target_id"):
        return None
    return Activity(ActivityKind.INTERACTION, org_id, account_id, t)


def _content_published(data: dict[str, Any], t: int, _event_time: datetime) -> Activity | None:
    org_id, account_id = _id(data, "org_id"), _id(data, "account_id")
    content_id = _id(data, "content_id")
    content_type = data.get("content_type")
    action = _literal(data, "action", _PUBLISH_ACTIONS, "created")
    if org_id is None or account_id is None or content_id is None or action is None:
        return None
    if type(content_type) is not str or content_type not in _CONTENT_TYPES:
        return None
    if not _optional_id(data, "channel_id"):
        return None
    audience = data.get("audience_size")
    if audience is not None and (type(audience) is not int or audience < 1):
        return None
    return Activity(
        ActivityKind.CONTENT_PUBLISHED,
        org_id,
        account_id,
        t,
        content_id=content_id,
        content_type=content_type,
        action=action,
        audience_size=audience,
        channel_id=data.get("channel_id") or "",
    )


def _content_viewed(data: dict[str, Any], t: int, _event_time: datetime) -> Activity | None:
    org_id, account_id = _id(data, "org_id"), _id(data, "account_id")
    content_id = _id(data, "content_id")
    content_type = data.get("content_type")
    if org_id is None or account_id is None or content_id is None:
        return None
    if type(content_type) is not str or content_type not in _CONTENT_TYPES:
        return None
    return Activity(
        ActivityKind.CONTENT_VIEWED,
        org_id,
        account_id,
        t,
        content_id=content_id,
        content_type=content_type,
    )


_KNOWN_FIELDS: Final[dict[str, tuple[frozenset[str], _Builder]]] = {
    topics.ACCOUNT_CREATED_TYPE: (
        frozenset({"org_id", "account_id", "kind", "activated_at"}),
        _account_created,
    ),
    topics.ACCOUNT_DELETED_TYPE: (
        frozenset({"org_id", "account_id"}),
        _account_only(ActivityKind.ACCOUNT_DELETED),
    ),
    topics.VISIT_TYPE: (
        frozenset({"org_id", "account_id", "client"}),
        _account_only(ActivityKind.VISIT, optional="client"),
    ),
    topics.CONTENT_PUBLISHED_TYPE: (
        frozenset(
            {"org_id", "account_id", "content_id", "content_type", "action", "channel_id"}
            | {"audience_size"}
        ),
        _content_published,
    ),
    topics.CONTENT_VIEWED_TYPE: (
        frozenset({"org_id", "account_id", "content_id", "content_type"}),
        _content_viewed,
    ),
    topics.INTERACTION_TYPE: (
        frozenset({"org_id", "account_id", "kind", "target_id"}),
        _interaction,
    ),
}

#: The builders whose model still has exactly the fields the builder knows.
_BUILDERS: Final[dict[str, _Builder]] = {
    event_type: build
    for event_type, (known, build) in _KNOWN_FIELDS.items()
    if frozenset(ACTIVITY_TYPES[event_type].model_fields) == known
}


_SPEC_VALUE: Final = b"1.0"
_HOUR: Final = re.compile(rb"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}")
#: hour prefix ``YYYY-MM-DDTHH`` -> its epoch seconds (None: no such hour); a few per day
_HOURS: dict[bytes, int | None] = {}


def _canonical_headers(headers: Any) -> tuple[bytes, bytes, bytes, bytes] | None:
    """``(id, source, type, time)`` when the headers are exactly the six binary-mode headers
    in the order the CloudEvents SDK (and so every producer built on it) writes them, names
    lower-case, values bytes: ``_relevant_headers`` and ``_binary`` would then find exactly
    those. None: any other shape (those two decide it)."""
    if (type(headers) is not list and type(headers) is not tuple) or len(headers) != 6:
        return None
    h0, h1, h2, h3, h4, h5 = headers
    if not (type(h0) is type(h1) is type(h2) is type(h3) is type(h4) is type(h5) is tuple):
        return None
    try:
        (n0, v0), (n1, v1), (n2, v2), (n3, v3), (n4, v4), (n5, v5) = headers
    except ValueError:
        return None
    if not (
        type(n0) is type(n1) is type(n2) is type(n3) is type(n4) is type(n5) is str
        and type(v0) is type(v1) is type(v2) is type(v3) is type(v4) is type(v5) is bytes
        and n0 == "ce_specversion"
        and v0 == _SPEC_VALUE
        and n1 == "ce_id"
        and n2 == "ce_source"
        and n3 == "ce_type"
        and n4 == "ce_time"
        and n5 == _CONTENT_TYPE
        and v5 == _JSON
    ):
        return None
    return v1, v2, v3, v4


def _hour_of(prefix: bytes) -> int | None:
    if prefix in _HOURS:
        return _HOURS[prefix]
    hour: int | None = None
    if _HOUR.fullmatch(prefix) is not None:
        try:
            hour = int(datetime.fromisoformat(prefix.decode() + ":00:00+00:00").timestamp())
        except (ValueError, OverflowError):
            hour = None
    if len(_HOURS) >= 100_000:
        _HOURS.clear()
    _HOURS[prefix] = hour
    return hour


def _whole_second(text: bytes) -> datetime | None:
    """``_event_time`` of a time written ``YYYY-MM-DDTHH:MM:SSZ`` (what the SDK writes for a
    whole second), without the regex and the parser: the hour from a cache, minutes and
    seconds below 60 (as ``fromisoformat`` requires). None: another form, or no such time
    (``_event_time`` then decides)."""
    if len(text) != 20 or text[19] != 90 or text[13] != 58 or text[16] != 58:  # Z, :, :
        return None
    minutes, seconds = text[14:16], text[17:19]
    if not (minutes.isdigit() and seconds.isdigit()):  # bytes: ASCII digits only
        return None
    m, sec = int(minutes), int(seconds)
    if m > 59 or sec > 59:
        return None
    hour = _hour_of(text[:13])
    if hour is None:
        return None
    try:
        return datetime.fromtimestamp(hour + 60 * m + sec, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def try_fast_decode(
    key: Any,
    value: Any,
    headers: Any,
    *,
    now: datetime,
    max_future: timedelta,
    max_value_bytes: int,
) -> tuple[str, Activity] | None:
    """``(type, Activity)`` if this record is one the reference decoder certainly accepts
    with that result; None when it cannot tell (the caller then asks the reference)."""
    if type(value) is not bytes or not 0 < len(value) <= max_value_bytes:
        return None
    canonical = _canonical_headers(headers)
    event_time: datetime | None
    if canonical is not None:  # the usual headers: what the general path below would find
        id_, source, type_, time_ = canonical
        if not (id_ and source and type_ and time_):
            return None
        try:
            id_.decode("utf-8")
            source.decode("utf-8")
            event_type = type_.decode("utf-8")
            event_time = _whole_second(time_)
            if event_time is None:
                event_time = _event_time(time_.decode("utf-8"))
            data = _decode_json(value)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError, MemoryError):
            return None
    else:
        found = _relevant_headers(headers)
        if found is None:
            return None
        try:
            if found.get(_CONTENT_TYPE) == _STRUCTURED:
                parsed = None if len(found) != 1 else _structured(value)
            else:
                parsed = _binary(found, value)
        except (msgspec.DecodeError, UnicodeDecodeError, RecursionError, MemoryError):
            return None
        if parsed is None:
            return None
        attributes, data = parsed
        for name in _ATTRIBUTES:
            text = attributes.get(name)
            if type(text) is not str or not text:
                return None
        event_type = attributes["type"]
        event_time = _event_time(attributes["time"])
    if not _flat(data):
        return None
    model = ACTIVITY_TYPES.get(event_type)
    if model is None:
        return None
    if event_time is None or not in_event_time_range(event_time):
        return None
    if now.utcoffset() is None or event_time > now + max_future:
        return None
    if type(key) is bytes:
        try:
            key = key.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if type(key) is not str:
        return None
    build = _BUILDERS.get(event_type)
    if build is not None:
        activity = build(data, epoch_seconds(event_time), event_time)
        if activity is None or activity.org_id != key:
            return None
        return event_type, activity
    try:
        payload: BaseModel = model.model_validate(data)
    except ValidationError:
        return None
    if key != getattr(payload, "org_id", None):
        return None
    if (
        isinstance(payload, AccountCreated)
        and payload.activated_at is not None
        and payload.activated_at > event_time
    ):
        return None
    return event_type, activity_of(payload, epoch_seconds(event_time))


def decode_to_activity(
    key: bytes | None,
    value: bytes | None,
    headers: HeadersIn,
    *,
    now: datetime,
    max_future: timedelta = DEFAULT_MAX_FUTURE,
    max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES,
    stats: DecodeStats = STATS,
) -> tuple[str, Activity]:
    """``(CloudEvents type, Activity)`` of one activity record, exactly as
    ``to_activity(decode_activity(...))`` gives it; raises the same ``RejectedEvent``.

    Counts the record in ``stats`` as a fast hit or a fallback to the reference decoder.
    """
    fast = try_fast_decode(
        key, value, headers, now=now, max_future=max_future, max_value_bytes=max_value_bytes
    )
    if fast is not None:
        stats.fast += 1
        return fast
    stats.fallback += 1
    event = decode_activity(
        key, value, headers, now=now, max_future=max_future, max_value_bytes=max_value_bytes
    )
    return event.type, to_activity(event)
