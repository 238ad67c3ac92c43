"""Fakes for the service-layer tests: partitions, tables (dicts), input records, a settings
object, and the first stage built on them. No broker, no Faust app, no wall clock."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel

from engagement.events import (
    AccountCreated,
    ComponentFigure,
    Components,
    KafkaRecord,
    OrgProfile,
    ScoreUpdated,
    Visit,
    encode_event,
    topics,
)
from engagement.settings import Settings
from engagement_scorer.assess import Assessments
from engagement_scorer.clock import WorkerClock
from engagement_scorer.emitter import ScoreEmitter
from engagement_scorer.progress import EmitPacer, Progress
from engagement_scorer.read_model import ReadModel
from engagement_scorer.scoring import ScoringStage
from engagement_scorer.state import OrgStates, StateTables

#: The worker clock's fixed moment (2025-06-30): inputs are older, none "in the future".
NOW = datetime(2025, 6, 30, tzinfo=UTC)


def settings(**overrides: Any) -> Settings:
    return Settings(topic_partitions=1, live_clock=False, **overrides)


def at(day: str, hour: int = 12) -> datetime:
    """``day`` as YYYY-MM-DD, at ``hour`` UTC."""
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


class FakePartitions:
    """Owns partition 0 of every topic; end offsets and start offsets as set by the test."""

    def __init__(self) -> None:
        self.ends: dict[tuple[str, int], int] = {}
        self.starts: dict[tuple[str, int], int] = {}
        self.owned: list[int] = [0]

    def assigned(self, topic: str) -> list[int]:
        return list(self.owned)

    def highwater(self, topic: str, partition: int) -> int | None:
        return self.ends.get((topic, partition))

    def committed(self, topic: str, partition: int) -> int | None:
        return self.starts.get((topic, partition))


_ids = iter(range(10**9))


def record(type_: str, data: BaseModel, when: datetime, key: str = "org-1") -> KafkaRecord:
    return encode_event(
        type=type_,
        source="urn:test",
        id=f"e-{next(_ids)}",
        time=when,
        subject=None,
        data=data,
        key=key,
    )


def created(account: str, when: datetime, org: str = "org-1") -> KafkaRecord:
    return record(
        topics.ACCOUNT_CREATED_TYPE, AccountCreated(org_id=org, account_id=account), when, org
    )


def visit(account: str, when: datetime, org: str = "org-1") -> KafkaRecord:
    return record(topics.VISIT_TYPE, Visit(org_id=org, account_id=account), when, org)


def profile(org: str, **fields: Any) -> KafkaRecord:
    return record(topics.ORG_PROFILE_TYPE, OrgProfile(org_id=org, **fields), at("2025-01-01"), org)


class FirstStage:
    """The first stage on dicts and fakes, as ``create_app`` wires it."""

    def __init__(self, s: Settings | None = None) -> None:
        self.settings = s or settings()
        self.tables = StateTables(orgs={}, accounts={}, messages={}, reads={}, profiles={})
        self.assessment_table: dict[str, Any] = {}
        self.benchmark_table: dict[str, Any] = {}
        self.partitions = FakePartitions()
        self.progress = Progress()
        self.clock = WorkerClock(NOW.timestamp(), wall=lambda: 0.0, monotonic=lambda: 0.0)
        self.states = OrgStates(self.settings.scoring_rules(), self.tables, 1)
        self.states.ready = True
        self.assessments = Assessments(self.settings, self.assessment_table)
        self.read_model = ReadModel(
            self.tables.profiles,
            self.benchmark_table,
            self.assessments.announced_level,
            self.settings.benchmark_min_group_size,
        )
        self.emitter = ScoreEmitter(
            self.settings,
            self.states,
            self.read_model,
            self.assessments.last_as_of,
            self.partitions,
            self.progress,
            EmitPacer(self.settings.burst_emit_max_delay_seconds),
            self.clock,
        )
        self.stage = ScoringStage(
            self.settings, self.states, self.emitter, self.clock, self.partitions, self.progress
        )

    def feed(self, rec: KafkaRecord) -> Any:
        return self.stage.activity(rec.key, rec.value, rec.headers)


def score(as_of: datetime, interact: int, org: str = "o") -> ScoreUpdated:
    """A score event of organisation ``org`` at ``as_of`` whose Interact is ``interact`` %."""

    def figure(numerator: int) -> ComponentFigure:
        return ComponentFigure(value=float(numerator), numerator=numerator, denominator=100)

    comps = Components(
        reach=figure(100),
        visit=figure(90),
        view=figure(40),
        interact=figure(interact),
        contribute=figure(17),
    )
    return ScoreUpdated(
        org_id=org,
        as_of=as_of,
        timezone="UTC",
        window_start=date(2026, 2, 17),
        window_end=as_of.date(),
        components=comps,
        engagement_score=60.0,
        month=f"{as_of:%Y-%m}",
        month_to_date=comps,
        month_engagement_score=60.0,
    )


class FakeBatch:
    """An aiokafka ``BatchBuilder`` stand-in: keeps the records; full after ``size``."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.records: list[tuple[bytes, bytes | None]] = []
        self.closed = False

    def append(self, *, key: bytes, value: bytes | None, timestamp: Any) -> object | None:
        if self.closed or len(self.records) >= self.size:
            return None
        self.records.append((key, value))
        return object()

    def close(self) -> None:
        self.closed = True


class FakeProducer:
    """The aiokafka producer as ``changelog.ChangelogWriter`` uses it: batches recorded per
    (topic, partition) with broker offsets, acknowledged at once (or never: ``hold``)."""

    def __init__(self, batch_size: int = 1000, hold: bool = False) -> None:
        self.batch_size = batch_size
        self.hold = hold
        self.sent: list[tuple[str, int, list[tuple[bytes, bytes | None]]]] = []
        self.offsets: dict[tuple[str, int], int] = {}
        self.futures: list[Any] = []

    def create_batch(self) -> FakeBatch:
        return FakeBatch(self.batch_size)

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> Any:
        import asyncio
        from types import SimpleNamespace

        from faust.types import TP

        assert batch.closed
        base = self.offsets.get((topic, partition), 0)
        self.offsets[(topic, partition)] = base + len(batch.records)
        self.sent.append((topic, partition, list(batch.records)))
        future = asyncio.get_running_loop().create_future()
        meta = SimpleNamespace(topic_partition=TP(topic, partition), offset=base)
        if self.hold:
            self.futures.append((future, meta))
        else:
            future.set_result(meta)
        return future

    def records(self, topic_suffix: str) -> dict[bytes, bytes | None]:
        """The last record per key sent to the changelog topic ending in ``topic_suffix``."""
        out: dict[bytes, bytes | None] = {}
        for topic, _partition, records in self.sent:
            if topic.endswith(topic_suffix):
                out.update(records)
        return out
