"""Named scenarios: what-if stories told on top of a generated log
(``engagement_simulator.traffic``).

A scenario is a pure transformation of a :class:`~engagement_simulator.traffic.SimulatedLog`:
it removes, rewrites or adds typed events (:class:`~engagement_simulator.events.SimEvent`; the
records are encoded from them afterwards, nothing is decoded back), never touches a clock or
the network, and the same log always gives the same result (event ids of new events derive
from the events they come from, so duplicates stay duplicates). The base generator is not
changed by a scenario.

================== ============================================================================
name               story
================== ============================================================================
adoption-drop      Every other organisation (1st, 3rd, ...) loses a share of its users: from
                   ``silent_days`` before the end they stop visiting, reading, interacting and
                   publishing. The 30-day components lag: Visit and Interact only fall once
                   the window has passed the drop, so at the end the score is lower than
                   without the drop and lower than 7 days earlier (by 10 points or more, the
                   ``score_drop`` alert, where many users visited regularly). Needs 40 days.
growth             Organisations that behave like *Informing* grow into *Engaging*: a rising
                   share of their visitors start to like content on the days they visit, and
                   some of them start to publish pages. Interact and Contribute climb, Reach,
                   Visit and View stay, and the best-fit level moves from informing to
                   engaging. Needs 4 organisations (the first four cover the four levels).
onboarding-wave    Every other organisation creates a wave of new accounts ``wave_days`` before
                   the end (``size`` times its accounts) of which only ``login_share`` log in:
                   Reach falls by about a quarter, under its 95 % threshold
                   (``component_below_threshold``); the other components barely move.
community-vs-      Each intranet organisation gets a twin ``<org>-community`` on a community
intranet           platform: the same people and content, but a share of the accounts never
                   log in, a share only drops by now and then, the others are active on fewer
                   days, fewer people publish and fewer messages go out. The twin sits in its
                   own benchmark group (platform type) with lower figures.
================== ============================================================================

Only the backfill is shaped: :class:`~engagement_simulator.live.LiveTraffic` continues the base
world (users who dropped out come back, twins get no live events).
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from engagement.domain import LEVELS
from engagement.events import (
    AccountCreated,
    ContentPublished,
    Interaction,
    KafkaRecord,
    OrgProfile,
    Visit,
    deterministic_id,
    topics,
)

from .events import SimEvent
from .generate import SimulatedLog
from .world import ARCHETYPES, org_source

__all__ = [
    "SCENARIOS",
    "AdoptionDrop",
    "CommunityVsIntranet",
    "Growth",
    "OnboardingWave",
    "Scenario",
    "apply_scenario",
    "behaviour_level",
    "records_until",
    "scenario_names",
]

DAY = 86_400
HOUR = 3_600
_INFORMING = LEVELS[1]
_T = TypeVar("_T")


class Scenario(Protocol):
    """A named transformation of a generated log."""

    @property
    def name(self) -> str: ...

    @property
    def summary(self) -> str: ...

    @property
    def min_days(self) -> int: ...

    @property
    def min_orgs(self) -> int: ...

    def apply(self, log: SimulatedLog) -> SimulatedLog: ...


# ------------------------------------------------------------------------------------------------
# reading and writing events
# ------------------------------------------------------------------------------------------------


def _unit(*parts: object) -> float:
    """A deterministic number in [0, 1) from the parts (no shared random state)."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _new(scenario: str, origin: str, n: int, type_: str, t: int, data: BaseModel) -> SimEvent:
    """A new event of a scenario (binary mode); its id derives from where it comes from."""
    org = str(getattr(data, "org_id", ""))
    id_ = deterministic_id("scenario", scenario, origin, str(n))
    return SimEvent(type_, data, t, id_, org_source(org), org)


def _merge(base: list[_T], times: list[int], extra: list[tuple[int, _T]]) -> list[_T]:
    """Insert ``extra`` (time, event) into the produce order of ``base``.

    ``base`` is in event-time order except for injected disorder (``times`` are its event
    times); a new event goes after every base event whose running maximum event time is not
    later than its own time.
    """
    if not extra:
        return list(base)
    running: list[int] = []
    high = -(2**62)
    for t in times:
        high = max(high, t)
        running.append(high)
    slots: dict[int, list[_T]] = {}
    for t, item in sorted(extra, key=lambda e: e[0]):
        slots.setdefault(bisect.bisect_right(running, t), []).append(item)
    out: list[_T] = []
    for i, item in enumerate(base):
        out.extend(slots.pop(i, ()))
        out.append(item)
    out.extend(slots.pop(len(base), ()))
    return out


