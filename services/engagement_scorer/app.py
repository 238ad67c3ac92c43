"""The composition root of the worker: the Faust app, its topics and tables, the stages and
the context they share, and the registration of agents, views, pages and metrics.

``create_app(settings)`` builds everything without connecting anywhere; the worker connects
when started (``python -m engagement_scorer``, the only importer of this module).
"""

from __future__ import annotations

from typing import Any

import faust
import structlog
from faust.sensors.prometheus import setup_prometheus_sensors
from faust.types import TableT, TopicT
from prometheus_client import REGISTRY, CollectorRegistry

from engagement.kafka_security import KafkaSecurity, broker_credentials
from engagement.logging import RateLimitedLog, configure_structlog, logging_config
from engagement.settings import Settings

from .agents import register_agents
from .assess import AssessingStage, Assessments
from .assess_plane import AssessPlane
from .benchmarking import BenchmarkingStage
from .breakdown_store import Breakdowns
from .changelog import ChangelogWriter
from .clock import WorkerClock
from .context import Topics, WorkerContext, WorkerTables
from .dataplane import ActivityPlane, DataPlaneMetrics
from .diagnostics import install_dump_on_signal
from .emitter import ScoreEmitter
from .history import History, HistoryTables
from .history_views import register_history_views
from .metrics import ScorerMetrics
from .org_metrics import for_read_model
from .own_scores import PublishedScores
from .partitions import FaustPartitions
from .peer_plane import PeerPlane
from .progress import EmitPacer, Progress
from .publish import set_schema_base
from .read_model import ReadModel
from .scoring import ScoringStage
from .security import ApiAuth, api_auth_middleware, settings_for_log
from .sending import TopicSender
from .state import OrgStates, StateTables
from .transport import EngagementApp
from .ui_views import register_ui
from .views import register_views
from .writes import (
    BENCHMARK_TABLES,
    SECOND_STAGE_TABLES,
    TABLES,
    PendingTable,
    PendingWrites,
)

__all__ = ["create_app"]

log = structlog.get_logger("scorer")


def _raw_topic(app: faust.App, name: str, partitions: int) -> TopicT:
    """Bytes in, bytes out: decoding and validation are ours, so bad input can't crash."""
    return app.topic(
        name,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )


def _faust_app(s: Settings) -> EngagementApp:
    return EngagementApp(
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
        topic_replication_factor=s.topic_replication_factor,  # and kafka_admin.service_topics
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="json",
        processing_guarantee="at_least_once",  # exactly_once fails: docs/reliability.md
        broker_credentials=broker_credentials(KafkaSecurity.from_settings(s)),
        web_application_options={"middlewares": [api_auth_middleware(ApiAuth.from_settings(s))]},
        producer_acks=-1,
        producer_linger=s.producer_linger_seconds,
        producer_max_batch_size=s.producer_max_batch_size,
        logging_config=logging_config(s.log_level, s.log_format),
        loghandlers=[],
    )


def _topics(app: faust.App, s: Settings) -> Topics:
    n = s.topic_partitions
    return Topics(
        activity=_raw_topic(app, s.activity_topic, n),
        profiles=_raw_topic(app, s.profiles_topic, n),
        dead_letter=_raw_topic(app, s.dead_letter_topic, n),
        scores=_raw_topic(app, s.scores_topic, n),
        monthly=_raw_topic(app, s.monthly_topic, n),
        level_changes=_raw_topic(app, s.level_changes_topic, n),
        alerts=_raw_topic(app, s.alerts_topic, n),
        benchmarks=_raw_topic(app, s.benchmarks_topic, n),
        peer=app.topic(
            f"{s.app_id}-peer-figures",
            key_type=str,
            value_serializer="json",
            partitions=n,
            internal=True,
        ),
        clock=app.topic(
            f"{s.app_id}-clock",
            key_type=bytes,
            key_serializer="raw",
            value_serializer="json",
            partitions=n,
            internal=True,
        ),
    )


