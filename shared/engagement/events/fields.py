"""Reusable field types for the event contract.

The contract is read by other teams' producers, so every payload model shares the same notion
of "an id", "a timestamp" or "a time zone". Defining those once here keeps the input and output
models consistent and makes the generated JSON Schemas say the same thing everywhere.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Final, Literal, get_args
from zoneinfo import available_timezones

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field

__all__ = [
    "COMPONENT_NAMES",
    "DEFAULT_TIMEZONE",
    "LEVELS",
    "RFC3339_PATTERN",
    "AccountKind",
    "BenchmarkSide",
    "ComponentName",
    "ContentType",
    "Count",
    "EventTime",
    "IanaTimezone",
    "Id",
    "InteractionKind",
    "Level",
    "MonthString",
    "PlatformType",
    "Probability",
    "PublishAction",
    "Score",
    "is_rfc3339",
    "is_valid_timezone",
]

DEFAULT_TIMEZONE: Final = "Europe/Amsterdam"

AccountKind = Literal["member", "guest", "system"]
ContentType = Literal["message", "page", "document", "event"]
PublishAction = Literal["created", "edited"]
InteractionKind = Literal["like", "reaction", "comment", "chat_message", "program_completed"]
PlatformType = Literal["intranet", "community"]
Level = Literal["initiation", "informing", "engaging", "co_creating"]
ComponentName = Literal["reach", "visit", "view", "interact", "contribute"]
BenchmarkSide = Literal["above", "below", "at"]

#: Ambition levels in ascending order (index = level number - 1), so callers can compare them.
LEVELS: Final[tuple[Level, ...]] = get_args(Level)
#: The five components in their canonical (published) order.
COMPONENT_NAMES: Final[tuple[ComponentName, ...]] = get_args(ComponentName)

# RFC 3339 date-time: an explicit offset is mandatory. pydantic on its own would also accept
# unix timestamps and offset-less strings, which would make event time depend on the producer's
# locale; the contract requires an unambiguous instant.
RFC3339_PATTERN: Final = (
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_RFC3339 = re.compile(RFC3339_PATTERN, re.ASCII)


def is_rfc3339(text: str) -> bool:
    """Tell whether `text` is an RFC 3339 date-time with an explicit offset."""
    return _RFC3339.fullmatch(text) is not None


def _only_rfc3339(value: Any) -> Any:
    """Refuse numbers and offset-less strings before pydantic's lenient datetime parsing."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and is_rfc3339(value):
        return value
    raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2025-01-31T09:00:00Z")


#: Instants the domain can place in any time zone's calendar (local dates of year 1 or 10000
#: do not exist); producers' real events are far inside.
MIN_EVENT_TIME: Final = datetime(1970, 1, 1, tzinfo=UTC)
MAX_EVENT_TIME: Final = datetime(9000, 1, 1, tzinfo=UTC)


def in_event_time_range(value: datetime) -> bool:
    return MIN_EVENT_TIME <= value < MAX_EVENT_TIME


def _to_utc(value: datetime) -> datetime:
    """Normalise to UTC so comparisons and serialisation never depend on the producer's offset."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:59:59-01:00
        raise ValueError("date-time out of range") from exc
    if not in_event_time_range(utc):
        raise ValueError("date-time out of range (1970-01-01 to 9000-01-01)")
    return utc


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_valid_timezone(name: str) -> bool:
    """Tell whether `name` is an IANA zone key known to the bundled tz database.

    A set lookup (instead of `ZoneInfo(name)`) never touches the file system with
    producer-supplied text and cannot raise.
    """
    return name in _timezones()


def _check_timezone(value: str) -> str:
    if not is_valid_timezone(value):
        raise ValueError("must be an IANA time zone such as Europe/Amsterdam")
    return value


#: A non-empty identifier (org, account, content, channel...).
Id = Annotated[str, Field(min_length=1)]
#: An aware instant, given as RFC 3339 on the wire, normalised to UTC in Python.
EventTime = Annotated[
    AwareDatetime,
    BeforeValidator(_only_rfc3339),
    AfterValidator(_to_utc),
    Field(json_schema_extra={"pattern": RFC3339_PATTERN}),
]
IanaTimezone = Annotated[
    str,
    Field(min_length=1, description="IANA time zone key, e.g. Europe/Amsterdam"),
    AfterValidator(_check_timezone),
]
#: A non-negative exact count (numerators, denominators, employees).
Count = Annotated[int, Field(ge=0, strict=True)]
#: Calendar month in the tenant's time zone.
MonthString = Annotated[
    str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="calendar month, YYYY-MM")
]


def _round1(value: float) -> float:
    """Published percentages carry one decimal (product definition: "Values")."""
    return round(value, 1)


#: A percentage 0-100 rounded to one decimal; null when its denominator is 0.
Score = Annotated[float, Field(ge=0, le=100, allow_inf_nan=False), AfterValidator(_round1)] | None
#: A confidence in [0, 1].
Probability = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