def _profiles(log: SimulatedLog) -> dict[str, OrgProfile]:
    out: dict[str, OrgProfile] = {}
    for event in log.profile_events:
        assert isinstance(event.data, OrgProfile)
        out[event.data.org_id] = event.data
    return out


def behaviour_level(log: SimulatedLog, org_id: str) -> str:
    """The ambition level whose archetype the organisation was generated with."""
    for org in log.world.orgs:
        if org.id == org_id:
            for level, arch in ARCHETYPES.items():
                if org.arch in (arch, arch.dampened()):
                    return level
    raise KeyError(org_id)


def _is_message(event: SimEvent) -> bool:
    return (
        event.type == topics.CONTENT_PUBLISHED_TYPE
        and getattr(event.data, "content_type", None) == "message"
        and getattr(event.data, "action", "created") == "created"
    )


def _every_other(log: SimulatedLog) -> list[str]:
    return log.org_ids[::2]


def _epoch_of(moment: datetime) -> int:
    return int(moment.timestamp())


def _check(scenario: Scenario, log: SimulatedLog) -> None:
    days = (log.end - log.start) / timedelta(days=1)
    if days < scenario.min_days:
        raise ValueError(
            f"scenario {scenario.name} needs at least {scenario.min_days} days of history "
            f"(got {days:g}): use --days {scenario.min_days} or more"
        )
    if len(log.org_ids) < scenario.min_orgs:
        raise ValueError(
            f"scenario {scenario.name} needs at least {scenario.min_orgs} organisations "
            f"(got {len(log.org_ids)}): use --orgs {scenario.min_orgs} or more"
        )


# ------------------------------------------------------------------------------------------------
# the scenarios
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AdoptionDrop:
    """A share of the accounts of every other organisation goes silent before the end."""

    share: float = 0.7
    silent_days: int = 31
    name: str = "adoption-drop"
    summary: str = "users of every other organisation stop using the intranet"
    min_days: int = 40
    min_orgs: int = 1

    def targets(self, log: SimulatedLog) -> list[str]:
        return _every_other(log)

    def drop_at(self, log: SimulatedLog) -> int:
        return _epoch_of(log.end) - self.silent_days * DAY

    def drops(self, org: str, account: str) -> bool:
        return _unit(self.name, org, account) < self.share

    def apply(self, log: SimulatedLog) -> SimulatedLog:
        _check(self, log)
        targets, at = set(self.targets(log)), self.drop_at(log)
        kept = []
        for event in log.events:
            silent = (
                event.org in targets
                and event.t >= at
                and event.type not in (topics.ACCOUNT_CREATED_TYPE, topics.ACCOUNT_DELETED_TYPE)
                and self.drops(event.org, event.account)
            )
            if not silent:
                kept.append(event)
        return replace(log, events=kept)


@dataclass(frozen=True)
class Growth:
    """Informing-like organisations grow into Engaging ones over the log."""

    interact_share: float = 0.4  # of the accounts that visit, by the end
    interact_daily: float = 0.7  # an adopter interacts on this share of its visit days
    contribute_share: float = 0.4  # of the adopters, by the end
    contribute_daily: float = 0.4  # a contributor publishes on this share of its visit days
    ramp: float = 0.6  # adoption moments spread over the first `ramp` of the log
    name: str = "growth"
    summary: str = "informing organisations start interacting and contributing (-> engaging)"
    min_days: int = 14
    min_orgs: int = 4

    def targets(self, log: SimulatedLog) -> list[str]:
        return [org for org in log.org_ids if behaviour_level(log, org) == _INFORMING]

    def adopts_at(self, log: SimulatedLog, org: str, account: str) -> float | None:
        """When the account starts interacting (None: never)."""
        u = _unit(self.name, "adopt", org, account)
        if u >= self.interact_share:
            return None
        start, end = _epoch_of(log.start), _epoch_of(log.end)
        return start + (u / self.interact_share) * self.ramp * (end - start)

    def apply(self, log: SimulatedLog) -> SimulatedLog:
        _check(self, log)
        targets = set(self.targets(log))
        times: list[int] = []
        extra: list[tuple[int, SimEvent]] = []
        seen: set[tuple[str, str, int]] = set()
        for event in log.events:
            times.append(event.t)
            if event.org not in targets or event.type != topics.VISIT_TYPE:
                continue
            day = event.t // DAY
            key = (event.org, event.account, day)
            if key in seen:  # one decision per account and day, duplicates included
                continue
            seen.add(key)
            adopted = self.adopts_at(log, event.org, event.account)
            if adopted is None or event.t < adopted:
                continue
            if _unit(self.name, "day", *key) < self.interact_daily:
                interaction = Interaction(org_id=event.org, account_id=event.account, kind="like")
                extra.append(
                    (
                        event.t + 60,
                        _new(
                            self.name,
                            event.id,
                            0,
                            topics.INTERACTION_TYPE,
                            event.t + 60,
                            interaction,
                        ),
                    )
                )
            contributor = _unit(self.name, "contrib", event.org, event.account)
            if (
                contributor < self.contribute_share
                and _unit(self.name, "publish", *key) < self.contribute_daily
            ):
                page = ContentPublished(
                    org_id=event.org,
                    account_id=event.account,
                    content_id=f"growth-{event.account}-{day}",
                    content_type="page",
                )
                extra.append(
                    (
                        event.t + 120,
                        _new(
                            self.name,
                            event.id,
                            1,
                            topics.CONTENT_PUBLISHED_TYPE,
                            event.t + 120,
                            page,
                        ),
                    )
                )
        return replace(log, events=_merge(log.events, times, extra))


