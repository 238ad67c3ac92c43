"""The backfill generator: a whole simulated log (profiles and history) for a seed and an end.

Everything here is pure: no I/O, no clock (the caller passes `end`), and all randomness comes
from ``random.Random`` instances seeded from `seed` (one per organisation and purpose, so adding
organisations or changing the volume leaves the others alone). The same arguments always give
byte-identical records, event ids included.

Records come in produce order: sorted by event time, except for the injected disorder (records
that arrive up to three days late) and duplicates (the same record re-sent later). The log
keeps its typed events (:class:`~engagement_simulator.events.SimEvent`); its records are encoded
from them
on first use, so scenarios transform events, not bytes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from engagement.events import KafkaRecord, deterministic_id, topics

from .backfill import Backfill, Raw
from .events import SimEvent, encode_all, org_event
from .world import DAY, HOUR, World, build_org

__all__ = ["DEFAULT_EVENTS_PER_ACCOUNT_DAY", "MAX_DISORDER_SECONDS", "SimulatedLog", "generate"]

DEFAULT_EVENTS_PER_ACCOUNT_DAY = 1.0
MAX_DISORDER_SECONDS = 3 * DAY
#: Measured: events per account-day ~= FLOOR + PER_VOLUME * volume (mean over seeds; single
#: seeds vary by about +-30 % with their organisations' archetypes and sizes).
_EVENTS_FLOOR, _EVENTS_PER_VOLUME = 0.23, 0.48


@dataclass
class SimulatedLog:
    """A generated log: one profile per organisation, then the activity in produce order, as
    typed events (`profile_events`, `events`) and as Kafka records (`profiles`, `activity`,
    encoded from the events on first use). `world` holds the simulation state
    :class:`~engagement_simulator.live.LiveTraffic` continues from."""

    profile_events: list[SimEvent]
    events: list[SimEvent]
    org_ids: list[str]
    start: datetime
    end: datetime
    world: World = field(repr=False, compare=False)

    @cached_property
    def profiles(self) -> list[KafkaRecord]:
        return encode_all(self.profile_events)

    @cached_property
    def activity(self) -> list[KafkaRecord]:
        return encode_all(self.events)


def _produce_order(
    rng: random.Random, raw: list[Raw], duplicates: float, disorder: float
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
    encode_rng = random.Random(f"{seed}:encode")

    world = World(seed=seed, id_prefix=id_prefix, orgs=[], end=end_s)
    profiles: list[SimEvent] = []
    raw: list[Raw] = []
    for index in range(orgs):
        org_rng = random.Random(f"{seed}:org:{index}")
        org, profile = build_org(org_rng, index, seed, start_s, end_s, (lo, hi))
        world.orgs.append(org)
        profile_id = deterministic_id(id_prefix, org.id, "profile")
        profiles.append(
            SimEvent(topics.ORG_PROFILE_TYPE, profile, start_s, profile_id, org.source, org.id)
        )
        activity_rng = random.Random(f"{seed}:activity:{index}")
        Backfill(activity_rng, org, start_s, end_s, volume, raw).run()

    raw.sort(key=lambda r: (r[0], r[2].id, r[1]))
    made: dict[int, SimEvent] = {}
    events: list[SimEvent] = []
    order_rng = random.Random(f"{seed}:order")
    # Ids and modes are drawn in produce order (first sends only), as the records go out.
    for index in _produce_order(order_rng, raw, duplicates, disorder):
        event = made.get(index)
        if event is None:
            t, seq, org, type_, data = raw[index]
            event = made[index] = org_event(encode_rng, id_prefix, org, seq, type_, t, data)
        events.append(event)
    return SimulatedLog(
        profile_events=profiles,
        events=events,
        org_ids=[o.id for o in world.orgs],
        start=datetime.fromtimestamp(start_s, UTC),
        end=datetime.fromtimestamp(end_s, UTC),
        world=world,
    )
