"""JSON-lines files of simulated records (the shared recording format).

A generated log can be written once and replayed or compared later (``--jsonl-out``, the
integration tests); these helpers are the simulator's names for ``engagement.recording``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from engagement import recording
from engagement.events import KafkaRecord

__all__ = ["read_jsonl", "to_jsonl", "write_jsonl"]


def to_jsonl(records: Iterable[KafkaRecord]) -> str:
    """Records as JSON lines `{"key", "value_b64", "headers": [[name, b64], ...]}`."""
    return "".join(recording.record_to_json(r) + "\n" for r in records)


def write_jsonl(path: Path | str, records: Iterable[KafkaRecord]) -> int:
    """Write records as JSON lines; returns how many were written."""
    return recording.write_jsonl(path, records)


def read_jsonl(path: Path | str) -> list[KafkaRecord]:
    """Read records written by :func:`write_jsonl`, byte-exact."""
    return list(recording.read_jsonl(path))
