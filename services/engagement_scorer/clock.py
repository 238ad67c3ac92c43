"""The worker's one notion of "now", injected so that nothing depends on the machine's date.

Everything in the worker that needs the current moment (the live clock that moves silent
organisations' windows, the "too far in the future" check on input, benchmark event times)
reads ``WorkerClock.now()``. Tests and demos start it at a chosen moment
(``ENGAGEMENT_CLOCK_START``) or shift it (``ENGAGEMENT_CLOCK_OFFSET_SECONDS``); in production it
is the system clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from engagement.settings import Settings

__all__ = ["WorkerClock"]


class WorkerClock:
    """``start`` (epoch seconds) is what ``now()`` reads at construction; it then advances with
    ``monotonic`` (so a system clock step does not move it back). Without ``start`` it is
    ``wall()``. ``offset`` seconds are added in both cases."""

    def __init__(
        self,
        start: float | None = None,
        offset: int = 0,
        *,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._start = start
        self._offset = offset
        self._wall = wall
        self._monotonic = monotonic
        self._started_at = monotonic()

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkerClock:
        start = settings.clock_start.timestamp() if settings.clock_start else None
        return cls(start, settings.clock_offset_seconds)

    def now(self) -> int:
        """Epoch seconds."""
        if self._start is None:
            return int(self._wall()) + self._offset
        return int(self._start + (self._monotonic() - self._started_at)) + self._offset

    def now_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)
