"""Peer-group benchmarks against a naive recomputation from all organisations' values."""

from __future__ import annotations

import statistics
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engagement.domain.benchmarks import (
    GroupKey,
    GroupStats,
    PeerGroups,
    Quartiles,
    quantile,
    size_band,
)
from engagement.domain.rules import COMPONENTS

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

A: GroupKey = ("healthcare", "500-1999", "intranet")
B: GroupKey = ("healthcare", "500-1999", "community")
C: GroupKey = ("education", "100-499", "intranet")


@pytest.mark.parametrize(
    ("employees", "band"),
    [
        (None, "unknown"),
        (0, "unknown"),
        (-3, "unknown"),
        (1, "1-99"),
        (99, "1-99"),
        (100, "100-499"),
        (499, "100-499"),
        (500, "500-1999"),
        (1999, "500-1999"),
        (2000, "2000-9999"),
        (9999, "2000-9999"),
        (10_000, "10000+"),
        (250_000, "10000+"),
    ],
)
def test_size_band(employees: int | None, band: str) -> None:
    assert size_band(employees) == band


@SETTINGS
@given(
    st.lists(st.floats(0, 100, allow_nan=False), min_size=2, max_size=40),
)
def test_quartiles_match_the_inclusive_method(values: list[float]) -> None:
    ordered = sorted(values)
    expected = statistics.quantiles(values, n=4, method="inclusive")
    got = [quantile(ordered, p) for p in (0.25, 0.5, 0.75)]
    assert got == pytest.approx(expected, abs=1e-9)
    assert quantile(ordered, 0.5) == pytest.approx(statistics.median(values), abs=1e-9)
    assert quantile(ordered, 0.0) == ordered[0]
    assert quantile(ordered, 1.0) == ordered[-1]


def test_quantile_of_one_value_and_of_none() -> None:
    assert quantile([42.0], 0.25) == 42.0
    with pytest.raises(ValueError, match="no values"):
        quantile([], 0.5)


# ---- against a naive model -----------------------------------------------------------------


def naive_quartiles(values: list[float]) -> Quartiles | None:
    """Sort everything and interpolate, as written in textbooks (numpy's default method)."""
    if not values:
        return None
    ordered = sorted(values)

    def q(p: float) -> float:
        pos = (len(ordered) - 1) * p
        lower = int(pos)
        upper = min(lower + 1, len(ordered) - 1)
        return ordered[lower] * (1 - (pos - lower)) + ordered[upper] * (pos - lower)

    return Quartiles(q(0.25), q(0.5), q(0.75))


def naive_stats(
    model: dict[str, tuple[GroupKey, dict[str, float | None]]], group: GroupKey
) -> GroupStats | None:
    members = [values for g, values in model.values() if g == group]
    if not members:
        return None
    components = {}
    counts = {}
    for name in COMPONENTS:
        present = [v[name] for v in members if v[name] is not None]
        components[name] = naive_quartiles([x for x in present if x is not None])
        counts[name] = len(present)
    return GroupStats(group, len(members), components, counts)


def naive_content(
    model: dict[str, tuple[GroupKey, dict[str, float | None]]], group: GroupKey
) -> tuple[int, tuple[tuple[float, ...], ...]]:
    """What a group's statistics are computed from: its size and value multisets."""
    members = [values for g, values in model.values() if g == group]
    lists = tuple(
        tuple(sorted(x for v in members if (x := v[name]) is not None)) for name in COMPONENTS
    )
    return len(members), lists


def same_stats(a: GroupStats | None, b: GroupStats | None) -> bool:
    if a is None or b is None:
        return a is b
    if (a.group, a.org_count, a.value_counts) != (b.group, b.org_count, b.value_counts):
        return False
    for name in COMPONENTS:
        qa, qb = a.components[name], b.components[name]
        if qa is None or qb is None:
            if qa is not qb:
                return False
            continue
        pairs = zip((qa.p25, qa.median, qa.p75), (qb.p25, qb.median, qb.p75), strict=True)
        if any(abs(x - y) > 1e-9 for x, y in pairs):
            return False
    return True


value_st = st.one_of(
    st.none(),
    st.sampled_from([0.0, 12.5, 40.0, 40.0, 55.1, 97.0, 100.0]),
    st.floats(0, 100, allow_nan=False),
)
op_st = st.one_of(
    st.tuples(
        st.just("update"),
        st.sampled_from([f"org{i}" for i in range(9)]),
        st.sampled_from([A, B, C]),
        st.fixed_dictionaries({name: value_st for name in COMPONENTS}),
    ),
    st.tuples(st.just("remove"), st.sampled_from([f"org{i}" for i in range(9)])),
)