def _tables(app: faust.App, n: int, s: Settings) -> WorkerTables:
    # Keys are raw UTF-8 (the app's key serializer) and every table is co-partitioned with the
    # input topics (murmur2 of the org id: ``partition_of``). The API forwards requests to the
    # owning worker by that partition (views.org_route), not with Faust's table_route.
    # RocksDB memtables sized for many small keys, not Faust's 64 MiB x3 per partition
    rocks = {"write_buffer_size": s.rocksdb_write_buffer_bytes, "max_write_buffer_number": 2}

    def table(name: str) -> TableT:
        return app.Table(name, partitions=n, key_type=str, options=rocks)

    orgs = table("orgs")
    return WorkerTables(
        state=StateTables(
            orgs=orgs,
            accounts=table("accounts"),
            messages=table("messages"),
            reads=table("reads"),
            profiles=table("profiles"),
        ),
        orgs=orgs,
        assessments=table("assessments"),
        peers=table("peers"),
        benchmarks=app.GlobalTable("benchmarks", partitions=n, key_type=str),
        history_days=app.Table("history-days", partitions=n, key_type=str),
        history_months=app.Table("history-months", partitions=n, key_type=str),
        breakdowns=app.Table("breakdowns", partitions=n, key_type=str),
    )


def progress_facts(
    s: Settings, emitter: ScoreEmitter, progress: Progress, partitions: FaustPartitions
) -> dict[str, Any]:
    """The stages' progress, for the diagnostics dump: the second stage's next offset and
    committed offset per score partition, and what the first stage waits for."""
    return {
        "orgs_awaiting_second_stage": len(emitter.awaiting_sync),
        "score_offsets_awaited": dict(emitter.sync_targets),
        "scores_next": {p: progress.scores.next_offset(p) for p in range(s.topic_partitions)},
        "scores_committed": {
            p: partitions.committed(s.scores_topic, p) for p in range(s.topic_partitions)
        },
        "activity_next": {p: progress.activity.next_offset(p) for p in range(s.topic_partitions)},
    }


