"""``FaustPartitions.assigned``: kept per assignment, new at once after a rebalance."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from faust.types import TP

from engagement_scorer.partitions import FaustPartitions


class CountingAssignor:
    """The slice of Faust's ``PartitionAssignor`` read: its assignment object, replaced (not
    changed) on every rebalance, and ``assigned_actives``."""

    def __init__(self, actives: dict[str, list[int]]) -> None:
        self.calls = 0
        self.assign(actives)

    def assign(self, actives: dict[str, list[int]]) -> None:
        self._assignment = SimpleNamespace(actives=actives)

    def assigned_actives(self) -> set[TP]:
        self.calls += 1
        return {TP(t, p) for t, ps in self._assignment.actives.items() for p in ps}


def partitions_on(assignor: Any) -> FaustPartitions:
    return FaustPartitions(SimpleNamespace(assignor=assignor))  # type: ignore[arg-type]


def test_assigned_is_asked_once_per_assignment() -> None:
    assignor = CountingAssignor({"activity": [3, 1], "scores": [1]})
    partitions = partitions_on(assignor)
    assert partitions.assigned("activity") == [1, 3]
    assert partitions.assigned("activity") == [1, 3]
    assert partitions.assigned("scores") == [1]
    assert partitions.assigned("other") == []
    assert assignor.calls == 3  # one per topic, not one per question


def test_a_rebalance_shows_at_once() -> None:
    assignor = CountingAssignor({"activity": [0, 1]})
    partitions = partitions_on(assignor)
    assert partitions.assigned("activity") == [0, 1]
    assignor.assign({"activity": [1]})  # the assignor replaces its assignment object
    assert partitions.assigned("activity") == [1]


def test_callers_cannot_change_the_cached_answer() -> None:
    partitions = partitions_on(CountingAssignor({"activity": [0]}))
    partitions.assigned("activity").append(7)
    assert partitions.assigned("activity") == [0]


def test_an_assignor_without_an_assignment_object_is_asked_every_time() -> None:
    assignor = SimpleNamespace(calls=0)

    def assigned_actives() -> set[TP]:
        assignor.calls += 1
        return {TP("activity", 2)}

    assignor.assigned_actives = assigned_actives
    partitions = partitions_on(assignor)
    assert partitions.assigned("activity") == [2]
    assert partitions.assigned("activity") == [2]
    assert assignor.calls == 2
