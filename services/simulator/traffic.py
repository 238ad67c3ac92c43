"""Synthetic intranet traffic: organisation profiles and activity events, as Kafka records.

Everything here is pure: no I/O besides the JSON-lines helpers at the end, no clock (the caller
passes `end`), and all randomness comes from ``random.Random`` instances seeded from `seed` (one
per organisation and purpose, so adding organisations or changing the volume leaves the others
alone). The same arguments always give byte-identical records, event ids included.

Each organisation gets a behaviour *archetype* close to one of the four ambition levels (few
visits and reads for Initiation, many readers but a couple of communicators for Informing, more
contributors and interactions for Engaging and Co-creating), a community platform dampens
everything, and a slow trend (sometimes a late drop-out of regulars) makes scores move.

Records come in produce order: sorted by event time, except for the injected disorder (records
that arrive up to three days late) and duplicates (the same record re-sent later).
:class:`LiveTraffic` continues the same world with events at the wall-clock time.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache, lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from engagement import recording
from engagement.events import (
    AccountCreated,
    AccountDeleted,
    ContentPublished,
    ContentViewed,
    Interaction,
    KafkaRecord,
    OrgProfile,
    Visit,
    deterministic_id,
    encode_event,
    encode_structured,
    topics,
)
from engagement.events.codec import ID_NAMESPACE

__all__ = [
    "DEFAULT_EVENTS_PER_ACCOUNT_DAY",
    "SECTORS",
    "TIMEZONES",
    "LiveTraffic",
    "SimulatedLog",
    "generate",
    "read_jsonl",
    "to_jsonl",
    "write_jsonl",
]

TIMEZONES = ("Europe/Amsterdam", "Europe/London", "America/New_York", "Asia/Tokyo")
SECTORS = ("government", "healthcare", "education", "finance")
LEVELS = ("initiation", "informing", "engaging", "co_creating")
DEFAULT_EVENTS_PER_ACCOUNT_DAY = 1.0

DAY = 86_400
HOUR = 3_600
MAX_DISORDER_SECONDS = 3 * DAY
STRUCTURED_FRACTION = 0.1
#: How many messages per organisation :class:`LiveTraffic` keeps as read targets.
RECENT_MESSAGES = 300
#: Measured: events per account-day ~= FLOOR + PER_VOLUME * volume (mean over seeds; single
#: seeds vary by about +-30 % with their organisations' archetypes and sizes).
_EVENTS_FLOOR, _EVENTS_PER_VOLUME = 0.23, 0.48

# Activity by weekday (Monday first): office rhythm, quiet weekends.
_WEEKDAY = (1.0, 1.05, 1.0, 0.95, 0.8, 0.12, 0.1)
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
_INTERACTION_KINDS = ("like", "reaction", "comment", "chat_message", "program_completed")
_INTERACTION_WEIGHTS = (0.3, 0.2, 0.2, 0.25, 0.05)
_CLIENTS = ("web", "app", "teams")
_CLIENT_WEIGHTS = (0.6, 0.3, 0.1)


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


#: Behaviour close to each ambition level's typical profile (product definition, section 2).
ARCHETYPES: dict[str, Archetype] = {
    "initiation": Archetype(0.95, 0.3, 0.15, 0.35, 0.1, 0.02, 1.5, 0.6),
    "informing": Archetype(0.95, 0.75, 0.22, 0.98, 0.1, 0.03, 2.5, 1.0),
    "engaging": Archetype(0.96, 0.8, 0.4, 0.6, 0.45, 0.15, 3.0, 1.5),
    "co_creating": Archetype(0.98, 0.92, 0.55, 0.4, 0.65, 0.3, 3.5, 2.0),
}
#: Weekday probability that a logged-in account outside the regulars drops by anyway.
_DORMANT_DAILY = 0.003
#: Probability that an interactor interacts on a day it visits.
_INTERACT_DAILY = 0.35


# ------------------------------------------------------------------------------------------------
# the simulated world
# ------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Account:
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
class _Message:
    t: int
    content_id: str
    team: int | None  # None: organisation-wide channel
    author: str
    readers: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Org:
    id: str
    tz: ZoneInfo
    arch: Archetype
    trend: float  # slope of the daily and read probabilities over the window
    accounts: list[_Account]
    teams: list[list[_Account]]
    source: str
    seq: int = 0  # event counter: ids are deterministic_id(..., org, seq)
    n_content: int = 0
    n_accounts_created: int = 0
    pages: list[tuple[int, str, str]] = field(default_factory=list)  # (created, id, type)
    messages: list[_Message] = field(default_factory=list)

    def next_content(self, prefix: str) -> str:
        self.n_content += 1
        return f"{prefix}-{self.n_content:05d}"

    def contributors(self) -> list[_Account]:
        return [a for a in self.accounts if a.role != "reader" and a.logs_in]


@dataclass(slots=True)
class _World:
    seed: int
    id_prefix: str  # seed and end: ids are unique per seed and per generated log
    orgs: list[_Org]
    end: int


# (event time, generation order, org, type, payload)
_Raw = tuple[int, int, _Org, str, BaseModel]


@dataclass(slots=True)
class SimulatedLog:
    """A generated log: one profile record per organisation, then the activity in produce
    order. `world` holds the simulation state :class:`LiveTraffic` continues from."""

    profiles: list[KafkaRecord]
    activity: list[KafkaRecord]
    org_ids: list[str]
    start: datetime
    end: datetime
    world: _World = field(repr=False, compare=False)


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------


def _poisson(rng: random.Random, lam: float) -> int:
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


def _work_hour(rng: random.Random, weekday: int) -> float:
    """Local hour of an activity: office hours with a morning peak, later on weekends."""
    if weekday >= 5:
        return rng.uniform(9.0, 22.0)
    return rng.triangular(6.5, 19.5, 9.5)


def _local_days(tz: ZoneInfo, start: int, end: int) -> list[tuple[int, int]]:
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


def _build_org(
    rng: random.Random,
    index: int,
    seed: int,
    start: int,
    end: int,
    accounts_per_org: tuple[int, int],
) -> tuple[_Org, OrgProfile]:
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
    target: str | None = LEVELS[min(3, LEVELS.index(level) + rng.choice((0, 0, 1, 1, 2)))]
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
    accounts: list[_Account] = []
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
            _Account(
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
    teams: list[list[_Account]] = [[] for _ in range(n_teams)]
    for account in accounts:
        teams[account.team].append(account)
    org = _Org(
        id=org_id,
        tz=ZoneInfo(tz_name),
        arch=arch,
        trend=rng.uniform(-0.5, 0.5),
        accounts=accounts,
        teams=teams,
        source=f"urn:intranet:simulator:{org_id}",
        n_accounts_created=n_accounts,
    )
    return org, profile


# ------------------------------------------------------------------------------------------------
# backfill
# ------------------------------------------------------------------------------------------------


class _Backfill:
    """Generates the history of one organisation between `start` and `end`."""

    def __init__(
        self, rng: random.Random, org: _Org, start: int, end: int, volume: float, out: list[_Raw]
    ) -> None:
        self.rng, self.org, self.start, self.end, self.volume = rng, org, start, end, volume
        self.out = out

    def emit(self, t: float, type_: str, data: BaseModel) -> None:
        self.org.seq += 1
        self.out.append((int(t), self.org.seq, self.org, type_, data))

    def intensity(self, t: float) -> float:
        """The organisation's trend over the window (1.0 in the middle)."""
        position = (t - self.start) / max(1, self.end - self.start) - 0.5
        return 1.0 + self.org.trend * position

    def run(self) -> None:
        org = self.org
        self.accounts_created()
        for midnight, weekday in _local_days(org.tz, self.start, self.end):
            self.day(midnight, weekday)
        del org.messages[:-RECENT_MESSAGES]

    def accounts_created(self) -> None:
        """Account snapshot at the start, new accounts later, first log-ins and deletions."""
        org, rng = self.org, self.rng
        for account in org.accounts:
            activated_at = None
            if account.joined == self.start:
                t = self.start + rng.uniform(0, HOUR)  # the initial account snapshot
                if account.logs_in and rng.random() < 0.9:
                    activated_at = datetime.fromtimestamp(
                        self.start - int(rng.uniform(1, 400) * DAY), UTC
                    )
            else:
                t = account.joined
            if rng.random() >= 0.08:  # else implicitly created by its first log-in (SSO)
                data = AccountCreated(
                    org_id=org.id,
                    account_id=account.id,
                    kind=account.kind,
                    activated_at=activated_at,
                )
                self.emit(t, topics.ACCOUNT_CREATED_TYPE, data)
            if account.logs_in and activated_at is None and account.kind != "system":
                first = t + rng.uniform(300, DAY)
                if self.in_range(first) and account.alive(first):
                    visit = Visit(org_id=org.id, account_id=account.id, client="web")
                    self.emit(first, topics.VISIT_TYPE, visit)
            if account.deleted < math.inf:
                deleted = AccountDeleted(org_id=org.id, account_id=account.id)
                self.emit(account.deleted, topics.ACCOUNT_DELETED_TYPE, deleted)

    def in_range(self, t: float) -> bool:
        return self.start <= t <= self.end

    def day(self, midnight: int, weekday: int) -> None:
        org, rng, arch = self.org, self.rng, self.org.arch
        rhythm = _WEEKDAY[weekday] * self.intensity(midnight + 12 * HOUR)
        size = 1.0
        contributors = org.contributors()
        weights = [6.0 if a.role == "heavy" else 1.0 for a in contributors]
        for _ in range(_poisson(rng, arch.messages * size * self.volume * rhythm)):
            author = rng.choices(contributors, weights)[0]
            t = midnight + _work_hour(rng, weekday) * HOUR
            if self.in_range(t) and author.alive(t):
                self.message(author, t)
        for _ in range(_poisson(rng, arch.pages * size * self.volume * rhythm)):
            author = rng.choices(contributors, weights)[0]
            t = midnight + _work_hour(rng, weekday) * HOUR
            if self.in_range(t) and author.alive(t):
                self.page(author, t)
        for account in org.accounts:
            if account.logs_in and account.kind != "system":
                self.visits(account, midnight, weekday, rhythm)

    def message(self, author: _Account, t: float) -> None:
        org, rng = self.org, self.rng
        team: int | None = author.team if rng.random() < 0.6 else None
        audience = org.teams[author.team] if team is not None else org.accounts
        audience_size: int | None = None
        if team is not None and rng.random() < 0.8:
            audience_size = len(audience)
        elif team is None and rng.random() < 0.2:
            audience_size = len(org.accounts)
        content_id = org.next_content("msg")
        message = _Message(int(t), content_id, team, author.id)
        channel = f"team-{team}" if team is not None else rng.choice(("news", "general"))
        data = ContentPublished(
            org_id=org.id,
            account_id=author.id,
            content_id=content_id,
            content_type="message",
            channel_id=channel,
            audience_size=audience_size,
        )
        self.emit(t, topics.CONTENT_PUBLISHED_TYPE, data)
        read_p = org.arch.read * self.intensity(t)
        for reader in audience:
            if reader is author or reader.kind == "system" or not reader.engaged(t):
                continue
            if rng.random() >= min(0.98, read_p * math.sqrt(reader.factor)):
                continue
            # Reads follow the publication: minutes to a couple of days later.
            read_at = int(t) + 60 + int(rng.expovariate(1 / (5 * HOUR)))
            if read_at > self.end or not reader.engaged(read_at):
                continue
            self.view(reader, message, read_at)
            if rng.random() < 0.1:  # a second read changes nothing, but happens
                again = read_at + int(rng.uniform(60, DAY))
                if again <= self.end and reader.alive(again):
                    self.view(reader, message, again)
            if reader.interactor and rng.random() < 0.3:
                kind = rng.choice(("like", "reaction", "comment"))
                t_int = read_at + int(rng.uniform(5, 600))
                if t_int <= self.end and reader.alive(t_int):
                    data_i = Interaction(
                        org_id=org.id, account_id=reader.id, kind=kind, target_id=content_id
                    )
                    self.emit(t_int, topics.INTERACTION_TYPE, data_i)
        org.messages.append(message)

    def view(self, reader: _Account, message: _Message, t: int) -> None:
        message.readers.add(reader.id)
        data = ContentViewed(
            org_id=self.org.id,
            account_id=reader.id,
            content_id=message.content_id,
            content_type="message",
        )
        self.emit(t, topics.CONTENT_VIEWED_TYPE, data)

    def page(self, author: _Account, t: float) -> None:
        org, rng = self.org, self.rng
        content_type = rng.choices(("page", "document", "event"), (0.45, 0.4, 0.15))[0]
        earlier = [(page, kind) for created, page, kind in org.pages[-50:] if created < t]
        if content_type != "event" and earlier and rng.random() < 0.4:
            (content_id, content_type), action = rng.choice(earlier), "edited"
        else:
            content_id, action = org.next_content(content_type), "created"
            if content_type != "event":
                org.pages.append((int(t), content_id, content_type))
        data = ContentPublished(
            org_id=org.id,
            account_id=author.id,
            content_id=content_id,
            content_type=content_type,
            action=action,
        )
        self.emit(t, topics.CONTENT_PUBLISHED_TYPE, data)
        # Pages and documents are read too (they do not count towards View).
        for _ in range(_poisson(rng, 2.0)):
            reader = rng.choice(org.accounts)
            read_at = int(t) + 60 + int(rng.expovariate(1 / (8 * HOUR)))
            if read_at <= self.end and reader.engaged(read_at):
                viewed = ContentViewed(
                    org_id=org.id,
                    account_id=reader.id,
                    content_id=content_id,
                    content_type=content_type,
                )
                self.emit(read_at, topics.CONTENT_VIEWED_TYPE, viewed)

    def visits(self, account: _Account, midnight: int, weekday: int, rhythm: float) -> None:
        org, rng = self.org, self.rng
        noon = midnight + 12 * HOUR
        if account.engaged(noon):
            p = min(0.98, org.arch.daily * account.factor * rhythm)
        else:
            p = _DORMANT_DAILY * _WEEKDAY[weekday]
        if rng.random() >= p:
            return
        times = sorted(
            midnight + _work_hour(rng, weekday) * HOUR
            for _ in range(1 + _poisson(rng, 0.5 * self.volume))
        )
        times = [t for t in times if self.in_range(t) and account.alive(t)]
        if not times:
            return
        client = rng.choices(_CLIENTS, _CLIENT_WEIGHTS)[0]
        for t in times:
            visit = Visit(org_id=org.id, account_id=account.id, client=client)
            self.emit(t, topics.VISIT_TYPE, visit)
        if not account.interactor or rng.random() >= min(0.95, _INTERACT_DAILY * account.factor):
            return
        for _ in range(1 + _poisson(rng, 0.4 * self.volume)):
            t = times[0] + rng.uniform(30, 2 * HOUR)
            if self.in_range(t) and account.engaged(t):
                self.emit(t, topics.INTERACTION_TYPE, _interaction(rng, org, account, t))


