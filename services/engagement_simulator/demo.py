"""The ``make run`` demo: a generated log shaped so that every feature shows within minutes.

- **A peer group with enough organisations** (``group_size``, default 6, at least the
  benchmark k = 5): the first ``group_size`` organisations become intranets of one sector and
  one size band, so the group's benchmark is published and their pages show the overlap chart.
  The others keep their drawn profiles (their groups stay below k, unpublished).
- **An adoption drop during the live phase**: one member of that group (the *dropping*
  organisation, the second) starts with every member account activated (its never-logged-in
  accounts are left out of the backfill, so Reach is 100 %); ``drop_after`` seconds into the
  live phase it onboards a wave of new accounts (``wave_share`` of its accounts) that never
  log in: Reach falls far under its 95 % threshold and the ``component_below_threshold``
  alert fires on screen (and the score falls with it).

Pure, like the scenarios: the same log and arguments always give the same result.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from engagement.events import AccountCreated, KafkaRecord, OrgProfile, topics

from .events import SimEvent, encode_all, org_event
from .generate import SimulatedLog
from .world import Account

__all__ = ["DEMO_SECTOR", "Demo", "shape_demo"]

DEMO_SECTOR = "healthcare"
DEMO_EMPLOYEES = 420  # one size band for the whole group


@dataclass(frozen=True)
class Demo:
    group_size: int = 6
    drop_after: float = 90.0  # seconds of live traffic before the wave
    wave_share: float = 1.0  # new never-activated accounts, as a share of existing ones

    def group(self, log: SimulatedLog) -> list[str]:
        return log.org_ids[: self.group_size]

    def dropping(self, log: SimulatedLog) -> str:
        group = self.group(log)
        return group[1] if len(group) > 1 else group[0]


def shape_demo(log: SimulatedLog, demo: Demo | None = None) -> SimulatedLog:
    """The log with the demo's peer group and its dropping organisation's full Reach."""
    demo = demo or Demo()
    if len(log.org_ids) < demo.group_size:
        raise ValueError(f"the demo needs at least {demo.group_size} organisations")
    group, dropping = set(demo.group(log)), demo.dropping(log)
    profiles = []
    for event in log.profile_events:
        data = event.data
        assert isinstance(data, OrgProfile)
        if data.org_id in group:
            data = data.model_copy(
                update={
                    "sector": DEMO_SECTOR,
                    "employees": DEMO_EMPLOYEES,
                    "platform_type": "intranet",
                    "target_level": "engaging" if data.org_id == dropping else data.target_level,
                }
            )
            event = replace(event, data=data)
        profiles.append(event)
    active = {e.account for e in log.events if e.org == dropping and _activates(e)}
    events = [
        e
        for e in log.events
        if not (
            e.org == dropping and e.type == topics.ACCOUNT_CREATED_TYPE and e.account not in active
        )
    ]
    return replace(log, profile_events=profiles, events=events)


def _activates(event: SimEvent) -> bool:
    return event.type not in (topics.ACCOUNT_CREATED_TYPE, topics.ACCOUNT_DELETED_TYPE)


def onboarding_wave(log: SimulatedLog, demo: Demo, now: int) -> list[KafkaRecord]:
    """The live drop: ``account.created`` at ``now`` for a wave of accounts of the dropping
    organisation that never log in (added to the world, so live traffic never uses them)."""
    org_id = demo.dropping(log)
    org = next(o for o in log.world.orgs if o.id == org_id)
    rng = random.Random(f"{log.world.seed}:demo-wave")
    n = max(1, round(demo.wave_share * len(org.accounts)))
    events = []
    for _ in range(n):
        org.n_accounts_created += 1
        account_id = f"acc-{org.n_accounts_created:04d}"
        org.accounts.append(
            Account(
                id=account_id,
                kind="member",
                team=0,
                factor=1.0,
                role="reader",
                joined=now,
                deleted=float("inf"),
                logs_in=False,
                regular=False,
                interactor=False,
            )
        )
        org.seq += 1
        data = AccountCreated(org_id=org_id, account_id=account_id)
        events.append(
            org_event(
                rng,
                log.world.id_prefix,
                org,
                f"demo-{org.seq}",
                topics.ACCOUNT_CREATED_TYPE,
                now,
                data,
            )
        )
    return encode_all(events)
