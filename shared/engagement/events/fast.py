"""The one fast CloudEvents encoder: binary-mode Kafka records built without the SDK.

Producing a million records through ``encode_event`` (pydantic model -> CloudEvents SDK ->
Kafka message) costs more than everything else the simulator and the benchmark do. For the
common case, a whole-second UTC time and no subject, the record is a handful of fixed headers
around the payload's JSON, so it is built directly here. ``fast_path_matches`` compares it with
``encode_event`` (callers check once and fall back to ``encode_event`` on any difference;
``tests/unit/events/test_fast_encoder.py`` pins the equivalence).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cache

from pydantic import BaseModel

from .codec import KafkaRecord, encode_event

__all__ = ["encode_binary", "fast_path_matches", "utc_text"]


def utc_text(t: int) -> bytes:
    """RFC 3339 UTC time of whole epoch seconds, as the CloudEvents SDK writes it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)).encode()


def encode_binary(
    type_: str, source: str, id_: str, t: int, data_json: bytes, key: str
) -> KafkaRecord:
    """What ``encode_event`` returns for time ``t`` (whole seconds, UTC), no subject and a
    payload whose JSON is ``data_json`` (``model.model_dump_json().encode()``)."""
    return KafkaRecord(
        key=key.encode("utf-8"),
        value=data_json,
        headers=[
            ("ce_specversion", b"1.0"),
            ("ce_id", id_.encode("utf-8")),
            ("ce_source", source.encode("utf-8")),
            ("ce_type", type_.encode("utf-8")),
            ("ce_time", utc_text(t)),
            ("content-type", b"application/json"),
        ],
    )


def _sdk(type_: str, source: str, id_: str, t: int, data: BaseModel, key: str) -> KafkaRecord:
    return encode_event(
        type=type_,
        source=source,
        id=id_,
        time=datetime.fromtimestamp(t, UTC),
        subject=None,
        data=data,
        key=key,
    )


def fast_path_matches(samples: tuple[tuple[str, BaseModel], ...]) -> bool:
    """Does ``encode_binary`` give exactly what ``encode_event`` gives for each (type, data)?"""
    return all(_matches(type_, data) for type_, data in samples)


@cache
def _matches_cached(type_: str, json: str, model: type[BaseModel]) -> bool:
    data = model.model_validate_json(json)
    args = (type_, "urn:engagement:check", "check-1", 1_736_000_000)
    return encode_binary(*args, json.encode(), "o") == _sdk(*args, data, "o")


def _matches(type_: str, data: BaseModel) -> bool:
    return _matches_cached(type_, data.model_dump_json(), type(data))
