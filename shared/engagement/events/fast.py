"""The one fast CloudEvents encoder: binary-mode Kafka records built without the SDK.

Producing a million records through ``encode_event`` (pydantic model -> CloudEvents SDK ->
Kafka message) costs more than everything else the simulator and the benchmark do, and the
SDK's part was the largest single cost of publishing a score (docs/performance.md). For the
common case, a whole-second time, the record is a handful of fixed headers around the
payload's JSON, so it is built directly here. ``fast_path_matches`` compares it with
``encode_event`` for the simulator's inputs, ``encode_output`` checks itself once per process
against ``encode_event`` for every output type and otherwise takes ``encode_event``; anything
outside the common case takes ``encode_event`` too (``tests/unit/events/test_fast_encoder.py``
pins the equivalence).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import cache

from pydantic import BaseModel

from .codec import KafkaRecord, _check_model, encode_event
from .models import OUTPUT_TYPES

__all__ = ["encode_binary", "encode_output", "fast_path_matches", "utc_text"]


def utc_text(t: int) -> bytes:
    """RFC 3339 UTC time of whole epoch seconds, as the CloudEvents SDK writes it."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)).encode()


def encode_binary(
    type_: str, source: str, id_: str, t: int, data_json: bytes, key: str
) -> KafkaRecord:
    """What ``encode_event`` returns for time ``t`` (whole seconds, UTC), no subject and a
    payload whose JSON is ``data_json`` (``model.model_dump_json().encode()``)."""
    return _output_record(type_, source, id_, t, None, None, data_json, key)


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


def _output_record(
    type_: str,
    source: str,
    id_: str,
    t: int,
    subject: str | None,
    dataschema: str | None,
    data_json: bytes,
    key: str | None,
) -> KafkaRecord:
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", id_.encode("utf-8")),
        ("ce_source", source.encode("utf-8")),
        ("ce_type", type_.encode("utf-8")),
        ("ce_time", utc_text(t)),
    ]
    if subject:
        headers.append(("ce_subject", subject.encode("utf-8")))
    if dataschema:
        headers.append(("ce_dataschema", dataschema.encode("utf-8")))
    headers.append(("content-type", b"application/json"))
    return KafkaRecord(
        key=None if key is None else key.encode("utf-8"), value=data_json, headers=headers
    )


@cache
def _outputs_match() -> bool:
    """Does ``_output_record`` give exactly ``encode_event``'s record for every output type
    (checked once per process: a CloudEvents SDK that writes its records differently turns
    the fast path off)?"""
    for type_, model in OUTPUT_TYPES.items():
        extra = model.model_config.get("json_schema_extra")
        examples = extra.get("examples") if isinstance(extra, dict) else None
        if not isinstance(examples, list) or not examples:
            return False  # nothing to check against: the SDK then
        data = model.model_validate(examples[0])  # the contract's example payload
        for subject, dataschema in ((None, None), ("org-1", f"urn:schema:{type_}")):
            args = (type_, "urn:engagement:check", "check-1", 1_736_000_000)
            fast = _output_record(
                *args, subject, dataschema, data.model_dump_json().encode(), "org-1"
            )
            sdk = encode_event(
                type=type_,
                source=args[1],
                id=args[2],
                time=datetime.fromtimestamp(args[3], UTC),
                subject=subject,
                dataschema=dataschema,
                data=data,
                key="org-1",
            )
            if fast != sdk:
                return False
    return True


def encode_output(
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
    """``encode_event``'s record, without the SDK for an aware time of whole seconds from the
    year 1000 on (the worker's outputs: their times are epoch seconds); ``encode_event``
    itself for any other time, or when the self-check found a difference."""
    offset = time.utcoffset()
    if offset is None or time.microsecond or time.year < 1000 or not _outputs_match():
        return encode_event(
            type=type,
            source=source,
            id=id,
            time=time,
            subject=subject,
            data=data,
            key=key,
            dataschema=dataschema,
        )
    _check_model(type, data)
    t = int(time.timestamp())
    return _output_record(
        type, source, id, t, subject, dataschema, data.model_dump_json().encode("utf-8"), key
    )