def create_app(
    settings: Settings | None = None, prometheus: CollectorRegistry = REGISTRY
) -> WorkerContext:
    """The worker, ready to start (``ctx.app.main()``). ``prometheus``: where the metrics
    are registered (a private registry in tests)."""
    s = settings or Settings()
    configure_structlog()
    set_schema_base(s.schema_base_url)
    app = _faust_app(s)
    app.fetch_max_wait_ms = s.consumer_fetch_max_wait_ms

    @app.task
    async def log_settings() -> None:
        log.info("worker settings", settings=settings_for_log(s))

    tables = _tables(app, s.topic_partitions, s)
    clock = WorkerClock.from_settings(s)
    partitions = FaustPartitions(app)
    progress = Progress()
    # the first stage's writes (its state, breakdowns, closed months) go out per batch
    writes = PendingWrites()
    states = OrgStates(s.scoring_rules(), tables.state, s.topic_partitions, writes)
    # the second stage's writes (assessments, day-end history) go out per score event,
    # after what the event caused is acknowledged (``agents.assess_scores``)
    assessed_writes = PendingWrites(SECOND_STAGE_TABLES)
    assessments = Assessments(s, PendingTable("assessments", assessed_writes, tables.assessments))
    history = History(
        HistoryTables(
            days=PendingTable("history-days", assessed_writes, tables.history_days),
            months=PendingTable("history-months", writes, tables.history_months),
        ),
        s.history_retention_days,
    )
    breakdowns = Breakdowns(s, PendingTable("breakdowns", writes, tables.breakdowns))
    read_model = ReadModel(
        tables.state.profiles,
        tables.benchmarks,
        assessments.announced_level,
        s.benchmark_min_group_size,
    )
    published = PublishedScores()  # the score records sent, for the second stage
    emitter = ScoreEmitter(
        s,
        states,
        read_model,
        assessments.last_as_of,
        partitions,
        progress,
        EmitPacer(s.burst_emit_max_delay_seconds),
        clock,
        published,
    )
    topics = _topics(app, s)
    metrics = ScorerMetrics(prometheus)
    bad_input_log = RateLimitedLog(log)
    scoring = ScoringStage(s, states, emitter, clock, partitions, progress, history, breakdowns)
    sender = TopicSender(topics.outputs(), metrics, bad_input_log)

    def producer() -> Any:  # the app's aiokafka producer: it exists only once the app runs
        return app.producer._ensure_producer()  # type: ignore[attr-defined]

    changelog = ChangelogWriter(
        {
            **{name: getattr(tables.state, name) for name in TABLES},
            "breakdowns": tables.breakdowns,
            "history-months": tables.history_months,
        },
        writes,
        producer,
    )
    assessed_changelog = ChangelogWriter(
        {"assessments": tables.assessments, "history-days": tables.history_days},
        assessed_writes,
        producer,
    )
    plane_metrics = DataPlaneMetrics(prometheus)
    plane = ActivityPlane(
        s.activity_topic,
        s.batch_max_records,
        scoring,
        changelog,
        sender,
        metrics,
        plane_metrics,
    )
    assess_plane = AssessPlane(
        s.scores_topic,
        s.batch_max_records,
        AssessingStage(s, assessments, tables.state.profiles, history, published),
        assessed_changelog,
        sender,
        topics.peer,
        progress.scores,
        bad_input_log,
    )
    # the benchmark stage's writes (peers, the global benchmarks table) go out per batch too
    benchmark_writes = PendingWrites(BENCHMARK_TABLES)
    benchmark_changelog = ChangelogWriter(
        {"peers": tables.peers, "benchmarks": tables.benchmarks}, benchmark_writes, producer
    )
    peer_plane = PeerPlane(
        topics.peer.get_topic_name(),
        s.batch_max_records,
        BenchmarkingStage(
            PendingTable("peers", benchmark_writes, tables.peers),
            PendingTable("benchmarks", benchmark_writes, tables.benchmarks),
            s.benchmark_min_group_size,
            s.benchmarks_topic,
            s.output_source,
        ),
        benchmark_changelog,
        sender,
        clock,
        bad_input_log,
    )
    if s.batch_data_plane:
        app.batch_planes = (plane, assess_plane, peer_plane)
        app.observe_batch = lambda name, seconds: plane_metrics.batch_seconds.labels(
            plane=name
        ).observe(seconds)

    @app.task
    async def dump_on_sigusr1() -> None:  # ``diagnostics``: what a stuck worker waits for
        install_dump_on_signal(
            app, sender, lambda: progress_facts(s, emitter, progress, partitions)
        )

    app.before_flush = sender.drained
    ctx = WorkerContext(
        settings=s,
        app=app,
        topics=topics,
        tables=tables,
        metrics=metrics,
        bad_input_log=bad_input_log,
        clock=clock,
        partitions=partitions,
        progress=progress,
        states=states,
        read_model=read_model,
        emitter=emitter,
        scoring=scoring,
        assessments=assessments,
        assessing=assess_plane.assessing,
        benchmarking=peer_plane.benchmarking,
        benchmark_changelog=benchmark_changelog,
        sender=sender,
        changelog=changelog,
        assessed_changelog=assessed_changelog,
        plane=plane,
        history=history,
        breakdowns=breakdowns,
    )
    setup_prometheus_sensors(app, registry=prometheus, name_prefix="engagement_faust")
    prometheus.register(
        for_read_model(
            read_model, lambda: states.orgs, s.org_metrics_cap, firing_of=assessments.firing
        )
    )
    register_agents(ctx)
    register_views(ctx)
    register_ui(ctx)
    register_history_views(ctx)
    return ctx
