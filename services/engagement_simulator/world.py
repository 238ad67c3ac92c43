"""The simulated world: behaviour archetypes, organisations, accounts and their messages.

It exists so the backfill generator and the live traffic share one model of who is out there
and how they behave, without either owning it: :func:`build_org` draws an organisation (its
profile and its accounts) from one seeded ``random.Random``, and the generators then only add
events and the state that follows from them (published messages, new and deleted accounts).

Each organisation gets a behaviour *archetype* close to one of the four ambition levels (few
visits and reads for Initiation, many readers but a couple of communicators for Informing, more
contributors and interactions for Engaging and Co-creating), a community platform dampens
everything, and a slow trend (sometimes a late drop-out of regulars) makes scores move.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from engagement.domain import LEVELS
from engagement.events import OrgProfile

__all__ = [
    "ARCHETYPES",
    "DAY",
    "HOUR",
    "LEVELS",
    "RECENT_MESSAGES",
    "SECTORS",
    "TIMEZONES",
    "Account",
    "Archetype",
    "Message",
    "Org",
    "World",
    "build_org",
    "org_source",
]

TIMEZONES = ("Europe/Amsterdam", "Europe/London", "America/New_York", "Asia/Tokyo")
SECTORS = ("government", "healthcare", "education", "finance")

DAY = 86_400
HOUR = 3_600
#: How many messages per organisation are kept as read targets (for live traffic).
RECENT_MESSAGES = 300

_PLACES = (
    "Amstelveen", "Brookfield", "Castlebay", "Dunmore", "Eastwick", "Fairhaven", "Glenrock",
    "Highbury", "Ironbridge", "Juniper", "Kingsport", "Lakeside", "Millbrook", "Northgate",
    "Oakridge", "Portview", "Queensbury", "Riverside", "Stonehill", "Twin Oaks",
)  # fmt: skip
_ORG_WORD = {
    "government": "Municipality",
    "healthcare": "Hospital",
    "education": "University",
    "finance": "Bank",
}


@dataclass(frozen=True, slots=True)
class Archetype:
    """Behaviour of an organisation. Shares are of accounts; daily and read probabilities are
    scaled per account by its engagement factor and by the organisation's trend."""

    activation: float  # share of accounts that ever log in (Reach)
    regulars: float  # share of logged-in accounts that visit regularly (Visit)
    daily: float  # weekday visit probability of a regular
    read: float  # probability a regular in a message's audience reads it (View)
    interactors: float  # share of logged-in accounts that interact (Interact)
    contributors: float  # share of accounts that contribute (Contribute)
    messages: float  # channel messages per weekday for 70 accounts (volume 1)
    pages: float  # pages, documents and events per weekday for 70 accounts (volume 1)

    def dampened(self) -> Archetype:
        """A community platform: far fewer log-ins, visits, reads and contributions."""
        return Archetype(
            activation=self.activation * 0.7,
            regulars=self.regulars * 0.6,
            daily=self.daily * 0.6,
            read=self.read * 0.6,
            interactors=self.interactors * 0.6,
            contributors=self.contributors * 0.5,
            messages=self.messages * 0.6,
            pages=self.pages * 0.5,
        )


_INITIATION, _INFORMING, _ENGAGING, _CO_CREATING = LEVELS

#: Behaviour close to each ambition level's typical profile (product definition, section 2).
ARCHETYPES: dict[str, Archetype] = {
    _INITIATION: Archetype(0.95, 0.3, 0.15, 0.35, 0.1, 0.02, 1.5, 0.6),
    _INFORMING: Archetype(0.95, 0.75, 0.22, 0.98, 0.1, 0.03, 2.5, 1.0),
    _ENGAGING: Archetype(0.96, 0.8, 0.4, 0.6, 0.45, 0.15, 3.0, 1.5),
    _CO_CREATING: Archetype(0.98, 0.92, 0.55, 0.4, 0.65, 0.3, 3.5, 2.0),
}


@dataclass(slots=True)
class Account:
    id: str
    kind: str  # member, guest, system
    team: int
    factor: float  # personal engagement multiplier
    role: str  # heavy, contributor, reader
    joined: int  # epoch seconds from which it exists
    deleted: float  # epoch seconds of deletion, inf when never
    logs_in: bool  # False: created but never logs in
    regular: bool  # visits (and reads) regularly
    interactor: bool  # interacts on some of its visit days
    stops: float = math.inf  # a regular that drops out (late decline of an organisation)

    def alive(self, t: float) -> bool:
        return self.joined <= t < self.deleted

    def engaged(self, t: float) -> bool:
        """A regular that is still around and has not dropped out at `t`."""
        return self.regular and self.joined <= t < self.deleted and t < self.stops


