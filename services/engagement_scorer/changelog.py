"""The first stage's state, written out: local stores and changelog topics, per batch.

A Faust table write costs ~50 µs (``on_key_set``, a ``FutureMessage``, the producer buffer,
one message per loop turn); handing a record to an aiokafka batch costs well under 1 µs. So
the first stage's tables are written here, from ``writes.PendingWrites``, with records that
are byte for byte what Faust would write (key and value: Faust's ``json``
codec; a deletion: a tombstone), into the changelog partition of the input partition that
caused them (the tables stay co-partitioned with the inputs). Recovery, standbys and existing
changelogs therefore work unchanged: Faust reads these records as its own.

Order of a batch, as Kafka Streams and Quix Streams do it: local store first (synchronously),
then the changelog records into the producer, whose futures the caller waits for before it
acknowledges the input offsets (``transport.BatchingConsumer``). With RocksDB, the persisted
changelog offset of each partition is set once its records are acknowledged, as Faust does,
so a restart replays only the changelog written after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring_ascii
from typing import Any, Protocol

from faust.serializers import codecs

from .writes import DELETED, PendingWrites

__all__ = ["ChangelogWriter", "encode_key", "encode_value"]

_json = codecs.get_codec("json")


def encode_key(key: str) -> bytes:
    """A table key as Faust's ``json`` codec writes it: a JSON string, ASCII-escaped (what
    ``json.dumps`` of a ``str`` is, without the encoder object around it)."""
    return encode_basestring_ascii(key).encode()


def encode_value(value: Any) -> bytes | None:
    """A table value as Faust's ``json`` codec writes it (compact JSON; ``None``: tombstone).
    Ints and int lists, the hot values, without the codec's generic path."""
    if value is DELETED:
        return None
    if type(value) is int:
        return str(value).encode()
    if type(value) is list and all(type(v) is int for v in value):
        return ("[" + ",".join(map(str, value)) + "]").encode()
    return bytes(_json.dumps(value))


class _Producer(Protocol):
    """The slice of ``aiokafka.AIOKafkaProducer`` used here."""

    def create_batch(self) -> Any: ...

    async def send_batch(self, batch: Any, topic: str, *, partition: int) -> Any: ...


class ChangelogWriter:
    """Writes ``PendingWrites`` to the tables' stores and changelog topics."""

    def __init__(
        self,
        tables: Mapping[str, Any],
        writes: PendingWrites,
        producer: Callable[[], _Producer],
    ) -> None:
        """``tables``: table name -> Faust table; ``producer``: the app's aiokafka producer
        (looked up per flush: it exists only once the app runs)."""
        self.tables = tables
        self.writes = writes
        self.producer = producer
        self.records = 0  # changelog records written (metrics, bench)
        self.bytes = 0  # their key + value bytes
        #: one flush at a time: a key's records reach the producer in the order it changed
        self._lock: asyncio.Lock | None = None

    def write_stores(self) -> list[tuple[Any, int, list[tuple[bytes, bytes | None]]]]:
        """Apply what is pending to the local stores; returns the changelog records to send:
        (table, partition, [(key, value)])."""
        out: list[tuple[Any, int, list[tuple[bytes, bytes | None]]]] = []
        for name, partition, keys in self.writes.take():
            table = self.tables[name]
            records = [(encode_key(key), encode_value(value)) for key, value in keys.items()]
            _write_store(table, partition, keys, records)
            out.append((table, partition, records))
        return out

    async def flush(self) -> list[asyncio.Future[Any]]:
        """Write everything pending: the stores now, the changelog records handed to the
        producer before this returns. Returns the futures of the producer batches (done when
        the broker acknowledged them)."""
        if not self.writes:
            return []
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            return await self._flush()

    async def _flush(self) -> list[asyncio.Future[Any]]:
        pending = self.write_stores()
        producer = self.producer()
        futures: list[asyncio.Future[Any]] = []
        for table, partition, records in pending:
            topic = table.changelog_topic.get_topic_name()
            store = table.data
            builder = producer.create_batch()
            count = 0
            for key, value in records:
                while builder.append(key=key, value=value, timestamp=None) is None:
                    if count == 0:  # a record larger than a whole batch: let it through
                        raise ValueError(f"changelog record of {len(value or b'')} bytes")
                    futures.append(
                        await self._send(producer, builder, topic, partition, count, store)
                    )
                    builder, count = producer.create_batch(), 0
                count += 1
                self.bytes += len(key) + (len(value) if value is not None else 0)
            self.records += len(records)
            if count:
                futures.append(await self._send(producer, builder, topic, partition, count, store))
        return futures

    @staticmethod
    async def _send(
        producer: _Producer, builder: Any, topic: str, partition: int, count: int, store: Any
    ) -> asyncio.Future[Any]:
        builder.close()
        future: asyncio.Future[Any] = await producer.send_batch(builder, topic, partition=partition)
        set_offset = getattr(store, "set_persisted_offset", None)
        if set_offset is not None:  # RocksDB keeps it; the memory store ignores it

            def persisted(done: asyncio.Future[Any]) -> None:
                if not done.cancelled() and done.exception() is None:
                    meta = done.result()
                    set_offset(meta.topic_partition, meta.offset + count - 1)

            future.add_done_callback(persisted)
        return future


def _write_store(
    table: Any,
    partition: int,
    keys: dict[str, Any],
    records: list[tuple[bytes, bytes | None]],
) -> None:
    """The table's local store, as ``Table.__setitem__``/``__delitem__`` would leave it."""
    store = table.data
    db_for = getattr(store, "_db_for_partition", None)
    if db_for is not None:  # RocksDB: one write batch per partition, values as serialized
        batch = _write_batch(store)
        for raw_key, raw_value in records:
            if raw_value is None:
                batch.delete(raw_key)
            else:
                batch.put(raw_key, raw_value)
        db_for(partition).write(batch)
        return
    data, key_partition = store.data, getattr(store, "_key_partition", None)
    for key, value in keys.items():  # memory: the Python values
        if value is DELETED:
            data.pop(key, None)
            if key_partition is not None:
                key_partition.pop(key, None)
        else:
            data[key] = value
            if key_partition is not None:
                key_partition[key] = partition


def _write_batch(store: Any) -> Any:
    """A write batch for Faust's RocksDB store (rocksdict, the store this project installs)."""
    if not getattr(store, "use_rocksdict", True):
        raise RuntimeError("the data plane writes RocksDB through rocksdict (faust[rocksdict])")
    from rocksdict import WriteBatch

    return WriteBatch(raw_mode=True)
