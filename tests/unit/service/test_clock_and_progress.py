"""The worker's injected clock, the caught-up rule of the live clock, when a burst's scores are
published, and the second stage's handling of a score older than the last one it assessed."""

from __future__ import annotations

from datetime import UTC, datetime

from engagement.domain import AlertTracker, LevelTracker
from engagement.settings import Settings
from engagement_scorer.assess import Assessment, assess
from engagement_scorer.clock import WorkerClock
from engagement_scorer.progress import EmitPacer, PartitionProgress

from .fakes import score


class FakeTime:
    def __init__(self, wall: float, monotonic: float) -> None:
        self.wall_value, self.monotonic_value = wall, monotonic

    def wall(self) -> float:
        return self.wall_value

    def monotonic(self) -> float:
        return self.monotonic_value


def test_clock_start_is_read_at_construction_and_advances_with_monotonic_time() -> None:
    t = FakeTime(wall=2_000_000_000.0, monotonic=50.0)
    start = datetime(2026, 3, 18, 3, 10, tzinfo=UTC).timestamp()
    clock = WorkerClock(start, wall=t.wall, monotonic=t.monotonic)
    assert clock.now() == int(start)
    t.monotonic_value += 90.5
    t.wall_value -= 3600  # a system clock step back does not move it
    assert clock.now() == int(start) + 90
    assert clock.now_datetime() == datetime(2026, 3, 18, 3, 11, 30, tzinfo=UTC)


def test_without_a_start_the_clock_is_the_system_clock_plus_the_offset() -> None:
    t = FakeTime(wall=1_800_000_000.7, monotonic=0.0)
    clock = WorkerClock(None, offset=-86_400, wall=t.wall, monotonic=t.monotonic)
    assert clock.now() == 1_800_000_000 - 86_400
    t.wall_value += 10
    assert clock.now() == 1_800_000_010 - 86_400


def test_clock_from_settings() -> None:
    settings = Settings(clock_start=datetime(2026, 1, 1, tzinfo=UTC), clock_offset_seconds=60)
    now = WorkerClock.from_settings(settings).now()
    assert 0 <= now - (int(datetime(2026, 1, 1, tzinfo=UTC).timestamp()) + 60) <= 5


def test_a_partition_is_caught_up_only_once_processed_to_the_end_offset() -> None:
    progress = PartitionProgress()
    assert not PartitionProgress.caught_up(progress.next_offset(0), 10)  # nothing processed
    progress.processed(0, 8)
    assert not PartitionProgress.caught_up(progress.next_offset(0), 10)  # offset 9 waits
    progress.processed(0, 9)
    assert PartitionProgress.caught_up(progress.next_offset(0), 10)
    progress.processed(0, 3)  # a redelivery does not move it back
    assert progress.next_offset(0) == 10
    assert not PartitionProgress.caught_up(progress.next_offset(0), None)  # end unknown
    assert not PartitionProgress.caught_up(progress.next_offset(0), 11)  # a new record


def test_a_score_older_than_the_last_assessed_is_assessed_at_the_latest_as_of() -> None:
    """The score stream never goes back, but should an older as_of come (a restart that lost
    the newest), its figures are the newest: the alert must react, not drop it as stale."""
    settings = Settings()
    assessment = Assessment(level=LevelTracker(), alerts=AlertTracker(settings.alert_rules()))
    profile = {"target_level": "engaging"}
    late = datetime(2026, 3, 18, 14, 30, tzinfo=UTC)
    _, fired = assess(settings, assessment, score(late, interact=30), profile)
    assert [(t.alert, t.component, t.status) for t in fired] == [
        ("component_below_threshold", "interact", "firing")
    ]
    earlier = datetime(2026, 3, 18, 9, 0, tzinfo=UTC)
    _, resolved = assess(settings, assessment, score(earlier, interact=70), profile)
    assert [(t.component, t.status) for t in resolved] == [("interact", "resolved")]
    assert resolved[0].at == int(late.timestamp())
    assert assessment.as_of == int(late.timestamp())


def test_a_partition_read_in_a_burst_is_published_when_read_to_its_end() -> None:
    pacer = EmitPacer(max_delay=5.0)
    assert pacer.ready(0, 100, 100, now=0.0)  # caught up
    assert not pacer.ready(0, 120, 400, now=0.2)  # a burst arrived, being read
    assert not pacer.ready(0, 250, 400, now=0.4)
    assert pacer.ready(0, 400, 400, now=0.6)  # read to its end


def test_a_partition_with_nothing_processed_since_the_last_tick_is_published() -> None:
    """What is left below the end offset is no data (a transaction's commit marker)."""
    pacer = EmitPacer(max_delay=5.0)
    assert not pacer.ready(1, 99, 100, now=0.0)  # first look: unknown whether it moves
    assert pacer.ready(1, 99, 100, now=0.2)  # it did not: the gap is not data


def test_a_long_burst_is_still_published_every_max_delay() -> None:
    pacer = EmitPacer(max_delay=5.0)
    offset, published = 0, []
    for tick in range(40):  # 8 s of reading, 0.2 s apart, never at the end
        offset += 1000
        if pacer.ready(2, offset, 10**9, now=tick * 0.2):
            published.append(round(tick * 0.2, 1))
    assert published == [5.0]
    assert not pacer.ready(3, 10, 20, now=4.9)  # partitions are paced apart
