"""Live traffic: the generated world continued with events at the wall-clock time.

The backfill ends at `end`; a live demo then needs a steady stream of plausible events "now".
:class:`LiveTraffic` draws them from the same world (the same accounts, their recent messages,
their engagement), so the live events fit the history the scorer has already seen.
"""

from __future__ import annotations

import math
import random
from datetime import datetime

from pydantic import BaseModel

from engagement.events import (
    AccountCreated,
    AccountDeleted,
    ContentPublished,
    ContentViewed,
    KafkaRecord,
    Visit,
    topics,
)

from .behaviour import CLIENT_WEIGHTS, CLIENTS, interaction
from .events import SimEvent, encode_all, org_event
from .generate import SimulatedLog
from .world import RECENT_MESSAGES, Account, Message, Org

__all__ = ["LiveTraffic"]


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
        self.weights = [len(o.accounts) for o in self.world.orgs]

    def events(self, now: datetime, count: int) -> list[SimEvent]:
        """`count` typed events at `now` (aware)."""
        if now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        t = int(now.timestamp())
        events = []
        for _ in range(count):
            org = self.rng.choices(self.world.orgs, self.weights)[0]
            type_, data = self._event(org, t)
            org.seq += 1
            seq = f"live-{org.seq}"
            events.append(org_event(self.rng, self.world.id_prefix, org, seq, type_, t, data))
        return events

    def batch(self, now: datetime, count: int) -> list[KafkaRecord]:
        """`count` activity records at `now` (aware)."""
        return encode_all(self.events(now, count))

    def _someone(self, org: Org, t: int, want: str = "any") -> Account | None:
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

    def _new_account(self, org: Org, t: int) -> tuple[str, BaseModel]:
        rng = self.rng
        org.n_accounts_created += 1
        account = Account(
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

    def _event(self, org: Org, t: int) -> tuple[str, BaseModel]:
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
                return topics.INTERACTION_TYPE, interaction(rng, org, interactor, t)
        visitor = self._someone(org, t)
        if visitor is None:  # everybody left: somebody new joins
            return self._new_account(org, t)
        client = rng.choices(CLIENTS, CLIENT_WEIGHTS)[0]
        return topics.VISIT_TYPE, Visit(org_id=org.id, account_id=visitor.id, client=client)

    def _publish(self, org: Org, author: Account, t: int) -> tuple[str, BaseModel]:
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
        org.messages.append(Message(t, content_id, team, author.id))
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

    def _read(self, org: Org, t: int) -> ContentViewed | None:
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
