"""Synthetic organisations with exactly chosen component levels (for level/alert tests).

Unlike the realistic simulator, each day's activity here is laid out so the 30-day figures
land on chosen values: ``rotating`` spreads each account's activity over the month (one day
in 30), so days of silence remove a predictable share from the window.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from engagement.events import KafkaRecord, encode_event, topics
from engagement.events.models import (
    AccountCreated,
    ContentPublished,
    ContentViewed,
    Interaction,
    OrgProfile,
    Visit,
)

from ..clock import TEST_NOW

DAY = timedelta(days=1)
#: Every day's events lie between 06:00 and this time of day (UTC), so none is after ``end``.
LAST_SLOT = timedelta(hours=11)


@dataclass(frozen=True)
class Shape:
    """Component targets in percent of activated accounts (reach: of all accounts)."""

    reach: float
    visit: float
    view: float
    interact: float
    contribute: float


def profile(
    org: str,
    *,
    sector: str = "test",
    employees: int = 120,
    target: str | None = None,
    platform: str = "intranet",
) -> KafkaRecord:
    data = OrgProfile(
        org_id=org,
        name=org,
        sector=sector,
        employees=employees,
        platform_type=platform,
        target_level=target,
        timezone="UTC",
    )  # type: ignore[arg-type]
    return encode_event(
        type=topics.ORG_PROFILE_TYPE,
        source="urn:test",
        id=f"profile-{org}",
        time=TEST_NOW - timedelta(days=90),
        subject=org,
        data=data,
        key=org,
    )


def activity(
    org: str,
    phases: list[tuple[int, Shape]],
    end: datetime,
    *,
    accounts: int = 60,
    rotating: bool = False,
    tag: str = "",
) -> list[KafkaRecord]:
    """Days of activity ending at ``end``, phase by phase: the last day is ``end``'s date when
    that day's events (06:00-11:00 UTC) all lie before ``end``, else the day before, so no event
    is ever later than ``end`` whatever its time of day. ``tag`` makes event and content ids
    unique across several calls for one organisation."""
    total_days = sum(days for days, _ in phases)
    last_day = end.replace(hour=0, minute=0, second=0, microsecond=0)
    if end < last_day + LAST_SLOT:
        last_day -= DAY  # end's own day would have events after end: the day before is last
    first_day = last_day - (total_days - 1) * DAY
    seq = iter(range(10_000_000))
    out: list[KafkaRecord] = []

    def emit(type_: str, data: object, at: datetime) -> None:
        out.append(
            encode_event(
                type=type_,
                source=f"urn:test:{org}",
                id=f"{org}-{tag}{next(seq)}",
                time=at,
                subject=org,
                data=data,
                key=org,
            )
        )  # type: ignore[arg-type]

    activated = round(phases[0][1].reach / 100 * accounts)
    created_at = first_day - 2 * DAY
    for i in range(accounts):
        emit(
            topics.ACCOUNT_CREATED_TYPE,
            AccountCreated(
                org_id=org,
                account_id=f"a{i}",
                activated_at=created_at - DAY if i < activated else None,
            ),
            created_at,
        )

    def chosen(share: float, day: int) -> Iterator[int]:
        n = round(share / 100 * activated)
        for i in range(n):
            if not rotating or i % 30 == day % 30:
                yield i

    day = 0
    for days, shape in phases:
        for _ in range(days):
            date = first_day + day * DAY
            if date > end:
                break
            for i in chosen(shape.visit, day):
                emit(
                    topics.VISIT_TYPE,
                    Visit(org_id=org, account_id=f"a{i}"),
                    date + timedelta(hours=6, seconds=i),
                )
            message = f"m{tag}{day}"
            emit(
                topics.CONTENT_PUBLISHED_TYPE,
                ContentPublished(
                    org_id=org, account_id="a0", content_id=message, content_type="message"
                ),
                date + timedelta(hours=7),
            )
            for i in range(round(shape.view / 100 * activated)):
                emit(
                    topics.CONTENT_VIEWED_TYPE,
                    ContentViewed(
                        org_id=org, account_id=f"a{i}", content_id=message, content_type="message"
                    ),
                    date + timedelta(hours=8, seconds=i),
                )
            for i in chosen(shape.interact, day):
                emit(
                    topics.INTERACTION_TYPE,
                    Interaction(org_id=org, account_id=f"a{i}", kind="like"),
                    date + timedelta(hours=9, seconds=i),
                )
            for i in chosen(shape.contribute, day):
                emit(
                    topics.CONTENT_PUBLISHED_TYPE,
                    ContentPublished(
                        org_id=org,
                        account_id=f"a{i}",
                        content_id=f"p{tag}{day}-{i}",
                        content_type="page",
                    ),
                    date + timedelta(hours=10, seconds=i),
                )
            day += 1
    return out
