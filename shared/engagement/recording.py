"""Recorded Kafka logs as JSON lines, byte-exact.

A recording is what the batch recomputation replays and what tests and the simulator write:
one record per line, ``{"key": str | null, "value_b64": str, "headers": [[name, b64], ...]}``.
Values and headers are base64 so any record (binary or structured CloudEvent, or garbage)
round-trips unchanged.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from .events import KafkaRecord

__all__ = ["read_jsonl", "record_from_json", "record_to_json", "write_jsonl"]


def record_to_json(record: KafkaRecord) -> str:
    return json.dumps(
        {
            "key": None if record.key is None else record.key.decode("utf-8", "surrogateescape"),
            "value_b64": base64.b64encode(record.value).decode(),
            "headers": [[k, base64.b64encode(v).decode()] for k, v in record.headers],
        },
        separators=(",", ":"),
    )


def record_from_json(line: str) -> KafkaRecord:
    obj = json.loads(line)
    key = obj.get("key")
    return KafkaRecord(
        key=None if key is None else key.encode("utf-8", "surrogateescape"),
        value=base64.b64decode(obj["value_b64"]),
        headers=[(k, base64.b64decode(v)) for k, v in obj.get("headers", [])],
    )


def write_jsonl(path: Path | str, records: Iterable[KafkaRecord]) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as out:
        for record in records:
            out.write(record_to_json(record) + "\n")
            n += 1
    return n


def read_jsonl(path: Path | str) -> Iterator[KafkaRecord]:
    with open(path, encoding="utf-8") as src:
        for line in src:
            if line.strip():
                yield record_from_json(line)
