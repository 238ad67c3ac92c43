"""Local calendar arithmetic: event times (UTC epoch seconds) to a tenant's local days and months.

Every window of the product definition is made of whole *local* days, so all day and month
numbers in the domain are computed here, in one place, from the tenant's IANA time zone.
Days are proleptic Gregorian ordinals (``date.toordinal``); months are ``year * 12 + month - 1``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ["LocalCalendar", "month_key_of", "month_label"]


@lru_cache(maxsize=65_536)
def month_key_of(day: int) -> int:
    """The month key (``year * 12 + month - 1``) of a day ordinal (memoised: hot path)."""
    d = date.fromordinal(day)
    return d.year * 12 + d.month - 1


def month_label(month_key: int) -> str:
    """``YYYY-MM`` of a month key."""
    return f"{month_key // 12:04d}-{month_key % 12 + 1:02d}"


class LocalCalendar:
    """Days and months in one time zone.

    Conversions are memoised per hour of UTC time: offsets change on hour boundaries in all
    real zones, so the local midnight of an hour is enough to place any second in it.
    """

    __slots__ = ("_hour_cache", "_last_day", "_last_hour", "timezone", "tz")

    def __init__(self, timezone: str) -> None:
        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self._hour_cache: dict[int, int] = {}
        # the hour asked last, and its day: an event's day is asked several times in a row
        self._last_hour = self._last_day = -1

    def day(self, ts: int) -> int:
        """Local day ordinal of an epoch second."""
        hour = ts // 3600
        if hour == self._last_hour:
            return self._last_day
        cached = self._hour_cache.get(hour)
        if cached is not None:
            self._last_hour, self._last_day = hour, cached
            return cached
        # Quarter-hour zones (e.g. Asia/Kathmandu) do not change day on UTC hour boundaries.
        local_start = datetime.fromtimestamp(hour * 3600, self.tz)
        local_end = datetime.fromtimestamp(hour * 3600 + 3599, self.tz)
        if local_start.date() != local_end.date():
            return datetime.fromtimestamp(ts, self.tz).toordinal()
        if len(self._hour_cache) > 10_000:
            self._hour_cache.clear()
        day = local_start.toordinal()
        self._hour_cache[hour] = day
        return day

    def day_start(self, day: int) -> int:
        """Epoch second of the local midnight that starts ``day``."""
        return _local_midnight(self.timezone, day)

    def month_first_day(self, month_key: int) -> int:
        return date(month_key // 12, month_key % 12 + 1, 1).toordinal()

    def month_last_day(self, month_key: int) -> int:
        return self.month_first_day(month_key + 1) - 1

    def month_end(self, month_key: int) -> int:
        """The last epoch second that belongs to the month (its local end, inclusive)."""
        return self.day_start(self.month_first_day(month_key + 1)) - 1

    def month_of(self, ts: int) -> int:
        return month_key_of(self.day(ts))


@lru_cache(maxsize=65_536)
def _local_midnight(timezone: str, day: int) -> int:
    d = date.fromordinal(day)
    local = datetime(d.year, d.month, d.day, tzinfo=ZoneInfo(timezone))
    return int(local.astimezone(UTC).timestamp())