def _interaction(rng: random.Random, org: _Org, account: _Account, t: float) -> Interaction:
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


# ------------------------------------------------------------------------------------------------
# encoding and ordering
# ------------------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _utc_day(day: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day * DAY))


def _utc_text(t: int) -> bytes:
    """RFC 3339 UTC time of whole epoch seconds, as the CloudEvents SDK writes it."""
    day, second = divmod(t, DAY)
    hours, rest = divmod(second, HOUR)
    minutes, seconds = divmod(rest, 60)
    return f"{_utc_day(day)}T{hours:02d}:{minutes:02d}:{seconds:02d}Z".encode()


def _binary_record(
    type_: str, source: str, id_: str, t: int, data: BaseModel, key: str
) -> KafkaRecord:
    """What ``encode_event`` returns for a whole-second UTC time and no subject, built directly
    (the SDK round trip costs most of the generation time). :func:`_fast_path_ok` checks it
    against ``encode_event`` once; on any difference the simulator uses ``encode_event``."""
    return KafkaRecord(
        key=key.encode("utf-8"),
        value=data.model_dump_json().encode("utf-8"),
        headers=[
            ("ce_specversion", b"1.0"),
            ("ce_id", id_.encode("utf-8")),
            ("ce_source", source.encode("utf-8")),
            ("ce_type", type_.encode("utf-8")),
            ("ce_time", _utc_text(t)),
            ("content-type", b"application/json"),
        ],
    )


