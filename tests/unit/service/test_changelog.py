"""The first stage's table writes (``writes`` + ``changelog``): byte for byte Faust's own
changelog records, one per changed key per batch, in the input's partition, the local store
left as a Faust table write would leave it, and the persisted offset set on acknowledgement."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from engagement.settings import Settings
from engagement_scorer.app import create_app
from engagement_scorer.changelog import ChangelogWriter, encode_key, encode_value
from engagement_scorer.writes import DELETED, TABLES, PendingWrites

from ...clock import TEST_NOW
from .fakes import FakeProducer

KEYS = ["org-1", "org-1\x1fa1", "org-é\x1fmsg\x1f😀", 'q"uo\\te', "tab\there", ""]
VALUES: list[Any] = [
    0,
    -5,
    (1 << 240) + 12345,  # a packed account: 241 bits, exact
    [20000, 1750000000, 40],
    [1, 2, 3, 4],
    {"org_id": "org-1", "timezone": "Europe/Amsterdam", "name": "Zoë", "size": 12},
]


def _ctx(tmp_path: Path, store: str = "memory://") -> Any:
    settings = Settings(store=store, data_dir=tmp_path, clock_start=TEST_NOW, topic_partitions=4)
    return create_app(settings, CollectorRegistry())


@pytest.mark.parametrize("key", KEYS)
def test_keys_are_what_faust_writes(tmp_path: Path, key: str) -> None:
    table = _ctx(tmp_path).tables.state.accounts
    assert encode_key(key) == table.changelog_topic.prepare_key(key, None)[0]


@pytest.mark.parametrize("value", VALUES)
def test_values_are_what_faust_writes(tmp_path: Path, value: Any) -> None:
    table = _ctx(tmp_path).tables.state.accounts
    assert encode_value(value) == table.changelog_topic.prepare_value(value, None)[0]


def test_a_deletion_is_a_tombstone() -> None:
    assert encode_value(DELETED) is None


def _writer(ctx: Any, producer: FakeProducer) -> ChangelogWriter:
    tables = {name: getattr(ctx.tables.state, name) for name in TABLES}
    return ChangelogWriter(tables, ctx.states.writes, lambda: producer)


async def test_one_record_per_changed_key_in_the_inputs_partition(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path)
    producer = FakeProducer()
    writer = _writer(ctx, producer)
    writes: PendingWrites = ctx.states.writes
    writes.at(2).set("accounts", "o\x1fa", 1)
    writes.set("accounts", "o\x1fa", 2)
    writes.set("accounts", "o\x1fa", 3)  # three changes in the batch: one record, the last
    writes.set("reads", "o\x1fm\x1fa", 10)
    writes.delete("reads", "o\x1fm\x1fa")  # set, then removed: a tombstone
    writes.at(3).set("orgs", "p", [1, 2, 3, 4])
    futures = await writer.flush()
    await asyncio.gather(*futures)
    app_id = ctx.settings.app_id
    assert sorted(producer.sent) == sorted(
        [
            (f"{app_id}-accounts-changelog", 2, [(b'"o\\u001fa"', b"3")]),
            (f"{app_id}-reads-changelog", 2, [(b'"o\\u001fm\\u001fa"', None)]),
            (f"{app_id}-orgs-changelog", 3, [(b'"p"', b"[1,2,3,4]")]),
        ]
    )
    assert (writer.records, len(writes)) == (3, 0)
    # the local (memory) stores, as Table.__setitem__ / __delitem__ leave them
    state = ctx.tables.state
    assert state.accounts["o\x1fa"] == 3
    assert "o\x1fm\x1fa" not in state.reads
    assert state.orgs["p"] == [1, 2, 3, 4]
    assert state.accounts.data._key_partition["o\x1fa"] == 2
    assert await writer.flush() == []  # nothing pending: nothing sent


async def test_a_full_producer_batch_is_sent_and_the_rest_goes_in_the_next(
    tmp_path: Path,
) -> None:
    ctx = _ctx(tmp_path)
    producer = FakeProducer(batch_size=3)
    writer = _writer(ctx, producer)
    for i in range(7):
        ctx.states.writes.at(0).set("reads", f"k{i}", i)
    await asyncio.gather(*await writer.flush())
    sizes = [len(records) for _t, _p, records in producer.sent]
    assert sizes == [3, 3, 1]
    keys = [k for _t, _p, records in producer.sent for k, _v in records]
    assert keys == [encode_key(f"k{i}") for i in range(7)]  # in the order they changed


async def test_rocksdb_store_gets_the_bytes_and_the_acknowledged_offset(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, store="rocksdb://")
    producer = FakeProducer(batch_size=2, hold=True)
    writer = _writer(ctx, producer)
    table = ctx.tables.state.accounts
    for i in range(3):
        ctx.states.writes.at(1).set("accounts", f"o\x1fa{i}", 100 + i)
    futures = await writer.flush()
    db = table.data._db_for_partition(1)
    assert db[encode_key("o\x1fa2")] == b"102"  # written before the send is acknowledged
    tp = next(iter({meta.topic_partition for _f, meta in producer.futures}))
    assert table.data.persisted_offset(tp) is None  # nothing acknowledged yet
    for future, meta in producer.futures:
        future.set_result(meta)
    await asyncio.gather(*futures)
    await asyncio.sleep(0)  # the futures' own callbacks run on the next turn of the loop
    await asyncio.sleep(0)
    assert table.data.persisted_offset(tp) == 2  # the last of the three records (0, 1, 2)
