"""The producer and topic helper, against in-memory fakes of the aiokafka clients."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import pytest

import engagement_simulator.producer as producer_module
from engagement import kafka_admin
from engagement.events import KafkaRecord
from engagement_simulator.producer import (
    Producer,
    _progress_bar,
    check_bootstrap,
    ensure_topics,
    produce,
)


class FakeKafkaProducer:
    instances: list[FakeKafkaProducer] = []

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.sent: list[tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]] = []
        self.started = self.stopped = False
        FakeKafkaProducer.instances.append(self)

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True

    async def send(
        self, topic: str, *, value: bytes, key: bytes | None, headers: list[tuple[str, bytes]]
    ) -> asyncio.Future[int]:
        self.sent.append((topic, key, value, headers))
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        future.set_result(len(self.sent))
        return future


class FakeAdmin:
    topics: set[str] = set()
    created: list[Any] = []

    def __init__(self, **config: Any) -> None:
        self.closed = False

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        self.closed = True

    async def list_topics(self) -> list[str]:
        return sorted(self.topics)

    async def create_topics(self, new_topics: list[Any], timeout_ms: int) -> Any:
        errors = []
        for topic in new_topics:
            FakeAdmin.created.append(topic)
            errors.append((topic.name, 0, None))
            FakeAdmin.topics.add(topic.name)

        class Response:
            topic_errors = errors

        return Response()

    async def describe_topics(self, names: list[str]) -> list[dict[str, Any]]:
        return [
            {"topic": n, "error_code": 0, "partitions": [{"partition": 0, "leader": 1}]}
            for n in names
        ]


@pytest.fixture
def fake_kafka(monkeypatch: pytest.MonkeyPatch) -> type[FakeKafkaProducer]:
    FakeKafkaProducer.instances = []
    monkeypatch.setattr(producer_module, "AIOKafkaProducer", FakeKafkaProducer)
    return FakeKafkaProducer


@pytest.fixture
def fake_admin(monkeypatch: pytest.MonkeyPatch) -> type[FakeAdmin]:
    FakeAdmin.topics = {"already-there"}
    FakeAdmin.created = []
    monkeypatch.setattr(kafka_admin, "AIOKafkaAdminClient", FakeAdmin)
    return FakeAdmin


def records(n: int) -> list[KafkaRecord]:
    return [
        KafkaRecord(key=f"org-{i % 3}".encode(), value=f"v{i}".encode(), headers=[("h", b"x")])
        for i in range(n)
    ]


@pytest.mark.parametrize(
    "bootstrap", ["127.0.0.1:9092", "localhost:9092", "[::1]:9092", "127.0.0.2:1,localhost:2"]
)
def test_loopback_bootstrap_is_accepted(bootstrap: str) -> None:
    assert check_bootstrap(bootstrap) == bootstrap


@pytest.mark.parametrize(
    "bootstrap", ["10.0.0.5:9092", "kafka.example.com:9092", "127.0.0.1:1,b:2"]
)
def test_remote_bootstrap_needs_allow_remote(bootstrap: str) -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        check_bootstrap(bootstrap)
    assert check_bootstrap(bootstrap, allow_remote=True) == bootstrap


@pytest.mark.parametrize("bootstrap", ["", "127.0.0.1", "127.0.0.1:port", ":9092"])
def test_malformed_bootstrap_is_refused(bootstrap: str) -> None:
    with pytest.raises(ValueError, match=r"bootstrap|host:port"):
        check_bootstrap(bootstrap)


def test_producer_refuses_remote_before_connecting(fake_kafka: type[FakeKafkaProducer]) -> None:
    with pytest.raises(ValueError, match="non-loopback"):
        Producer("192.168.1.10:9092")
    assert fake_kafka.instances == []


async def test_produce_sends_everything_in_order_with_acks_all(
    fake_kafka: type[FakeKafkaProducer],
) -> None:
    batch = records(25)
    assert await produce(batch, "127.0.0.1:9092", "topic-a") == 25
    (client,) = fake_kafka.instances
    assert client.config["acks"] == "all"
    assert "partitioner" not in client.config  # Kafka's default: the key decides
    assert client.started
    assert client.stopped
    assert [(k, v, h) for _t, k, v, h in client.sent] == [
        (r.key, r.value, r.headers) for r in batch
    ]
    assert {t for t, *_ in client.sent} == {"topic-a"}


async def test_sending_is_bounded_and_paced(fake_kafka: type[FakeKafkaProducer]) -> None:
    async with Producer("127.0.0.1:9092", max_in_flight=4) as producer:
        started = time.monotonic()
        assert await producer.send_all(records(21), "t", rate=200.0) == 21
        elapsed = time.monotonic() - started
    assert elapsed >= 0.09  # 20 intervals at 200/s


async def test_rate_must_be_positive(fake_kafka: type[FakeKafkaProducer]) -> None:
    async with Producer("127.0.0.1:9092") as producer:
        with pytest.raises(ValueError, match="rate"):
            await producer.send_all(records(1), "t", rate=0)


async def test_progress_is_silent_without_a_terminal(
    fake_kafka: type[FakeKafkaProducer], capsys: pytest.CaptureFixture[str]
) -> None:
    await produce(records(5), "127.0.0.1:9092", "t", progress=True)
    assert capsys.readouterr().err == ""


def test_progress_shows_count_and_rate_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    bar = _progress_bar("backfill", 3, True, screen)
    for _ in range(3):
        bar.update(1)
    bar.close()
    shown = screen.getvalue()
    assert "backfill" in shown
    assert "3/3" in shown
    assert "records/s" in shown
    silent = Terminal()
    _progress_bar("backfill", 3, False, silent).close()  # --no-progress
    assert silent.getvalue() == ""


async def test_ensure_topics_creates_missing_ones_only(fake_admin: type[FakeAdmin]) -> None:
    created = await ensure_topics(
        "127.0.0.1:9092",
        ["already-there", "activity", "profiles"],
        4,
        compacted=["profiles"],
    )
    assert created == ["activity", "profiles"]
    by_name = {t.name: t for t in fake_admin.created}
    assert set(by_name) == {"activity", "profiles"}
    assert by_name["activity"].num_partitions == 4
    assert by_name["profiles"].topic_configs == {"cleanup.policy": "compact"}
    assert not by_name["activity"].topic_configs


async def test_ensure_topics_tolerates_a_creation_race(
    fake_admin: type[FakeAdmin], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def racing(self: FakeAdmin, new_topics: list[Any], timeout_ms: int) -> Any:
        class Response:
            topic_errors = [(t.name, 36, "exists") for t in new_topics]

        return Response()

    monkeypatch.setattr(FakeAdmin, "create_topics", racing)
    assert await ensure_topics("127.0.0.1:9092", ["x"], 2) == []


async def test_ensure_topics_reports_other_errors(
    fake_admin: type[FakeAdmin], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing(self: FakeAdmin, new_topics: list[Any], timeout_ms: int) -> Any:
        class Response:
            topic_errors = [(t.name, 41, "not controller") for t in new_topics]

        return Response()

    monkeypatch.setattr(FakeAdmin, "create_topics", failing)
    with pytest.raises(RuntimeError, match="cannot create topic"):
        await ensure_topics("127.0.0.1:9092", ["x"], 2)