@SETTINGS
@given(st.lists(op_st, max_size=80), st.integers(1, 6))
def test_peer_groups_equal_a_naive_recomputation(ops: list[tuple[Any, ...]], k: int) -> None:
    groups = PeerGroups()
    model: dict[str, tuple[GroupKey, dict[str, float | None]]] = {}
    for op in ops:
        before = {g: naive_content(model, g) for g in (A, B, C)}
        if op[0] == "update":
            _, org, group, values = op
            changed = groups.update(org, group, values)
            model[org] = (group, dict(values))
        else:
            _, org = op
            changed = groups.remove(org)
            model.pop(org, None)
        assert changed == {g for g in (A, B, C) if before[g] != naive_content(model, g)}
        after = {g: naive_stats(model, g) for g in (A, B, C)}
        for g in (A, B, C):
            assert same_stats(groups.stats(g), after[g])
            stats_g = after[g]
            count = 0 if stats_g is None else stats_g.org_count
            assert groups.published(g, k) == (count >= k)
            assert groups.org_count(g) == count
        assert len(groups) == len(model)
    for org, (group, values) in model.items():
        position = groups.position(org, k)
        stats = after[group]
        assert stats is not None
        if stats.org_count < k:
            assert position is None
            continue
        assert position is not None
        for name in COMPONENTS:
            quartiles, value = stats.components[name], values[name]
            if value is None or quartiles is None or stats.value_counts[name] < k:
                assert name not in position
            elif abs(value - quartiles.median) <= 1e-9:
                assert position[name] == "at"
            else:
                assert position[name] == ("above" if value > quartiles.median else "below")


def test_groups_below_k_are_not_published() -> None:
    groups = PeerGroups()
    for i in range(4):
        groups.update(f"org{i}", A, dict.fromkeys(COMPONENTS, 50.0 + i))
    assert not groups.published(A)
    assert groups.published_stats(A) is None
    assert groups.position("org0") is None
    assert groups.stats(A) is not None  # internal statistics exist all the same
    groups.update("org4", A, dict.fromkeys(COMPONENTS, 54.0))
    assert groups.published(A)
    stats = groups.published_stats(A)
    assert stats is not None
    assert stats.org_count == 5
    assert stats.components["reach"] == Quartiles(51.0, 52.0, 53.0)
    assert groups.position("org0") == dict.fromkeys(COMPONENTS, "below")
    assert groups.position("org2") == dict.fromkeys(COMPONENTS, "at")
    assert groups.position("org4") == dict.fromkeys(COMPONENTS, "above")
    assert groups.position("unknown") is None


def test_a_component_with_fewer_than_k_values_is_not_published() -> None:
    groups = PeerGroups()
    for i in range(6):
        view = 40.0 if i == 0 else None  # only one org has a View value
        groups.update(f"org{i}", A, {"reach": 90.0 + i, "view": view})
    stats = groups.published_stats(A)
    assert stats is not None
    assert stats.value_counts["view"] == 1
    assert stats.components["view"] is None
    assert stats.components["visit"] is None
    assert stats.components["reach"] is not None
    raw = groups.stats(A)
    assert raw is not None
    assert raw.components["view"] == Quartiles(40.0, 40.0, 40.0)
    assert groups.position("org0") == {"reach": "below"}


def test_moving_group_leaves_the_old_one() -> None:
    groups = PeerGroups()
    groups.update("x", A, {"reach": 10.0})
    groups.update("y", A, {"reach": 30.0})
    assert groups.update("x", B, {"reach": 10.0}) == {A, B}
    assert groups.group_of("x") == B
    a, b = groups.stats(A), groups.stats(B)
    assert a is not None
    assert a.org_count == 1
    assert a.components["reach"] == Quartiles(30, 30, 30)
    assert b is not None
    assert b.org_count == 1
    assert b.components["reach"] == Quartiles(10, 10, 10)
    assert groups.update("x", B, {"reach": 10.0}) == set()  # nothing changed
    assert groups.update("x", B, {"reach": 20.0}) == {B}
    assert groups.remove("x") == {B}
    assert groups.stats(B) is None
    assert groups.groups() == [A]
    assert groups.remove("x") == set()
    assert "x" not in groups
    assert "y" in groups


def test_nan_is_rejected() -> None:
    with pytest.raises(ValueError, match="NaN"):
        PeerGroups().update("x", A, {"reach": float("nan")})
