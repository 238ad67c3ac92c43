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

__all__ = [
    "ACTIVITY_SLOTS",
    "KIND_CODES",
    "Account",
    "kind_name",
    "pack",
    "packed_activated_at",
    "packed_created_at",
    "packed_deleted_at",
    "packed_kind",
    "packed_last_day",
    "unpack",
]

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
# Bit positions, from the lowest: six days (contribute_prev first), deleted_at, activated_at,
# created_at, kind, then kind_at in all the bits above.
_DELETED_SHIFT = 6 * _DAY_BITS
_ACTIVATED_SHIFT = _DELETED_SHIFT + _TIME_BITS
_CREATED_SHIFT = _ACTIVATED_SHIFT + _TIME_BITS
_KIND_SHIFT = _CREATED_SHIFT + _TIME_BITS
_LAST_SHIFT = {"visit": 5 * _DAY_BITS, "interact": 3 * _DAY_BITS, "contribute": _DAY_BITS}
_SLOT_FIELDS = {slot: (f"{slot}_last", f"{slot}_prev") for slot in ACTIVITY_SLOTS}


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
        last_name, prev_name = _SLOT_FIELDS[slot]
        return getattr(self, last_name), getattr(self, prev_name)

    def record_activity(self, slot: str, day: int) -> bool:
        """Remember activity of ``slot`` on ``day``; True if anything changed."""
        last_name, prev_name = _SLOT_FIELDS[slot]
        last = getattr(self, last_name)
        if last == 0:
            if day == 0:
                return False
            setattr(self, last_name, day)
            return True
        last_month, month = month_key_of(last), month_key_of(day)
        if month == last_month:
            if day <= last:
                return False
            setattr(self, last_name, day)
        elif month > last_month:
            setattr(self, last_name, day)
            setattr(self, prev_name, last)
        else:
            if day <= getattr(self, prev_name):
                return False
            setattr(self, prev_name, day)
        return True

    def active_in_month(self, slot: str, month_key: int) -> bool:
        last, prev = self.days(slot)
        return (last != 0 and month_key_of(last) == month_key) or (
            prev != 0 and month_key_of(prev) == month_key
        )


def pack(a: Account) -> int:
    # kind_at sits above kind, so records written before it existed read as kind_at 0
    return (
        (a.kind_at << _KIND_SHIFT + _KIND_BITS)
        | (a.kind << _KIND_SHIFT)
        | (a.created_at << _CREATED_SHIFT)
        | (a.activated_at << _ACTIVATED_SHIFT)
        | (a.deleted_at << _DELETED_SHIFT)
        | (a.visit_last << 5 * _DAY_BITS)
        | (a.visit_prev << 4 * _DAY_BITS)
        | (a.interact_last << 3 * _DAY_BITS)
        | (a.interact_prev << 2 * _DAY_BITS)
        | (a.contribute_last << _DAY_BITS)
        | a.contribute_prev
    )


def unpack(value: int) -> Account:
    return Account(
        (value >> _KIND_SHIFT) & _KIND_MASK,
        value >> _KIND_SHIFT + _KIND_BITS,
        (value >> _CREATED_SHIFT) & _TIME_MASK,
        (value >> _ACTIVATED_SHIFT) & _TIME_MASK,
        (value >> _DELETED_SHIFT) & _TIME_MASK,
        (value >> 5 * _DAY_BITS) & _DAY_MASK,
        (value >> 4 * _DAY_BITS) & _DAY_MASK,
        (value >> 3 * _DAY_BITS) & _DAY_MASK,
        (value >> 2 * _DAY_BITS) & _DAY_MASK,
        (value >> _DAY_BITS) & _DAY_MASK,
        value & _DAY_MASK,
    )


# Reading single fields of a packed record without unpacking it (the hot path's cheap exits).


def packed_kind(value: int) -> int:
    return (value >> _KIND_SHIFT) & _KIND_MASK


def packed_created_at(value: int) -> int:
    return (value >> _CREATED_SHIFT) & _TIME_MASK


def packed_activated_at(value: int) -> int:
    return (value >> _ACTIVATED_SHIFT) & _TIME_MASK


def packed_deleted_at(value: int) -> int:
    return (value >> _DELETED_SHIFT) & _TIME_MASK


def packed_last_day(value: int, slot: str) -> int:
    """The ``last`` day of an activity slot."""
    return (value >> _LAST_SHIFT[slot]) & _DAY_MASK
