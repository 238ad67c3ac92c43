"""Breakdowns that explain a component, per organisation, over the rolling window: View per
channel, contributions and viewers by content type, visit frequency, contributor
concentration. Plain state, exact and bounded (docs/scoring.md, "Breakdowns").

Every fact kept is a set member or a maximum, so a redelivered or duplicate event changes
nothing and the facts never depend on arrival order (the *exclusion* of an account, below, is
the one exception and is documented):

- ``visits``: account -> bitmask of the local days it visited (bit ``day - base``);
- ``contributed``: "type\\x1fcontent\\x1fauthor" -> latest local day it was published
  (created or edited);
- ``viewed``: type -> account -> latest local day the account viewed content of the type;
- ``messages``: channel message id -> [day, channel, audience (0: none declared)], the
  earliest publication;
- ``readers``: message -> its distinct readers (reads of messages not seen yet are kept, like
  View's, until their latest read leaves the window; a message's reads leave with it);
- ``excluded``: accounts deleted, or created with a kind that does not count: left out of
  every breakdown from then on.

Per event the cost is one or two dict updates; a state change is reported (for the
changelog) only when a fact changes. Facts older than the window are dropped once per local
day (``prune``), so the state holds one window.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .activity import Activity, ActivityKind

__all__ = [
    "CONTENT_TYPES",
    "FREQUENCY_BUCKETS",
    "TOP_CHANNELS",
    "BreakdownChange",
    "OrgBreakdowns",
]

CONTENT_TYPES = ("message", "page", "document", "event")
#: (label, lowest number of distinct visit days, highest)
FREQUENCY_BUCKETS: tuple[tuple[str, int, int], ...] = (
    ("1", 1, 1),
    ("2-4", 2, 4),
    ("5-9", 5, 9),
    ("10+", 10, 10**9),
)
TOP_CHANNELS = 10
_NO_CHANNEL = "(none)"
SEP = "\x1f"

#: what kind of fact a change is about (the first part of its key)
VISITS, CONTRIBUTED, VIEWED, MESSAGES, READS, EXCLUDED, BASE = "v", "c", "w", "m", "r", "x", "b"


@dataclass(frozen=True, slots=True)
class BreakdownChange:
    """One fact to persist: ``key`` (``kind\\x1fid``) -> ``value`` (None: dropped)."""

    key: str
    value: Any


class OrgBreakdowns:
    """One organisation's breakdown state. ``included_kinds``: the account kinds that count."""

    def __init__(self, window_days: int = 30, included_kinds: Iterable[str] = ("member",)) -> None:
        self.window_days = window_days
        self.included_kinds = frozenset(included_kinds)
        self.base = -1  # day of bit 0 of the visit masks
        self.visits: dict[str, int] = {}
        self.contributed: dict[str, int] = {}
        #: content type -> account -> latest day it viewed that type (account strings shared)
        self.viewed: dict[str, dict[str, int]] = {}
        self.messages: dict[str, list[Any]] = {}
        #: message -> its distinct readers, and the latest day one of them read it
        self.readers: dict[str, set[str]] = {}
        self.read_day: dict[str, int] = {}
        self.excluded: set[str] = set()
        self.latest_day = -1  # latest local day applied
        self._pruned_for = -1

    # ---- writing ---------------------------------------------------------------------------

    def apply(self, activity: Activity, day: int) -> list[BreakdownChange]:
        """Apply one accepted activity of local day ``day``; the facts that changed."""
        out: list[BreakdownChange] = []
        if day > self.latest_day:
            self.latest_day = day
            if day - self.window_days + 1 > self._pruned_for:
                out.extend(self.prune(day))
        if day < self.latest_day - self.window_days + 1:
            return out  # older than the window: no breakdown counts it
        kind, account = activity.kind, activity.account_id
        if kind is ActivityKind.ACCOUNT_DELETED or (
            kind is ActivityKind.ACCOUNT_CREATED
            and activity.account_kind not in self.included_kinds
        ):
            if account not in self.excluded:
                self.excluded.add(account)
                out.append(BreakdownChange(f"{EXCLUDED}{SEP}{account}", 1))
            return out
        if kind is ActivityKind.VISIT:
            if self.base < 0:
                self.base = day - self.window_days
                out.append(BreakdownChange(BASE, self.base))
            if day < self.base:
                return out
            mask = self.visits.get(account, 0)
            new = mask | (1 << (day - self.base))
            if new != mask:
                self.visits[account] = new
                out.append(BreakdownChange(f"{VISITS}{SEP}{account}", new))
        elif kind is ActivityKind.CONTENT_PUBLISHED:
            key = f"{activity.content_type}{SEP}{activity.content_id}{SEP}{account}"
            if self.contributed.get(key, -1) < day:
                self.contributed[key] = day
                out.append(BreakdownChange(f"{CONTRIBUTED}{SEP}{key}", day))
            if activity.is_view_message:
                msg = self.messages.get(activity.content_id)
                if msg is None or day < msg[0]:
                    record = [day, activity.channel_id or _NO_CHANNEL, activity.audience_size or 0]
                    self.messages[activity.content_id] = record
                    out.append(BreakdownChange(f"{MESSAGES}{SEP}{activity.content_id}", record))
        elif kind is ActivityKind.CONTENT_VIEWED:
            by_type = self.viewed.setdefault(activity.content_type, {})
            if by_type.get(account, -1) < day:
                by_type[account] = day
                key = f"{activity.content_type}{SEP}{account}"
                out.append(BreakdownChange(f"{VIEWED}{SEP}{key}", day))
            if activity.is_message_read:
                message = activity.content_id
                readers = self.readers.setdefault(message, set())
                if account not in readers:
                    readers.add(account)
                    out.append(BreakdownChange(f"{READS}{SEP}{message}{SEP}{account}", day))
                if self.read_day.get(message, -1) < day:
                    self.read_day[message] = day
        return out

    def prune(self, day: int) -> list[BreakdownChange]:
        """Drop the facts no window from ``day`` on can count; rebase the visit masks."""
        first = day - self.window_days + 1
        self._pruned_for = first
        out: list[BreakdownChange] = []
        for key in [k for k, d in self.contributed.items() if d < first]:
            del self.contributed[key]
            out.append(BreakdownChange(f"{CONTRIBUTED}{SEP}{key}", None))
        for type_, by_type in self.viewed.items():
            for account in [a for a, d in by_type.items() if d < first]:
                del by_type[account]
                out.append(BreakdownChange(f"{VIEWED}{SEP}{type_}{SEP}{account}", None))
        for key in [k for k, m in self.messages.items() if m[0] < first]:
            del self.messages[key]
            out.append(BreakdownChange(f"{MESSAGES}{SEP}{key}", None))
        # a message's reads go with it; reads of a message never seen, once read long ago
        stale = [
            m for m in self.readers if m not in self.messages and self.read_day.get(m, -1) < first
        ]
        for message in stale:
            for account in self.readers.pop(message):
                out.append(BreakdownChange(f"{READS}{SEP}{message}{SEP}{account}", None))
            self.read_day.pop(message, None)
        if self.base >= 0 and first - self.base > 2 * self.window_days:
            shift = first - self.base
            self.base = first
            out.append(BreakdownChange(BASE, self.base))
            for account, mask in list(self.visits.items()):
                mask >>= shift
                if mask:
                    self.visits[account] = mask
                    out.append(BreakdownChange(f"{VISITS}{SEP}{account}", mask))
                else:
                    del self.visits[account]
                    out.append(BreakdownChange(f"{VISITS}{SEP}{account}", None))
        return out

    # ---- recovery --------------------------------------------------------------------------

    @classmethod
    def restore(
        cls,
        facts: Iterable[tuple[str, Any]],
        window_days: int = 30,
        included_kinds: Iterable[str] = ("member",),
    ) -> OrgBreakdowns:
        """The state from its persisted facts (``BreakdownChange`` keys and values)."""
        state = cls(window_days, included_kinds)
        for key, value in facts:
            kind, _, rest = key.partition(SEP)
            if kind == BASE:
                state.base = int(value)
            elif kind == VISITS:
                state.visits[rest] = int(value)
            elif kind == CONTRIBUTED:
                state.contributed[rest] = int(value)
                state.latest_day = max(state.latest_day, int(value))
            elif kind == VIEWED:
                type_, _, account = rest.partition(SEP)
                state.viewed.setdefault(type_, {})[account] = int(value)
                state.latest_day = max(state.latest_day, int(value))
            elif kind == MESSAGES:
                state.messages[rest] = [int(value[0]), str(value[1]), int(value[2])]
                state.latest_day = max(state.latest_day, int(value[0]))
            elif kind == READS:
                message, _, account = rest.partition(SEP)
                state.readers.setdefault(message, set()).add(account)
                day = int(value)
                state.read_day[message] = max(state.read_day.get(message, -1), day)
                state.latest_day = max(state.latest_day, day)
            elif kind == EXCLUDED:
                state.excluded.add(rest)
        for mask in state.visits.values():
            state.latest_day = max(state.latest_day, state.base + mask.bit_length() - 1)
        return state

    # ---- reading ---------------------------------------------------------------------------

    def figures(self, last_day: int, activated: int) -> dict[str, Any]:
        """The breakdowns of the window ending on local day ``last_day``. ``activated``: the
        activated counted accounts (View's default audience, as for the component)."""
        first = last_day - self.window_days + 1
        ex = self.excluded
        return {
            "window": [first, last_day],
            "channels": self._channels(first, last_day, activated),
            "content_types": self._content_types(first, last_day),
            "visit_frequency": self._frequency(first, last_day),
            "concentration": self._concentration(first, last_day),
            "excluded_accounts": len(ex),
        }

    def _in(self, day: int, first: int, last: int) -> bool:
        return first <= day <= last

    def _channels(self, first: int, last: int, activated: int) -> list[dict[str, Any]]:
        per: dict[str, list[int]] = {}
        ex = self.excluded
        for message, (day, channel, declared) in self.messages.items():
            if not self._in(day, first, last):
                continue
            audience = declared or activated
            readers = self.readers.get(message, ())
            n = len(readers) - (len(ex.intersection(readers)) if ex else 0)
            row = per.setdefault(channel, [0, 0, 0])
            row[0] += 1
            row[1] += min(n, audience)
            row[2] += audience
        rows: list[dict[str, Any]] = [
            {
                "channel": channel,
                "messages": n,
                "reads": reads,
                "audience": audience,
                "view": None if audience == 0 else round(100.0 * reads / audience, 1),
            }
            for channel, (n, reads, audience) in per.items()
        ]
        rows.sort(key=lambda r: (-r["audience"], -r["reads"], r["channel"]))
        return rows[:TOP_CHANNELS]

    def _content_types(self, first: int, last: int) -> dict[str, dict[str, int]]:
        items: dict[str, set[str]] = {t: set() for t in CONTENT_TYPES}
        contributors: dict[str, set[str]] = {t: set() for t in CONTENT_TYPES}
        for key, day in self.contributed.items():
            type_, content, author = key.split(SEP, 2)
            if type_ in items and self._in(day, first, last) and author not in self.excluded:
                items[type_].add(content)
                contributors[type_].add(author)
        viewers: Counter[str] = Counter()
        for type_, by_type in self.viewed.items():
            for account, day in by_type.items():
                if self._in(day, first, last) and account not in self.excluded:
                    viewers[type_] += 1
        return {
            t: {
                "contributions": len(items[t]),
                "contributors": len(contributors[t]),
                "viewers": viewers[t],
            }
            for t in CONTENT_TYPES
        }

    def _frequency(self, first: int, last: int) -> dict[str, int]:
        counts = dict.fromkeys((label for label, _, _ in FREQUENCY_BUCKETS), 0)
        if self.base < 0:
            return counts
        lo, hi = max(0, first - self.base), last - self.base
        if hi < 0:
            return counts
        window = ((1 << (hi + 1)) - 1) & ~((1 << lo) - 1)
        for account, mask in self.visits.items():
            if account in self.excluded:
                continue
            days = (mask & window).bit_count()
            for label, low, high in FREQUENCY_BUCKETS:
                if low <= days <= high:
                    counts[label] += 1
        return counts

    def _concentration(self, first: int, last: int) -> dict[str, Any]:
        per_author: Counter[str] = Counter()  # keys are distinct (type, content, author)
        for key, day in self.contributed.items():
            author = key.split(SEP, 2)[2]
            if self._in(day, first, last) and author not in self.excluded:
                per_author[author] += 1
        n = len(per_author)
        total = sum(per_author.values())
        top = math.ceil(n / 10) if n else 0
        top_total = sum(sorted(per_author.values(), reverse=True)[:top])
        return {
            "contributors": n,
            "contributions": total,
            "top_contributors": top,
            "top_contributions": top_total,
            "top_share": None if total == 0 else round(100.0 * top_total / total, 1),
        }
