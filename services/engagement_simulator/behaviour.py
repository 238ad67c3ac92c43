"""When and how simulated people act: the random draws the backfill and live traffic share.

Kept apart from the world model (who exists) and from the generators (which walk the days or
the wall clock) so both generators draw visits, clients and interactions the same way: the
weekday rhythm, office hours, Poisson counts and the kind of an interaction.
"""

from __future__ import annotations

import math
import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from engagement.events import Interaction

from .world import Account, Org

__all__ = [
    "CLIENTS",
    "CLIENT_WEIGHTS",
    "WEEKDAY",
    "interaction",
    "local_days",
    "poisson",
    "work_hour",
]

#: Activity by weekday (Monday first): office rhythm, quiet weekends.
WEEKDAY = (1.0, 1.05, 1.0, 0.95, 0.8, 0.12, 0.1)
CLIENTS = ("web", "app", "teams")
CLIENT_WEIGHTS = (0.6, 0.3, 0.1)
_INTERACTION_KINDS = ("like", "reaction", "comment", "chat_message", "program_completed")
_INTERACTION_WEIGHTS = (0.3, 0.2, 0.2, 0.25, 0.05)


def poisson(rng: random.Random, lam: float) -> int:
    """Poisson variate (Knuth for small means, a rounded normal beyond)."""
    if lam <= 0:
        return 0
    if lam > 30:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def work_hour(rng: random.Random, weekday: int) -> float:
    """Local hour of an activity: office hours with a morning peak, later on weekends."""
    if weekday >= 5:
        return rng.uniform(9.0, 22.0)
    return rng.triangular(6.5, 19.5, 9.5)


def local_days(tz: ZoneInfo, start: int, end: int) -> list[tuple[int, int]]:
    """(UTC epoch of local midnight, weekday) of every local date overlapping [start, end]."""
    first = datetime.fromtimestamp(start, tz).date()
    last = datetime.fromtimestamp(end, tz).date()
    days = []
    current: date = first
    while current <= last:
        midnight = datetime(current.year, current.month, current.day, tzinfo=tz)
        days.append((int(midnight.timestamp()), current.weekday()))
        current += timedelta(days=1)
    return days


def interaction(rng: random.Random, org: Org, account: Account, t: float) -> Interaction:
    """An interaction of `account` at `t`: a like, reaction or comment on a recent message, a
    chat message in its team's chat or a completed learning programme."""
    kind = rng.choices(_INTERACTION_KINDS, _INTERACTION_WEIGHTS)[0]
    target: str | None = None
    if kind == "chat_message":
        target = f"chat-team-{account.team}"
    elif kind == "program_completed":
        target = f"program-{rng.randint(1, 12):02d}"
    else:
        earlier = [m.content_id for m in org.messages[-20:] if m.t < t]
        target = rng.choice(earlier) if earlier else None
    return Interaction(org_id=org.id, account_id=account.id, kind=kind, target_id=target)
