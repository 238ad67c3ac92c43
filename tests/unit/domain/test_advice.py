"""Advice below the target level's profile: which components get it, and its numbers."""

from __future__ import annotations

from engagement.domain import COMPONENTS, DEFAULT_PROFILES, Component
from engagement.domain.advice import DEFAULT_MIN_GAP, advise


def comps(**ratios: tuple[int, int]) -> dict[str, Component]:
    out = {name: Component(95, 100) for name in COMPONENTS}
    out.update({name: Component(*nd) for name, nd in ratios.items()})
    return out


# An Informing organisation (steady reading, one or two communicators) that wants Engaging.
INFORMING = comps(
    reach=(96, 100), visit=(90, 100), view=(600, 1000), interact=(12, 100), contribute=(2, 100)
)


def test_no_target_no_advice() -> None:
    assert advise(INFORMING, None, "informing") == []
    assert advise(INFORMING, "unknown-level") == []


def test_operating_at_informing_with_target_engaging() -> None:
    advice = advise(INFORMING, "engaging", "informing")
    # engaging profile: reach 95, visit 88, view 40, interact 40, contribute 17
    assert [a.component for a in advice] == ["interact", "contribute"]
    interact, contribute = advice
    assert (interact.value, interact.target_value, interact.gap) == (12.0, 40.0, -28.0)
    assert (contribute.numerator, contribute.denominator, contribute.gap) == (2, 100, -15.0)
    assert interact.text.startswith(
        "The organisation operates at Informing while its target is Engaging. "
        "Interact is 12.0 %, 28.0 points below the Engaging profile's 40.0 %: "
        "12 of 100 activated accounts"
    )
    assert "operates at" not in contribute.text  # the lead sentence comes once
    assert contribute.text.startswith(
        "Contribute is 2.0 %, 15.0 points below the Engaging profile's 17.0 %: "
        "2 of 100 activated accounts published something in the last 30 days."
    )
    assert "more content makers" in contribute.text
    assert "different mandate for Internal Communication, not a new tool" in contribute.text


def test_view_above_a_higher_levels_profile_is_not_advice_but_low_reach_and_visit_are() -> None:
    # Initiation-like: Reach and Visit low, View disappointing; target Informing (view 60)
    figures = comps(reach=(80, 100), visit=(40, 100), view=(150, 1000), interact=(12, 100))
    advice = advise(figures, "informing", "initiation")
    assert [a.component for a in advice] == ["reach", "visit", "view"]
    reach, visit, view = advice
    assert "80 of 100 accounts have ever logged in" in reach.text
    assert "onboarding" in reach.text
    assert "routine" in visit.text
    assert "the average account read 15.0 % of the channel messages" in view.text
    assert "(150 reads of 1000 possible)" in view.text


def test_a_gap_under_the_minimum_and_a_component_without_value_get_none() -> None:
    wanted = DEFAULT_PROFILES["engaging"]
    just_under = int(wanted.visit * 10 - DEFAULT_MIN_GAP * 10 + 1)  # gap of -1.9 points
    figures = comps(visit=(just_under, 1000), interact=(0, 0), contribute=(17, 100))
    assert advise(figures, "engaging", "engaging") == []
    figures = comps(visit=(just_under - 1, 1000))  # -2.0: at the minimum gap
    assert [a.component for a in advise(figures, "engaging", "engaging")] == ["visit"]


def test_at_or_above_target_there_is_no_lead_sentence() -> None:
    figures = comps(interact=(30, 100))
    (only,) = advise(figures, "engaging", "co_creating")
    assert only.component == "interact"
    assert only.text.startswith("Interact is 30.0 %")