@cache
def _fast_path_ok() -> bool:
    samples: list[tuple[str, BaseModel]] = [
        (topics.ACCOUNT_CREATED_TYPE, AccountCreated(org_id="o", account_id="a", kind="guest")),
        (topics.ACCOUNT_DELETED_TYPE, AccountDeleted(org_id="o", account_id="a")),
        (topics.VISIT_TYPE, Visit(org_id="o", account_id="a", client="web")),
        (
            topics.CONTENT_PUBLISHED_TYPE,
            ContentPublished(
                org_id="o", account_id="a", content_id="m", content_type="message", audience_size=3
            ),
        ),
        (
            topics.CONTENT_VIEWED_TYPE,
            ContentViewed(org_id="o", account_id="a", content_id="m", content_type="message"),
        ),
        (topics.INTERACTION_TYPE, Interaction(org_id="o", account_id="a", kind="like")),
    ]
    t = 1_736_000_000
    for type_, data in samples:
        expected = encode_event(
            type=type_,
            source="urn:s",
            id="i-1",
            time=datetime.fromtimestamp(t, UTC),
            subject=None,
            data=data,
            key="o",
        )
        if _binary_record(type_, "urn:s", "i-1", t, data, "o") != expected:
            return False
    return True


def _uuid5_text(name: str) -> str:
    """``str(uuid.uuid5(ID_NAMESPACE, name))`` without the UUID object (a third of the cost)."""
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + name.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_NAMESPACE_BYTES = ID_NAMESPACE.bytes


