"""The score events this worker has just published, kept so the second stage need not decode
them again.

The second stage reads the score topic, the first stage's own output: in a single worker (and
for every organisation whose activity and score partitions it owns, which co-partitioning
makes all of them) each score event it reads is one this process built moments before. The
CloudEvents decoder (SDK, JSON, pydantic) was the second stage's largest cost
(docs/performance.md). ``decode_output`` of a record's exact key, value and headers is a pure
function of those bytes (no clock: the score topic is read with ``now=None``), and for what
``score_record`` wrote it gives the payload that was encoded (``test_own_scores`` holds the two
equal on the emitter's payloads), so a record read back byte for byte as it was sent is
answered with that payload. Anything else (another worker's record, one sent before a
restart, a record kept no longer) is decoded as before.
"""

from __future__ import annotations

from collections.abc import Sequence

from engagement.events import ScoreUpdated

__all__ = ["PublishedScores"]


class PublishedScores:
    """Score payloads by the exact record that carried them, at most ``capacity`` of them
    (the oldest go first): the second stage reads a record back within moments, and a record
    it never reads here (its partition moved) must not be kept for ever. A few thousand cover
    seconds of a backlog's publications (docs/performance.md), a few megabytes at most."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        #: value bytes -> (key, headers, payload); in insertion order (the oldest first)
        self._sent: dict[bytes, tuple[bytes | None, list[tuple[str, bytes]], ScoreUpdated]] = {}
        self.hits = 0
        self.misses = 0

    def remember(
        self,
        key: bytes | None,
        value: bytes,
        headers: list[tuple[str, bytes]],
        payload: ScoreUpdated,
    ) -> None:
        sent = self._sent
        sent[value] = (key, list(headers), payload)
        if len(sent) > self.capacity:
            del sent[next(iter(sent))]

    def take(
        self, key: bytes | None, value: bytes | None, headers: Sequence[tuple[str, bytes]]
    ) -> ScoreUpdated | None:
        """The payload of the record, if it is one remembered, byte for byte (then forgotten:
        a record is read back once); None: decode it."""
        if value is None:
            return None
        found = self._sent.pop(value, None)
        if found is not None:
            sent_key, sent_headers, payload = found
            if sent_key == key and [(k, v) for k, v in headers] == sent_headers:
                self.hits += 1
                return payload
        self.misses += 1
        return None