@dataclass(frozen=True)
class OnboardingWave:
    """Every other organisation onboards a wave of accounts, most of which never log in."""

    size: float = 0.5  # new accounts, as a share of the organisation's accounts
    login_share: float = 0.3
    wave_days: int = 5  # before the end
    name: str = "onboarding-wave"
    summary: str = "a wave of new accounts that mostly never log in lowers Reach"
    min_days: int = 7
    min_orgs: int = 1

    def targets(self, log: SimulatedLog) -> list[str]:
        return _every_other(log)

    def wave(self, log: SimulatedLog) -> dict[str, int]:
        """Organisation -> number of new accounts."""
        accounts: dict[str, set[str]] = {org: set() for org in self.targets(log)}
        for event in log.events:
            if event.org in accounts and event.account:
                accounts[event.org].add(event.account)
        return {org: max(1, round(self.size * len(ids))) for org, ids in accounts.items()}

    def logs_in(self, org: str, account: str) -> bool:
        return _unit(self.name, "login", org, account) < self.login_share

    def apply(self, log: SimulatedLog) -> SimulatedLog:
        _check(self, log)
        end = _epoch_of(log.end)
        at = end - self.wave_days * DAY
        times = [event.t for event in log.events]
        extra: list[tuple[int, SimEvent]] = []
        for org, n in self.wave(log).items():
            for i in range(n):
                account = f"acc-wave-{i + 1:04d}"
                origin = f"{org}|{account}"
                created = at + int(_unit(self.name, "created", origin) * 8 * HOUR)
                data = AccountCreated(org_id=org, account_id=account)
                event = _new(self.name, origin, 0, topics.ACCOUNT_CREATED_TYPE, created, data)
                extra.append((created, event))
                if self.logs_in(org, account):
                    first = (
                        created
                        + HOUR
                        + int(_unit(self.name, "first", origin) * (end - created - HOUR))
                    )
                    visit = Visit(org_id=org, account_id=account, client="web")
                    extra.append(
                        (first, _new(self.name, origin, 1, topics.VISIT_TYPE, first, visit))
                    )
        return replace(log, events=_merge(log.events, times, extra))


@dataclass
class _Cast:
    writers: dict[str, list[str]] = field(default_factory=dict)  # org -> authors who still write
    silenced: set[tuple[str, str]] = field(default_factory=set)  # (org, author) who stopped


