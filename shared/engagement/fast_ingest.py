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
* structured mode: ``content-type`` exactly ``application/cloudevents+json`` and no ``ce_*``
  header; the document's keys among the five attributes, ``datacontenttype``
  (``application/json`` only) and ``data``;
* the JSON is parsed by msgspec, which is stricter than ``json.loads`` (it refuses lone
  surrogate escapes, NaN, out-of-range floats, a BOM) and agrees with it on everything it
  accepts; on top, ``data`` must be a flat object of strings, booleans, nulls and integers
  below 2**62, and attributes must be non-empty strings;
* ``time`` in the canonical form ``YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|+HH:MM|-HH:MM)``, parsed
  by ``datetime.fromisoformat`` (which agrees with the SDK's dateutil ``isoparse`` there and
  refuses everything isoparse would refuse), inside the contract's range and not in the future;
* the same pydantic model validates ``data``; the key is the payload's ``org_id``; an
  ``account.created``'s ``activated_at`` is not after the event time;
* the ``Activity`` is built by :func:`engagement.ingest.activity_of`, the code
  ``to_activity`` uses.

``tests/unit/ingest/test_fast_decoder.py`` holds the two decoders equal on the contract's
fuzzing strategies and on mutations of the simulator's records. msgspec is used rather than
orjson on purpose: orjson would turn large integers into errors or floats, and its mere
presence changes Faust's table codec (``tests/unit/ingest/test_no_orjson.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec
from pydantic import BaseModel, ValidationError

from .domain import Activity
from .events import ACTIVITY_TYPES, AccountCreated, decode_activity
from .events.codec import DEFAULT_MAX_FUTURE, DEFAULT_MAX_VALUE_BYTES, HeadersIn
from .events.fields import in_event_time_range
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
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})"
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
    if not _flat(data):
        return None
    event_type = attributes["type"]
    model = ACTIVITY_TYPES.get(event_type)
    if model is None:
        return None
    event_time = _event_time(attributes["time"])
    if event_time is None or not in_event_time_range(event_time):
        return None
    if now.utcoffset() is None or event_time > now + max_future:
        return None
    try:
        payload: BaseModel = model.model_validate(data)
    except ValidationError:
        return None
    if type(key) is bytes:
        try:
            key = key.decode("utf-8")
        except UnicodeDecodeError:
            return None
    if type(key) is not str or key != getattr(payload, "org_id", None):
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
