"""The benchmark stage on plain inputs: peer figures -> published / withdrawn groups."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engagement.events import BenchmarkUpdated, decode_output
from engagement_scorer.benchmarking import BenchmarkingStage, peer_row_key
from engagement_scorer.org_profile import PeerGroupKey
from engagement_scorer.read_model import ReadModel

NOW = datetime(2026, 3, 18, 12, tzinfo=UTC)
GOV = PeerGroupKey("government", "500-1999", "intranet")
HEALTH = PeerGroupKey("healthcare", "500-1999", "intranet")
K = 3


def values(reach: float) -> dict[str, float | None]:
    return {"reach": reach, "visit": 50.0, "view": 40.0, "interact": None, "contribute": 10.0}


class Bench:
    def __init__(self) -> None:
        self.peers: dict[str, Any] = {}
        self.table: dict[str, Any] = {}
        self.stage = BenchmarkingStage(self.peers, self.table, K, "engagement.benchmarks", "urn:t")

    def send(self, group: PeerGroupKey, org: str, reach: float | None) -> Any:
        return self.stage.peer_figures(group, org, None if reach is None else values(reach), NOW)


def _payload(out: Any) -> BenchmarkUpdated:
    data = decode_output(out.key, out.value, out.headers).data
    assert isinstance(data, BenchmarkUpdated)
    return data


def test_the_group_key_round_trips() -> None:
    assert GOV.encode() == "government|500-1999|intranet"
    assert PeerGroupKey.decode(GOV.encode()) == GOV


def test_a_group_is_published_when_it_reaches_k() -> None:
    b = Bench()
    assert b.send(GOV, "a", 10.0).outputs == []
    assert b.send(GOV, "b", 20.0).outputs == []
    assert b.table == {}
    changed = b.send(GOV, "c", 30.0)
    assert changed.published == [GOV]
    [out] = changed.outputs
    assert out.key == GOV.encode().encode()
    payload = _payload(out)
    assert payload.org_count == K
    assert payload.components["reach"].median == 20.0
    assert "interact" not in payload.components  # fewer than k values
    assert b.table[GOV.encode()]["medians"]["reach"] == 20.0
    assert b.peers[peer_row_key(GOV, "c")] == values(30.0)
    assert b.send(GOV, "c", 30.0).outputs == []  # same figures: no new event


def test_a_group_falling_below_k_is_withdrawn() -> None:
    b = Bench()
    for org, reach in (("a", 10.0), ("b", 20.0), ("c", 30.0)):
        b.send(GOV, org, reach)
    assert GOV.encode() in b.table
    changed = b.send(GOV, "c", None)  # c left the group
    assert changed.withdrawn == [GOV]
    assert changed.outputs == []
    assert GOV.encode() not in b.table
    assert peer_row_key(GOV, "c") not in b.peers
    # published again, with fresh figures, once it is back at k
    assert b.send(GOV, "d", 40.0).published == [GOV]


def test_an_organisation_changing_group_leaves_the_old_and_joins_the_new() -> None:
    b = Bench()
    for org, reach in (("a", 10.0), ("b", 20.0), ("c", 30.0), ("x", 60.0), ("y", 70.0)):
        b.send(GOV if org in "abc" else HEALTH, org, reach)
    assert GOV.encode() in b.table
    assert HEALTH.encode() not in b.table
    # the second stage sends the withdrawal from the old group, then the values for the new
    left = b.send(GOV, "c", None)
    assert left.withdrawn == [GOV]
    joined = b.send(HEALTH, "c", 30.0)
    assert joined.published == [HEALTH]
    assert _payload(joined.outputs[0]).org_count == 3
    assert b.stage.groups.group_of("c") == HEALTH
    # a withdrawal arriving late, once c is already in its new group, changes nothing
    assert b.send(GOV, "c", None).withdrawn == []
    assert b.stage.groups.group_of("c") == HEALTH


def test_rebuild_restores_the_owned_groups_from_the_peers_table() -> None:
    b = Bench()
    for org, reach in (("a", 10.0), ("b", 20.0), ("c", 30.0), ("x", 60.0)):
        b.send(GOV if org in "abc" else HEALTH, org, reach)
    b.stage.rebuild(lambda group: group == GOV)
    assert b.stage.groups.org_count(GOV) == 3
    assert b.stage.groups.org_count(HEALTH) == 0


def test_the_read_model_places_an_organisation_against_the_published_median() -> None:
    b = Bench()
    for org, reach in (("a", 10.0), ("b", 20.0), ("c", 30.0)):
        b.send(GOV, org, reach)
    profiles = {"c": {"org_id": "c", "sector": "government", "employees": 800}}
    reads = ReadModel(profiles, b.table, lambda _org: None, K)
    assert reads.position("c", {"reach": 20.0, "visit": 51.0, "view": 39.9}) == {
        "reach": "at",
        "visit": "above",
        "view": "below",
    }
    assert reads.position("unknown", values(20.0)) is None
    group = reads.peer_group(reads.profile("c"))
    assert group is not None
    assert group["published"] is True
    assert group["org_count"] == K