@dataclass(frozen=True)
class CommunityVsIntranet:
    """A community-platform twin of each intranet organisation, with dampened activity.

    Of the twin's accounts a share never logs in, a share drops by only occasionally (on a few
    of its active days) and the rest is active on fewer days. A share of the channel communicators
    (the accounts that publish messages) keep writing, for all of them, and fewer messages go
    out; of the other authors only a share still publishes pages and documents.
    """

    never_log_in: float = 0.3
    occasional: float = 0.3
    occasional_days: float = 0.03  # share of an occasional account's active days kept
    active_days: float = 0.7  # share of an other account's active days kept
    messages: float = 0.6  # share of channel messages kept
    communicators: float = 0.4  # share of the message authors that keep writing
    publishers: float = 0.5  # share of the other authors that still publish
    suffix: str = "-community"
    name: str = "community-vs-intranet"
    summary: str = "each intranet organisation gets a community-platform twin with less activity"
    min_days: int = 1
    min_orgs: int = 1

    def targets(self, log: SimulatedLog) -> list[str]:
        profiles = _profiles(log)
        return [org for org in log.org_ids if profiles[org].platform_type == "intranet"]

    def cast(self, events: list[SimEvent], targets: list[str]) -> _Cast:
        """Who writes the twins' messages: of each organisation's message authors a share
        (at least one) keeps writing; the others stop publishing altogether."""
        authors: dict[str, set[str]] = {org: set() for org in targets}
        for e in events:
            if e.org in authors and _is_message(e):
                authors[e.org].add(e.account)
        cast = _Cast()
        for org, found in authors.items():
            ordered = sorted(found, key=lambda a: _unit(self.name, "writer", org, a))
            keep = max(1, round(self.communicators * len(ordered)))
            cast.writers[org] = ordered[:keep]
            cast.silenced.update((org, a) for a in ordered[keep:])
        return cast

    def habit(self, org: str, account: str, cast: _Cast) -> str:
        """``writer``, ``silenced`` (an author who stopped), ``absent``, ``occasional`` or
        ``active``."""
        if account in cast.writers.get(org, ()):
            return "writer"
        if (org, account) in cast.silenced:
            return "silenced"
        u = _unit(self.name, "habit", org, account)
        if u < self.never_log_in:
            return "absent"
        return "occasional" if u < self.never_log_in + self.occasional else "active"

    def keeps(self, event: SimEvent, cast: _Cast) -> bool:
        if event.type in (topics.ACCOUNT_CREATED_TYPE, topics.ACCOUNT_DELETED_TYPE):
            return True
        if _is_message(event):
            content = getattr(event.data, "content_id", None)
            return _unit(self.name, "message", event.org, content) < self.messages
        habit = self.habit(event.org, event.account, cast)
        if habit == "absent":
            return False
        if event.type == topics.CONTENT_PUBLISHED_TYPE and (
            habit == "silenced"
            or _unit(self.name, "publisher", event.org, event.account) >= self.publishers
        ):
            return False
        share = self.occasional_days if habit == "occasional" else self.active_days
        return _unit(self.name, "day", event.org, event.account, event.t // DAY) < share

    def twin_data(self, event: SimEvent, twin: str, cast: _Cast) -> BaseModel:
        update: dict[str, Any] = {"org_id": twin}
        habit = self.habit(event.org, event.account, cast)
        if event.type == topics.ACCOUNT_CREATED_TYPE and habit == "absent":
            update["activated_at"] = None
        if _is_message(event) and habit != "writer":  # a remaining writer sends it
            kept = cast.writers[event.org]
            update["account_id"] = kept[int(_unit(self.name, "by", event.id) * len(kept))]
        return event.data.model_copy(update=update)

    def apply(self, log: SimulatedLog) -> SimulatedLog:
        _check(self, log)
        profiles = _profiles(log)
        targets = self.targets(log)
        twin_of = {org: org + self.suffix for org in targets}
        cast = self.cast(log.events, targets)
        # A twin's event follows its original, so the twin gets the same disorder and
        # duplicates as the original organisation.
        events: list[SimEvent] = []
        for event in log.events:
            events.append(event)
            twin = twin_of.get(event.org)
            if twin is not None and self.keeps(event, cast):
                data = self.twin_data(event, twin, cast)
                events.append(_new(self.name, event.id, 0, event.type, event.t, data))
        twin_profiles = []
        for org in targets:
            base = profiles[org]
            data = base.model_copy(
                update={
                    "org_id": twin_of[org],
                    "name": f"{base.name or org} (community)",
                    "platform_type": "community",
                }
            )
            twin_profiles.append(
                SimEvent(
                    topics.ORG_PROFILE_TYPE,
                    data,
                    _epoch_of(log.start),
                    deterministic_id("scenario", self.name, twin_of[org], "profile"),
                    org_source(twin_of[org]),
                    twin_of[org],
                )
            )
        return replace(
            log,
            profile_events=[*log.profile_events, *twin_profiles],
            events=events,
            org_ids=[*log.org_ids, *(twin_of[org] for org in targets)],
        )


SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (AdoptionDrop(), Growth(), OnboardingWave(), CommunityVsIntranet())
}


def scenario_names() -> list[str]:
    return list(SCENARIOS)


def apply_scenario(name: str, log: SimulatedLog) -> SimulatedLog:
    """The log with the named scenario applied; ValueError for an unknown name or a log too
    short or too small for it."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise ValueError(f"unknown scenario {name!r}; expected one of {', '.join(SCENARIOS)}")
    return scenario.apply(log)


def records_until(log: SimulatedLog, until: datetime) -> list[KafkaRecord]:
    """The activity records of a log whose event time is at or before ``until``, in produce
    order (for "7 days earlier" checks)."""
    limit = _epoch_of(until)
    return [r for r, e in zip(log.activity, log.events, strict=True) if e.t <= limit]