@cache
def _fast_ids_ok() -> bool:
    samples = [("simulator|1|0", "org", "1"), ("p", "org-ü", "live-99"), ("", "", "")]
    return all(_uuid5_text("|".join(parts)) == deterministic_id(*parts) for parts in samples)


class _Encoder:
    """Encodes events: binary mode, a STRUCTURED_FRACTION of them in structured mode."""

    def __init__(self, rng: random.Random, id_prefix: str) -> None:
        self.rng, self.id_prefix = rng, id_prefix
        self.fast = _fast_path_ok()
        self.fast_ids = _fast_ids_ok()

    def __call__(
        self, org: _Org, seq: int | str, type_: str, t: int, data: BaseModel
    ) -> KafkaRecord:
        if self.fast_ids:
            id_ = _uuid5_text(f"{self.id_prefix}|{org.id}|{seq}")
        else:
            id_ = deterministic_id(self.id_prefix, org.id, str(seq))
        structured = self.rng.random() < STRUCTURED_FRACTION
        if self.fast and not structured:
            return _binary_record(type_, org.source, id_, t, data, org.id)
        encode = encode_structured if structured else encode_event
        return encode(
            type=type_,
            source=org.source,
            id=id_,
            time=datetime.fromtimestamp(t, UTC),
            subject=None,
            data=data,
            key=org.id,
        )


