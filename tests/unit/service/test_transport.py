"""``transport.BatchingConsumer.seek_to_committed``: a partition never committed is read
from its beginning after every rebalance (aiokafka leaves it where it was, and the records
Faust dropped as fetched under the previous generation were then lost for good)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from engagement_scorer.transport import BatchingConsumer

SCORES = [TP("engagement.scores", p) for p in range(3)]
CHANGELOG = TP("app-orgs-changelog", 0)


class FakeThread:
    """The consumer thread: committed offsets, and the partitions sought to the beginning."""

    def __init__(self, committed: dict[TP, int | None]) -> None:
        self.committed = committed
        self.to_beginning: list[TP] = []

    async def seek_to_committed(self) -> dict[TP, int | None]:
        return dict(self.committed)

    async def seek_to_beginning(self, *tps: TP) -> None:
        self.to_beginning.extend(tps)


def consumer(committed: dict[TP, int | None], reset: str = "earliest") -> Any:
    c: Any = object.__new__(BatchingConsumer)  # only what seek_to_committed reads
    c._thread = FakeThread(committed)
    c.app = SimpleNamespace(
        consumer_generation_id=3,
        conf=SimpleNamespace(consumer_auto_offset_reset=reset),
        tables=SimpleNamespace(changelog_topics={CHANGELOG.topic}),
    )
    return c


@pytest.mark.asyncio
async def test_a_partition_never_committed_is_read_from_its_beginning() -> None:
    c = consumer({SCORES[0]: None, SCORES[1]: 42, SCORES[2]: 0, CHANGELOG: None})
    committed = await c.seek_to_committed()
    assert committed == {SCORES[0]: None, SCORES[1]: 42, SCORES[2]: 0, CHANGELOG: None}
    # 42 was sought by aiokafka itself; changelogs are positioned by Faust's recovery
    assert sorted(c._thread.to_beginning) == [SCORES[0], SCORES[2]]


@pytest.mark.asyncio
async def test_nothing_more_when_every_partition_is_committed() -> None:
    c = consumer({SCORES[0]: 7, SCORES[1]: 42})
    await c.seek_to_committed()
    assert c._thread.to_beginning == []


@pytest.mark.asyncio
async def test_a_consumer_reset_to_latest_is_left_as_aiokafka_leaves_it() -> None:
    c = consumer({SCORES[0]: None}, reset="latest")
    await c.seek_to_committed()
    assert c._thread.to_beginning == []
