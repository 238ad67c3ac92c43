"""The advice endpoint's answer, on the first stage built on dicts."""

from __future__ import annotations

from typing import Any

from engagement.domain import COMPONENTS, Component
from engagement.domain.advice import advise
from engagement_scorer.history_views import advice_response

from .fakes import FirstStage, at, created, profile, visit


def test_advice_is_given_on_the_current_figures_against_the_target() -> None:
    first = FirstStage()
    p = profile("org-1", target_level="engaging", timezone="UTC")
    first.stage.profile(p.key, p.value, p.headers)
    for i in range(10):
        first.feed(created(f"a{i}", at("2025-06-01")))
    for i in range(6):  # 6 of 10 ever log in: Reach 60 %, Visit 100 % of the activated
        first.feed(visit(f"a{i}", at("2025-06-02")))
    ctx: Any = first
    assert advice_response(ctx, "nobody") is None
    found = advice_response(ctx, "org-1")
    assert found is not None
    assert found.target_level == "engaging"
    by_component = {a.component: a for a in found.advice}
    reach = by_component["reach"]
    assert (reach.numerator, reach.denominator, reach.value) == (6, 10, 60.0)
    assert "6 of 10 accounts have ever logged in" in reach.text
    assert "visit" not in by_component  # 100 % is above the profile
    # the same as the domain's advice on the published figures
    state = first.states.orgs["org-1"]
    figures = state.figures()
    expected = advise(
        {
            n: Component(figures.components[n].numerator, figures.components[n].denominator)
            for n in COMPONENTS
        },
        "engaging",
        found.operating_level,
    )
    assert [a.text for a in found.advice] == [a.text for a in expected]
