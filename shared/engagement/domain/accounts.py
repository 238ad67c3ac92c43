"""One account's state, packed into a single integer.

An organisation can have hundreds of thousands of accounts and Reach needs every one of them
for as long as it exists, so an account costs one Python ``int`` (about 60 bytes) instead of an
object with a dozen attributes. ``Account`` is the readable form used by the logic; ``pack`` and
``unpack`` translate. The packed form is also what the changelog stores.

What an account remembers, and why:

* ``kind``: set by the ``account.created`` with the earliest event time (``kind_at``; on a tie
  the lower kind code), whatever order they arrive in; ``IMPLICIT`` until one arrives (counts
  as a member: SSO platforms create accounts at first login).
* ``created_at``: earliest time the account is known to exist (the time of any of its events).
* ``activated_at``: earliest activity, or earliest ``account.created`` carrying ``activated_at``
  (from that event's own time: a figure at an earlier as_of does not see the event, section 6
  Order); 0 = never.
* ``deleted_at``: the earliest deletion time; 0 = not deleted. Deletion is final.
* for Visit, Interact and Contribute: ``last`` = the latest local day with such activity, and
  ``prev`` = the latest such day in a month *before* ``last``'s month. Together they answer
  "active in the rolling window?" (``last`` alone, since nothing is later than stream time) and
  "active in calendar month M?" for every month that is still open (``last`` or ``prev`` in M),
  which is all the calendar needs: a month is final once closed.
"""

from __future__ import annotations

from dataclasses import dataclass

from .calendar import month_key_of

__all__ = ["ACTIVITY_SLOTS", "KIND_CODES", "Account", "kind_name", "pack", "unpack"]

#: Activity kinds tracked per account, in packed order.
ACTIVITY_SLOTS: tuple[str, ...] = ("visit", "interact", "contribute")

#: kind code 0 is an implicitly created account (a member until an account.created says more).
KIND_CODES: dict[str, int] = {"implicit": 0, "member": 1, "guest": 2, "system": 3}
_KIND_NAMES = {code: name for name, code in KIND_CODES.items()}

_TIME_BITS = 36  # epoch seconds up to the year 4147
_DAY_BITS = 22  # day ordinals up to 4 million (year 11000)
_KIND_BITS = 2
_KIND_MASK = (1 << _KIND_BITS) - 1
_TIME_MASK = (1 << _TIME_BITS) - 1
_DAY_MASK = (1 << _DAY_BITS) - 1


def kind_name(code: int) -> str:
    """The configured kind an account counts as ("implicit" counts as "member")."""
    return "member" if code == 0 else _KIND_NAMES[code]


@dataclass(slots=True)
class Account:
    kind: int = 0
    kind_at: int = 0  # event time of the account.created that set ``kind``
    created_at: int = 0
    activated_at: int = 0
    deleted_at: int = 0
    visit_last: int = 0
    visit_prev: int = 0
    interact_last: int = 0
    interact_prev: int = 0
    contribute_last: int = 0
    contribute_prev: int = 0

    @property
    def deleted(self) -> bool:
        return self.deleted_at != 0

    def exists_at(self, ts: int) -> bool:
        return self.created_at <= ts and not (self.deleted_at and self.deleted_at <= ts)

    def activated_by(self, ts: int) -> bool:
        return self.activated_at != 0 and self.activated_at <= ts

    def set_kind(self, code: int, ts: int) -> None:
        """An ``account.created`` of kind ``code`` at ``ts``: the earliest one defines the kind,
        so the outcome never depends on which of several arrived first."""
        if self.kind == KIND_CODES["implicit"] or (ts, code) < (self.kind_at, self.kind):
            self.kind, self.kind_at = code, ts

    def delete(self, ts: int) -> None:
        """Deletion at ``ts``; of several deletions the earliest counts."""
        self.note_existence(ts)
        if self.deleted_at == 0 or ts < self.deleted_at:
            self.deleted_at = ts

    def note_existence(self, ts: int) -> None:
        if self.created_at == 0 or ts < self.created_at:
            self.created_at = ts

    def activate(self, ts: int) -> None:
        self.note_existence(ts)
        if self.activated_at == 0 or ts < self.activated_at:
            self.activated_at = ts

    def days(self, slot: str) -> tuple[int, int]:
        """(last, prev) days of one activity slot."""
        return getattr(self, f"{slot}_last"), getattr(self, f"{slot}_prev")

    def record_activity(self, slot: str, day: int) -> bool:
        """Remember activity of ``slot`` on ``day``; True if anything changed."""
        last, prev = self.days(slot)
        if last == 0:
            new_last, new_prev = day, prev
        else:
            last_month, month = month_key_of(last), month_key_of(day)
            if month == last_month:
                new_last, new_prev = max(last, day), prev
            elif month > last_month:
                new_last, new_prev = day, last
            else:
                new_last, new_prev = last, max(prev, day)
        if (new_last, new_prev) == (last, prev):
            return False
        setattr(self, f"{slot}_last", new_last)
        setattr(self, f"{slot}_prev", new_prev)
        return True

    def active_in_month(self, slot: str, month_key: int) -> bool:
        last, prev = self.days(slot)
        return (last != 0 and month_key_of(last) == month_key) or (
            prev != 0 and month_key_of(prev) == month_key
        )


def pack(a: Account) -> int:
    # kind_at sits above kind, so records written before it existed read as kind_at 0
    value = (a.kind_at << _KIND_BITS) | a.kind
    value = (value << _TIME_BITS) | a.created_at
    value = (value << _TIME_BITS) | a.activated_at
    value = (value << _TIME_BITS) | a.deleted_at
    for day in (
        a.visit_last,
        a.visit_prev,
        a.interact_last,
        a.interact_prev,
        a.contribute_last,
        a.contribute_prev,
    ):
        value = (value << _DAY_BITS) | day
    return value


def unpack(value: int) -> Account:
    days = []
    for _ in range(6):
        days.append(value & _DAY_MASK)
        value >>= _DAY_BITS
    days.reverse()
    deleted_at = value & _TIME_MASK
    value >>= _TIME_BITS
    activated_at = value & _TIME_MASK
    value >>= _TIME_BITS
    created_at = value & _TIME_MASK
    value >>= _TIME_BITS
    kind = value & _KIND_MASK
    kind_at = value >> _KIND_BITS
    return Account(kind, kind_at, created_at, activated_at, deleted_at, *days)
