"""Advice: for every component where an organisation is below its target level's profile, one
or two sentences with the numbers behind them. **All the wording lives here.**

The sentences follow the ambition-level dynamics of the product definition (section 2): at
Initiation the platform is not yet part of people's routine (Visit low, View disappointing);
Informing is steady information from one or two communicators (View high, Contribute low);
Engaging needs more content makers (Contribute and Interact up, View down because not all
content is for everyone); Co-creating brings team leads and management in as contributors.
The Reach and Interact sentences use the public model's own advice (onboarding; whether
content comes from one person and invites a response).

Rule **(ours)**: a component gets advice when its value is at least ``min_gap`` points
(default 2) below the target profile's value for it; a component without a value (a
denominator of 0) gets none; no target level, no advice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .figures import Component
from .levels import DEFAULT_PROFILES, LEVELS, LevelProfile, level_rank
from .rules import COMPONENTS

__all__ = ["DEFAULT_MIN_GAP", "LEVEL_LABELS", "Advice", "advise"]

DEFAULT_MIN_GAP = 2.0

LEVEL_LABELS = {
    "initiation": "Initiation",
    "informing": "Informing",
    "engaging": "Engaging",
    "co_creating": "Co-creating",
}
_COMPONENT_LABELS = {
    "reach": "Reach",
    "visit": "Visit",
    "view": "View",
    "interact": "Interact",
    "contribute": "Contribute",
}

#: What each component's numbers say, with the figures filled in.
_FACT = {
    "reach": "{n} of {d} accounts have ever logged in",
    "visit": "{n} of {d} activated accounts visited in the last 30 days",
    "view": "the average account read {v} % of the channel messages of the last 30 days "
    "({n} reads of {d} possible)",
    "interact": "{n} of {d} activated accounts liked, commented, chatted or completed a program "
    "in the last 30 days",
    "contribute": "{n} of {d} activated accounts published something in the last 30 days",
}

#: What to do about it, per component (the level dynamics of the product definition).
_WHAT_TO_DO = {
    "reach": "Accounts that never logged in cannot be reached: check onboarding (new employees "
    "and leavers are often not told about the platform) and resend expired activation mails "
    "of manually created accounts.",
    "visit": "The platform is not yet part of people's routine: give them reasons to come back "
    "every day (news they need, their team's channel, the tools they use).",
    "view": "Messages do not reach their readers: fewer, more relevant messages, aimed at the "
    "teams they concern, are read more.",
    "interact": "Check whether the content mostly comes from the same person, whether messages "
    "invite a response, and which kinds of post get replies.",
    "contribute": "Contributions come from few people; {target} takes more content makers "
    "(staff departments, team leads, management). That takes a different mandate for "
    "Internal Communication, not a new tool.",
}

#: The lead sentence when the organisation operates below its target level.
_BELOW_TARGET = "The organisation operates at {operating} while its target is {target}."


@dataclass(frozen=True, slots=True)
class Advice:
    """Advice on one component, with the numbers behind it."""

    component: str
    value: float
    target_value: float
    gap: float  # value - target_value (negative)
    numerator: int
    denominator: int
    text: str


def _fmt(x: float) -> str:
    return f"{x:.1f}"


def advise(
    components: Mapping[str, Component],
    target_level: str | None,
    operating_level: str | None = None,
    profiles: Mapping[str, LevelProfile] = DEFAULT_PROFILES,
    min_gap: float = DEFAULT_MIN_GAP,
) -> list[Advice]:
    """The advice for an organisation's figures against its target level's profile, in
    component order (empty without a target)."""
    if target_level is None or target_level not in profiles:
        return []
    profile = profiles[target_level]
    target = LEVEL_LABELS.get(target_level, target_level)
    below_target = operating_level in LEVELS and level_rank(operating_level) < level_rank(
        target_level
    )
    out: list[Advice] = []
    for name in COMPONENTS:
        figure = components[name]
        value = figure.value
        if value is None:
            continue
        wanted = profile.value(name)
        gap = round(value - wanted, 1)
        if gap > -min_gap:
            continue
        label = _COMPONENT_LABELS[name]
        fact = _FACT[name].format(n=figure.numerator, d=figure.denominator, v=_fmt(value))
        first = (
            f"{label} is {_fmt(value)} %, {_fmt(-gap)} points below the {target} profile's "
            f"{_fmt(wanted)} %: {fact}."
        )
        text = f"{first} {_WHAT_TO_DO[name].format(target=target)}"
        if below_target and not out:
            operating = LEVEL_LABELS.get(str(operating_level), str(operating_level))
            text = f"{_BELOW_TARGET.format(operating=operating, target=target)} {text}"
        out.append(
            Advice(
                component=name,
                value=value,
                target_value=wanted,
                gap=gap,
                numerator=figure.numerator,
                denominator=figure.denominator,
                text=text,
            )
        )
    return out