@dataclass(slots=True)
class Message:
    t: int
    content_id: str
    team: int | None  # None: organisation-wide channel
    author: str
    readers: set[str] = field(default_factory=set)


@dataclass(slots=True)
class Org:
    id: str
    tz: ZoneInfo
    arch: Archetype
    trend: float  # slope of the daily and read probabilities over the window
    accounts: list[Account]
    teams: list[list[Account]]
    source: str
    seq: int = 0  # event counter: ids are deterministic_id(..., org, seq)
    n_content: int = 0
    n_accounts_created: int = 0
    pages: list[tuple[int, str, str]] = field(default_factory=list)  # (created, id, type)
    messages: list[Message] = field(default_factory=list)

    def next_content(self, prefix: str) -> str:
        self.n_content += 1
        return f"{prefix}-{self.n_content:05d}"

    def contributors(self) -> list[Account]:
        return [a for a in self.accounts if a.role != "reader" and a.logs_in]


@dataclass(slots=True)
class World:
    seed: int
    id_prefix: str  # seed and end: ids are unique per seed and per generated log
    orgs: list[Org]
    end: int


def org_source(org_id: str) -> str:
    """The CloudEvents ``source`` of an organisation's simulated events."""
    return f"urn:intranet:simulator:{org_id}"


def build_org(
    rng: random.Random,
    index: int,
    seed: int,
    start: int,
    end: int,
    accounts_per_org: tuple[int, int],
) -> tuple[Org, OrgProfile]:
    """The `index`-th organisation of a world and its profile, drawn from `rng`."""
    org_id = f"s{seed}-org-{index + 1:02d}"
    # The first organisations cover every level and time zone, later ones are drawn at random.
    level = LEVELS[(index + seed) % len(LEVELS)] if index < len(LEVELS) else rng.choice(LEVELS)
    platform = "community" if rng.random() < 0.15 else "intranet"
    arch = ARCHETYPES[level]
    if platform == "community":
        arch = arch.dampened()
    sector = rng.choice(SECTORS)
    tz_name = TIMEZONES[index] if index < len(TIMEZONES) else rng.choice(TIMEZONES)
    lo, hi = accounts_per_org
    n_accounts = rng.randint(lo, hi)
    # Ambition: usually at or above the level the organisation behaves like (the mismatch the
    # model warns about), sometimes none declared.
    highest = len(LEVELS) - 1
    target: str | None = LEVELS[min(highest, LEVELS.index(level) + rng.choice((0, 0, 1, 1, 2)))]
    if rng.random() < 0.1:
        target = None
    profile = OrgProfile(
        org_id=org_id,
        name=f"{_ORG_WORD[sector]} {rng.choice(_PLACES)}",
        sector=sector,
        employees=int(n_accounts * rng.uniform(1.0, 1.3)),
        platform_type=platform,
        target_level=target,
        timezone=tz_name,
    )

    n_teams = max(2, n_accounts // 15)
    accounts: list[Account] = []
    heavy = max(1, round(n_accounts * 0.03))
    contributors = max(2, round(n_accounts * arch.contributors))
    span = end - start
    # Some organisations decline late in the window: part of their regulars drop out.
    drop_at = start + rng.uniform(0.7, 0.9) * span if rng.random() < 0.2 else math.inf
    for j in range(n_accounts):
        r = rng.random()
        kind = "guest" if r < 0.04 else "system" if r < 0.06 else "member"
        role = "heavy" if j < heavy else "contributor" if j < contributors else "reader"
        joined = start if rng.random() < 0.82 else start + int(rng.uniform(0.05, 0.9) * span)
        deleted: float = math.inf
        if rng.random() < 0.02 and end - joined > 2 * DAY:
            deleted = int(rng.uniform(joined + DAY, end))
        contributor = role != "reader"
        logs_in = contributor or rng.random() < arch.activation
        regular = logs_in and (contributor or rng.random() < arch.regulars)
        interactor = regular and rng.random() < arch.interactors / arch.regulars
        accounts.append(
            Account(
                id=f"acc-{j + 1:04d}",
                kind=kind,
                team=rng.randrange(n_teams),
                factor=min(2.5, max(0.2, rng.lognormvariate(0.0, 0.5))),
                role=role,
                joined=joined,
                deleted=deleted,
                logs_in=logs_in,
                regular=regular,
                interactor=interactor,
                stops=drop_at if regular and not contributor and rng.random() < 0.5 else math.inf,
            )
        )
    teams: list[list[Account]] = [[] for _ in range(n_teams)]
    for account in accounts:
        teams[account.team].append(account)
    org = Org(
        id=org_id,
        tz=ZoneInfo(tz_name),
        arch=arch,
        trend=rng.uniform(-0.5, 0.5),
        accounts=accounts,
        teams=teams,
        source=org_source(org_id),
        n_accounts_created=n_accounts,
    )
    return org, profile
