"""The history of one simulated organisation: its events between `start` and `end`.

This is the day-by-day walk of the backfill: the initial account snapshot and later accounts,
first log-ins and deletions, then per local day the channel messages (and the reads and
reactions they get), pages and documents, and each account's visits and interactions. It emits
raw typed events (time, sequence number, organisation, type, payload); :mod:`.generate` puts
them in produce order and gives them ids.
"""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

from pydantic import BaseModel

from engagement.events import (
    AccountCreated,
    AccountDeleted,
    ContentPublished,
    ContentViewed,
    Interaction,
    Visit,
    topics,
)

from .behaviour import CLIENT_WEIGHTS, CLIENTS, WEEKDAY, interaction, local_days, poisson, work_hour
from .world import DAY, HOUR, RECENT_MESSAGES, Account, Message, Org

__all__ = ["Backfill", "Raw"]

#: (event time, generation order, org, type, payload)
Raw = tuple[int, int, Org, str, BaseModel]

#: Weekday probability that a logged-in account outside the regulars drops by anyway.
_DORMANT_DAILY = 0.003
#: Probability that an interactor interacts on a day it visits.
_INTERACT_DAILY = 0.35


class Backfill:
    """Generates the history of one organisation between `start` and `end`."""

    def __init__(
        self, rng: random.Random, org: Org, start: int, end: int, volume: float, out: list[Raw]
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
        for midnight, weekday in local_days(org.tz, self.start, self.end):
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
        rhythm = WEEKDAY[weekday] * self.intensity(midnight + 12 * HOUR)
        size = 1.0
        contributors = org.contributors()
        weights = [6.0 if a.role == "heavy" else 1.0 for a in contributors]
        for _ in range(poisson(rng, arch.messages * size * self.volume * rhythm)):
            author = rng.choices(contributors, weights)[0]
            t = midnight + work_hour(rng, weekday) * HOUR
            if self.in_range(t) and author.alive(t):
                self.message(author, t)
        for _ in range(poisson(rng, arch.pages * size * self.volume * rhythm)):
            author = rng.choices(contributors, weights)[0]
            t = midnight + work_hour(rng, weekday) * HOUR
            if self.in_range(t) and author.alive(t):
                self.page(author, t)
        for account in org.accounts:
            if account.logs_in and account.kind != "system":
                self.visits(account, midnight, weekday, rhythm)

    def message(self, author: Account, t: float) -> None:
        org, rng = self.org, self.rng
        team: int | None = author.team if rng.random() < 0.6 else None
        audience = org.teams[author.team] if team is not None else org.accounts
        audience_size: int | None = None
        if team is not None and rng.random() < 0.8:
            audience_size = len(audience)
        elif team is None and rng.random() < 0.2:
            audience_size = len(org.accounts)
        content_id = org.next_content("msg")
        message = Message(int(t), content_id, team, author.id)
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

    def view(self, reader: Account, message: Message, t: int) -> None:
        message.readers.add(reader.id)
        data = ContentViewed(
            org_id=self.org.id,
            account_id=reader.id,
            content_id=message.content_id,
            content_type="message",
        )
        self.emit(t, topics.CONTENT_VIEWED_TYPE, data)

    def page(self, author: Account, t: float) -> None:
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
        for _ in range(poisson(rng, 2.0)):
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

    def visits(self, account: Account, midnight: int, weekday: int, rhythm: float) -> None:
        org, rng = self.org, self.rng
        noon = midnight + 12 * HOUR
        if account.engaged(noon):
            p = min(0.98, org.arch.daily * account.factor * rhythm)
        else:
            p = _DORMANT_DAILY * WEEKDAY[weekday]
        if rng.random() >= p:
            return
        times = sorted(
            midnight + work_hour(rng, weekday) * HOUR
            for _ in range(1 + poisson(rng, 0.5 * self.volume))
        )
        times = [t for t in times if self.in_range(t) and account.alive(t)]
        if not times:
            return
        client = rng.choices(CLIENTS, CLIENT_WEIGHTS)[0]
        for t in times:
            visit = Visit(org_id=org.id, account_id=account.id, client=client)
            self.emit(t, topics.VISIT_TYPE, visit)
        if not account.interactor or rng.random() >= min(0.95, _INTERACT_DAILY * account.factor):
            return
        for _ in range(1 + poisson(rng, 0.4 * self.volume)):
            t = times[0] + rng.uniform(30, 2 * HOUR)
            if self.in_range(t) and account.engaged(t):
                self.emit(t, topics.INTERACTION_TYPE, interaction(rng, org, account, t))
