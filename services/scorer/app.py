"""The Faust app of the scorer: topics, tables and the wiring of agents and views.

``create_app(settings)`` builds everything without connecting anywhere; the worker connects
when started (``python -m scorer``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import faust
import structlog
from faust.sensors.prometheus import setup_prometheus_sensors
from prometheus_client import REGISTRY, CollectorRegistry

from engagement.kafka_security import KafkaSecurity, broker_credentials
from engagement.logging import RateLimitedLog, configure_structlog, logging_config
from engagement.settings import Settings

from .assess import Assessments, Benchmarks
from .clock import WorkerClock
from .metrics import ScorerMetrics
from .progress import EmitPacer, PartitionProgress
from .security import ApiAuth, api_auth_middleware, settings_for_log
from .state import OrgRegistry, StateTables, partition_of

__all__ = ["Scorer", "create_app"]

log = structlog.get_logger("scorer")


@dataclass
class Scorer:
    """Everything the agents and views share."""

    settings: Settings
    app: faust.App
    activity_topic: Any
    profiles_topic: Any
    dead_letter_topic: Any
    scores_topic: Any
    monthly_topic: Any
    level_changes_topic: Any
    alerts_topic: Any
    benchmarks_topic: Any
    peer_topic: Any  # internal: score figures re-keyed by peer group
    clock_topic: Any  # internal: live-clock ticks, one per owned partition (agents.clock_ticks)
    tables: StateTables
    assessment_table: Any
    peers_table: Any  # group\x1forg -> component values
    benchmark_table: Any  # GlobalTable: group -> published benchmark (every worker reads it)
    assessments: Assessments
    benchmarks: Benchmarks
    registry: OrgRegistry
    metrics: ScorerMetrics
    bad_input_log: RateLimitedLog
    clock: WorkerClock
    progress: PartitionProgress  # how far each activity partition has been processed
    score_progress: PartitionProgress  # how far the second stage has read the score topic
    profile_progress: PartitionProgress  # how far the profiles agent has read its topic
    pacer: EmitPacer  # when a partition's changed organisations may be published
    dirty: set[str] = field(default_factory=set)  # orgs with changes to publish
    last_digest: dict[str, str] = field(default_factory=dict)
    last_published: dict[str, Any] = field(default_factory=dict)  # org -> last ScoreUpdated
    #: org -> the as_of of its last published score: published as_of never goes back
    published_as_of: dict[str, int] = field(default_factory=dict)
    #: orgs restored by the last rebuild: published before, by this worker or another, so
    #: their last published as_of is known only once the second stage has read that far
    awaiting_sync: set[str] = field(default_factory=set)
    #: score partition -> the end offset the second stage must reach (taken after the rebuild)
    sync_targets: dict[int, int] = field(default_factory=dict)

    def live_now(self) -> int:
        """The moment the live clock reports (0 when off: pure event time)."""
        return self.clock.now() if self.settings.live_clock else 0

    def as_of_now(self, org_id: str, state_as_of: int) -> int:
        """The as_of an organisation's figures are published and answered at now: its state's
        as_of (event time, moved on by the live clock), never before the last published one
        (section 6, published time never goes back). Before this worker published the
        organisation, the last published one is the latest the second stage assessed (the
        emitter waits for the second stage to catch up first: ``agents.emit_scores``)."""
        published = self.published_as_of.get(org_id)
        if published is None:
            published = self.assessments.last_as_of(org_id)
        return max(state_as_of, published)

    def owns(self, org_id: str) -> bool:
        """True when this worker holds the active partition of ``org_id``."""
        partition = partition_of(org_id, self.settings.topic_partitions)
        topic = self.settings.activity_topic
        return any(
            tp.topic == topic and tp.partition == partition
            for tp in self.app.assignor.assigned_actives()
        )


def _raw_topic(app: faust.App, name: str, partitions: int, **kw: Any) -> Any:
    """Bytes in, bytes out: decoding and validation are ours, so bad input can't crash."""
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
        **kw,
    )


