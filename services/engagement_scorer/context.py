"""What every loop and view of one worker shares, typed: ``WorkerContext``.

Settings, the Faust app, its topics and tables, the metrics, the clock, the progress
trackers, and the stages (each built on the narrow seams of ``ports``, so a unit test builds
a stage on dicts and fakes without this). Only the composition root (``app.create_app``)
builds one; nothing here reaches Kafka by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import faust
from faust.types import TableT, TopicT

from engagement.logging import RateLimitedLog
from engagement.settings import Settings

from .assess import AssessingStage, Assessments
from .benchmarking import BenchmarkingStage
from .breakdown_store import Breakdowns
from .changelog import ChangelogWriter
from .clock import WorkerClock
from .dataplane import ActivityPlane
from .emitter import ScoreEmitter
from .history import History
from .metrics import ScorerMetrics
from .ports import Partitions
from .progress import Progress
from .read_model import ReadModel
from .scoring import ScoringStage
from .sending import TopicSender
from .state import OrgStates, StateTables

__all__ = ["Topics", "WorkerContext", "WorkerTables"]


@dataclass(frozen=True, slots=True)
class Topics:
    """The Faust topics, by role. All but ``peer`` and ``clock`` carry raw bytes."""

    activity: TopicT
    profiles: TopicT
    dead_letter: TopicT
    scores: TopicT
    monthly: TopicT
    level_changes: TopicT
    alerts: TopicT
    benchmarks: TopicT
    peer: TopicT  # internal: score figures re-keyed by peer group (json)
    clock: TopicT  # internal: live-clock ticks, one per owned partition (json)

    def outputs(self) -> dict[str, TopicT]:
        """Topic name -> topic, for the topics an ``Outgoing`` names."""
        return {
            t.get_topic_name(): t
            for t in (
                self.dead_letter,
                self.scores,
                self.monthly,
                self.level_changes,
                self.alerts,
                self.benchmarks,
            )
        }


@dataclass(frozen=True, slots=True)
class WorkerTables:
    """The Faust tables. Keys are raw UTF-8 and co-partitioned with the input topics."""

    state: StateTables  # the first stage's: orgs, accounts, messages, reads, profiles
    orgs: TableT  # = state.orgs, typed as a Faust table (on_recover, changelog topic)
    assessments: TableT  # org_id -> second-stage record (``assess.Assessment``)
    peers: TableT  # group\x1forg -> component values (benchmark stage)
    benchmarks: TableT  # GlobalTable: group -> published benchmark (every worker reads it)
    history_days: TableT  # org\x1fday -> day-end figures; org -> span (``history``)
    history_months: TableT  # org\x1fmonth -> closed-month figures; org -> span
    breakdowns: TableT  # org\x1f<fact> -> the breakdowns' facts (``breakdown_store``)


@dataclass(slots=True)
class WorkerContext:
    settings: Settings
    app: faust.App
    topics: Topics
    tables: WorkerTables
    metrics: ScorerMetrics
    bad_input_log: RateLimitedLog
    clock: WorkerClock
    partitions: Partitions
    progress: Progress
    states: OrgStates  # the organisation states this worker owns
    read_model: ReadModel
    emitter: ScoreEmitter
    scoring: ScoringStage
    assessments: Assessments
    assessing: AssessingStage
    benchmarking: BenchmarkingStage
    sender: TopicSender  # every output record goes out here
    changelog: ChangelogWriter  # the first stage's table writes, a batch at a time
    assessed_changelog: ChangelogWriter  # the second stage's, a batch of score events at a time
    benchmark_changelog: ChangelogWriter  # the benchmark stage's, a batch of peer figures
    plane: ActivityPlane  # the activity topic's batch data plane
    history: History  # day-end and closed-month figures (``history``)
    breakdowns: Breakdowns  # the breakdowns of the owned organisations