def _produce_order(
    rng: random.Random, raw: list[_Raw], duplicates: float, disorder: float
) -> list[int]:
    """Produce order as indices into `raw` (a duplicated record's index appears twice).

    Sorted by event time; a `disorder` fraction is placed as if up to three days later, and a
    `duplicates` fraction is sent a second time after its first send.
    """
    keys: list[tuple[float, int, int]] = []  # (order key, tie breaker, raw index)
    n = len(raw)
    for i, (t, *_rest) in enumerate(raw):
        key = float(t)
        if disorder > 0 and rng.random() < disorder:
            key += rng.uniform(600, MAX_DISORDER_SECONDS)
        keys.append((key, i, i))
    if duplicates > 0:
        for picked in rng.sample(range(n), round(duplicates * n)):
            key = keys[picked][0] + rng.uniform(1, 6 * HOUR)
            keys.append((key, n + picked, picked))
    keys.sort()
    return [index for _key, _tie, index in keys]


def generate(
    seed: int,
    orgs: int,
    days: int,
    end: datetime,
    *,
    duplicates: float = 0.0,
    disorder: float = 0.0,
    events_per_account_day: float = DEFAULT_EVENTS_PER_ACCOUNT_DAY,
    accounts_per_org: tuple[int, int] = (20, 120),
) -> SimulatedLog:
    """Generate `days` days of history ending at `end` (aware) for `orgs` organisations.

    `duplicates`: fraction of records sent a second time (byte-identical, later in the order).
    `disorder`: fraction of records produced late, as if up to 3 days after their event time.
    `events_per_account_day`: approximate mean volume; it scales message, page, repeat-visit
    and interaction counts, not the shares of accounts that visit, read or contribute.
    """
    if end.utcoffset() is None:
        raise ValueError("end must be timezone-aware")
    if orgs < 1 or days < 1:
        raise ValueError("orgs and days must be at least 1")
    if not (0 <= duplicates <= 1 and 0 <= disorder <= 1):
        raise ValueError("duplicates and disorder are fractions in [0, 1]")
    if events_per_account_day <= 0:
        raise ValueError("events_per_account_day must be positive")
    lo, hi = accounts_per_org
    if not 1 <= lo <= hi:
        raise ValueError("accounts_per_org must be (low, high) with 1 <= low <= high")
    end_s = int(end.timestamp())
    start_s = end_s - days * DAY
    volume = max(0.05, (events_per_account_day - _EVENTS_FLOOR) / _EVENTS_PER_VOLUME)
    id_prefix = f"simulator|{seed}|{end_s}"
    encoder = _Encoder(random.Random(f"{seed}:encode"), id_prefix)

    world = _World(seed=seed, id_prefix=id_prefix, orgs=[], end=end_s)
    profiles: list[KafkaRecord] = []
    raw: list[_Raw] = []
    for index in range(orgs):
        org_rng = random.Random(f"{seed}:org:{index}")
        org, profile = _build_org(org_rng, index, seed, start_s, end_s, (lo, hi))
        world.orgs.append(org)
        profiles.append(
            encode_event(
                type=topics.ORG_PROFILE_TYPE,
                source=org.source,
                id=deterministic_id(id_prefix, org.id, "profile"),
                time=datetime.fromtimestamp(start_s, UTC),
                subject=None,
                data=profile,
                key=org.id,
            )
        )
        activity_rng = random.Random(f"{seed}:activity:{index}")
        _Backfill(activity_rng, org, start_s, end_s, volume, raw).run()

    raw.sort(key=lambda r: (r[0], r[2].id, r[1]))
    encoded: dict[int, KafkaRecord] = {}
    activity: list[KafkaRecord] = []
    order_rng = random.Random(f"{seed}:order")
    for index in _produce_order(order_rng, raw, duplicates, disorder):
        record = encoded.get(index)
        if record is None:
            t, seq, org, type_, data = raw[index]
            record = encoded[index] = encoder(org, seq, type_, t, data)
        activity.append(record)
    return SimulatedLog(
        profiles=profiles,
        activity=activity,
        org_ids=[o.id for o in world.orgs],
        start=datetime.fromtimestamp(start_s, UTC),
        end=datetime.fromtimestamp(end_s, UTC),
        world=world,
    )