def create_app(settings: Settings | None = None, registry: CollectorRegistry = REGISTRY) -> Scorer:
    settings = settings or Settings()
    s = settings
    configure_structlog()
    app = faust.App(
        s.app_id,
        broker=s.broker_url,
        store=s.store,
        datadir=str(s.data_dir),
        autodiscover=False,
        web_enabled=True,
        web_host=s.web_host,
        web_port=s.web_port,
        web_bind=s.web_host,
        canonical_url=f"http://{s.web_host}:{s.web_port}",
        web_tables_enabled=False,  # never expose raw table data over HTTP
        table_standby_replicas=s.standby_replicas,
        topic_partitions=s.topic_partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="json",
        processing_guarantee="at_least_once",  # exactly_once fails: docs/reliability.md
        broker_credentials=broker_credentials(KafkaSecurity.from_settings(s)),
        web_application_options={"middlewares": [api_auth_middleware(ApiAuth.from_settings(s))]},
        producer_acks=-1,
        producer_linger=s.producer_linger_seconds,
        logging_config=logging_config(s.log_level, s.log_format),
        loghandlers=[],
    )

    @app.task
    async def log_settings() -> None:
        log.info("worker settings", settings=settings_for_log(s))

    n = s.topic_partitions
    clock = WorkerClock.from_settings(s)
    tables = StateTables(
        # Keys are raw UTF-8 (the app's key serializer) and every table is co-partitioned with
        # the input topics (murmur2 of the org id: ``partition_of``). The API routes requests to
        # the owning worker by that partition (views.org_route), not with Faust's table_route.
        orgs=app.Table("orgs", partitions=n, key_type=str),
        accounts=app.Table("accounts", partitions=n, key_type=str),
        messages=app.Table("messages", partitions=n, key_type=str),
        reads=app.Table("reads", partitions=n, key_type=str),
        profiles=app.Table("profiles", partitions=n, key_type=str),
    )
    assessment_table = app.Table("assessments", partitions=n, key_type=str)
    scorer = Scorer(
        settings=s,
        app=app,
        activity_topic=_raw_topic(app, s.activity_topic, n),
        profiles_topic=_raw_topic(app, s.profiles_topic, n),
        dead_letter_topic=_raw_topic(app, s.dead_letter_topic, n),
        scores_topic=_raw_topic(app, s.scores_topic, n),
        monthly_topic=_raw_topic(app, s.monthly_topic, n),
        level_changes_topic=_raw_topic(app, s.level_changes_topic, n),
        alerts_topic=_raw_topic(app, s.alerts_topic, n),
        benchmarks_topic=_raw_topic(app, s.benchmarks_topic, n),
        peer_topic=app.topic(
            f"{s.app_id}-peer-figures",
            key_type=str,
            value_serializer="json",
            partitions=n,
            internal=True,
        ),
        clock_topic=app.topic(
            f"{s.app_id}-clock",
            key_type=bytes,
            key_serializer="raw",
            value_serializer="json",
            partitions=n,
            internal=True,
        ),
        tables=tables,
        assessment_table=assessment_table,
        peers_table=app.Table("peers", partitions=n, key_type=str),
        benchmark_table=app.GlobalTable("benchmarks", partitions=n, key_type=str),
        assessments=Assessments(s, assessment_table),
        benchmarks=Benchmarks(s, clock),
        registry=OrgRegistry(s.scoring_rules(), tables, n),
        metrics=ScorerMetrics(registry),
        bad_input_log=RateLimitedLog(log),
        clock=clock,
        progress=PartitionProgress(),
        score_progress=PartitionProgress(),
        profile_progress=PartitionProgress(),
        pacer=EmitPacer(s.burst_emit_max_delay_seconds),
    )
    setup_prometheus_sensors(app, registry=registry, name_prefix="engagement_faust")
    from .org_metrics import for_scorer

    registry.register(for_scorer(scorer, cap=s.org_metrics_cap))

    from .agents import register_agents
    from .ui_views import register_ui
    from .views import register_views

    register_agents(scorer)
    register_views(scorer)
    register_ui(scorer)
    return scorer
