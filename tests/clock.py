"""The test suite's one "now": a fixed moment, never the wall clock's date or time of day.

Every test that needs "now" (event times relative to today, a worker's live clock) takes it from
here, so a run at 03:00 and a run at 15:00 see the same days. ``ENGAGEMENT_TEST_NOW`` (ISO 8601)
moves it, which is how the suite is shown to pass at any hour::

    ENGAGEMENT_TEST_NOW=2026-03-18T03:10:00Z make test

Workers started by the integration harness get it as ``ENGAGEMENT_CLOCK_START``: their live
clock starts there and advances in real time.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime

DEFAULT_TEST_NOW = "2026-03-18T14:30:00+00:00"


def _parse(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"ENGAGEMENT_TEST_NOW needs a UTC offset, got {text!r}")
    return moment.astimezone(UTC).replace(microsecond=0)


#: The moment the suite treats as now.
TEST_NOW: datetime = _parse(os.environ.get("ENGAGEMENT_TEST_NOW", DEFAULT_TEST_NOW))
