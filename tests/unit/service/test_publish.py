"""Published figures come from a cache of frozen payload models (``publish.components``): each
is what the models build from the same counts, whichever payload built it first."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engagement.domain import COMPONENTS, Component
from engagement.events import ComponentFigure, Components
from engagement_scorer import publish

from .test_own_scores import same

PAIR = st.integers(min_value=0, max_value=60).flatmap(
    lambda d: st.tuples(st.integers(min_value=0, max_value=d), st.just(d))
)


def _validated(counts: list[tuple[int, int]]) -> Components:
    return Components(
        **{
            name: ComponentFigure(value=Component(n, d).value, numerator=n, denominator=d)
            for name, (n, d) in zip(COMPONENTS, counts, strict=True)
        }
    )


def _figures(counts: list[tuple[int, int]]) -> Any:
    comps = {name: Component(n, d) for name, (n, d) in zip(COMPONENTS, counts, strict=True)}
    return SimpleNamespace(components=comps)


@given(st.lists(st.lists(PAIR, min_size=5, max_size=5), min_size=1, max_size=20))
def test_cached_figures_are_the_models_built_from_their_counts(
    periods: list[list[tuple[int, int]]],
) -> None:
    for counts in periods:  # small counts: figures and whole periods recur
        assert same(publish.components(_figures(counts)), _validated(counts))


def test_a_full_cache_starts_again_and_still_answers_right(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish, "_CACHE_MAX", 3)
    monkeypatch.setattr(publish, "_FIGURES", {})
    monkeypatch.setattr(publish, "_COMPONENTS", {})
    for i in range(10):
        counts = [(i, 10), (1, 3), (0, 0), (i, i + 1), (2, 7)]
        assert same(publish.components(_figures(counts)), _validated(counts))
        assert len(publish._FIGURES) <= 3
        assert len(publish._COMPONENTS) <= 3