# ------------------------------------------------------------------------------------------------
# live traffic
# ------------------------------------------------------------------------------------------------


class LiveTraffic:
    """Continues a generated world with events at the current time (for live demos).

    Each :meth:`batch` returns `count` activity records whose event time is `now`: visits,
    reads of recent messages (only of messages published before `now`), interactions, new
    messages and pages, and rarely a new or deleted account. Ids continue the log's
    deterministic sequence, so they never collide with the backfill.
    """

    def __init__(self, log: SimulatedLog) -> None:
        self.world = log.world
        self.rng = random.Random(f"{log.world.seed}:live")
        self.encode = _Encoder(self.rng, log.world.id_prefix)
        self.weights = [len(o.accounts) for o in self.world.orgs]

    def batch(self, now: datetime, count: int) -> list[KafkaRecord]:
        if now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        t = int(now.timestamp())
        records = []
        for _ in range(count):
            org = self.rng.choices(self.world.orgs, self.weights)[0]
            type_, data = self._event(org, t)
            org.seq += 1
            records.append(self.encode(org, f"live-{org.seq}", type_, t, data))
        return records

    def _someone(self, org: _Org, t: int, want: str = "any") -> _Account | None:
        """An engaged account (weighted by its factor); `want`: any, contributor, interactor."""
        pool = [
            a
            for a in org.accounts
            if a.kind != "system"
            and a.engaged(t)
            and (want != "contributor" or a.role != "reader")
            and (want != "interactor" or a.interactor)
        ]
        if not pool:
            return None
        return self.rng.choices(pool, [a.factor for a in pool])[0]

    def _new_account(self, org: _Org, t: int) -> tuple[str, BaseModel]:
        rng = self.rng
        org.n_accounts_created += 1
        account = _Account(
            id=f"acc-{org.n_accounts_created:04d}",
            kind="member",
            team=rng.randrange(len(org.teams)),
            factor=min(2.5, max(0.2, rng.lognormvariate(0.0, 0.5))),
            role="reader",
            joined=t,
            deleted=math.inf,
            logs_in=True,
            regular=True,
            interactor=rng.random() < org.arch.interactors,
        )
        org.accounts.append(account)
        org.teams[account.team].append(account)
        return topics.ACCOUNT_CREATED_TYPE, AccountCreated(org_id=org.id, account_id=account.id)

    def _event(self, org: _Org, t: int) -> tuple[str, BaseModel]:
        rng = self.rng
        r = rng.random()
        if r < 0.001:
            return self._new_account(org, t)
        if r < 0.0015:
            victim = self._someone(org, t)
            if victim is not None and victim.role == "reader":
                victim.deleted = t
                return topics.ACCOUNT_DELETED_TYPE, AccountDeleted(
                    org_id=org.id, account_id=victim.id
                )
        if r < 0.05:
            author = self._someone(org, t, "contributor")
            if author is not None:
                return self._publish(org, author, t)
        if r < 0.45:
            viewed = self._read(org, t)
            if viewed is not None:
                return topics.CONTENT_VIEWED_TYPE, viewed
        if r < 0.6:
            interactor = self._someone(org, t, "interactor")
            if interactor is not None:
                return topics.INTERACTION_TYPE, _interaction(rng, org, interactor, t)
        visitor = self._someone(org, t)
        if visitor is None:  # everybody left: somebody new joins
            return self._new_account(org, t)
        client = rng.choices(_CLIENTS, _CLIENT_WEIGHTS)[0]
        return topics.VISIT_TYPE, Visit(org_id=org.id, account_id=visitor.id, client=client)

    def _publish(self, org: _Org, author: _Account, t: int) -> tuple[str, BaseModel]:
        rng = self.rng
        if rng.random() < 0.3:
            content_type = rng.choice(("page", "document"))
            data = ContentPublished(
                org_id=org.id,
                account_id=author.id,
                content_id=org.next_content(content_type),
                content_type=content_type,
            )
            return topics.CONTENT_PUBLISHED_TYPE, data
        team: int | None = author.team if rng.random() < 0.6 else None
        content_id = org.next_content("msg")
        org.messages.append(_Message(t, content_id, team, author.id))
        del org.messages[:-RECENT_MESSAGES]
        data = ContentPublished(
            org_id=org.id,
            account_id=author.id,
            content_id=content_id,
            content_type="message",
            channel_id=f"team-{team}" if team is not None else "news",
            audience_size=len(org.teams[team]) if team is not None else None,
        )
        return topics.CONTENT_PUBLISHED_TYPE, data

    def _read(self, org: _Org, t: int) -> ContentViewed | None:
        recent = [m for m in org.messages[-50:] if m.t < t]
        if not recent:
            return None
        for _ in range(5):
            message = self.rng.choice(recent)
            audience = org.accounts if message.team is None else org.teams[message.team]
            reader = self.rng.choice(audience)
            if (
                reader.id != message.author
                and reader.id not in message.readers
                and reader.kind != "system"
                and reader.engaged(t)
            ):
                message.readers.add(reader.id)
                return ContentViewed(
                    org_id=org.id,
                    account_id=reader.id,
                    content_id=message.content_id,
                    content_type="message",
                )
        return None


# ------------------------------------------------------------------------------------------------
# JSON lines (the shared recording format)
# ------------------------------------------------------------------------------------------------


def to_jsonl(records: Iterable[KafkaRecord]) -> str:
    """Records as JSON lines `{"key", "value_b64", "headers": [[name, b64], ...]}`."""
    return "".join(recording.record_to_json(r) + "\n" for r in records)


def write_jsonl(path: Path | str, records: Iterable[KafkaRecord]) -> int:
    """Write records as JSON lines; returns how many were written."""
    return recording.write_jsonl(path, records)


def read_jsonl(path: Path | str) -> list[KafkaRecord]:
    """Read records written by :func:`write_jsonl`, byte-exact."""
    return list(recording.read_jsonl(path))
