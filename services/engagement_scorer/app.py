"""The composition root of the worker: the Faust app, its topics and tables, the stages and
the context they share, and the registration of agents, views, pages and metrics.

``create_app(settings)`` builds everything without connecting anywhere; the worker connects
when started (``python -m engagement_scorer``, the only importer of this module).
"""

from __future__ import annotations

import faust
import structlog
from faust.sensors.prometheus import setup_prometheus_sensors
from faust.types import TopicT
from prometheus_client import REGISTRY, CollectorRegistry

from engagement.kafka_security import KafkaSecurity, broker_credentials
from engagement.logging import RateLimitedLog, configure_structlog, logging_config
from engagement.settings import Settings

from .agents import register_agents
from .assess import AssessingStage, Assessments
from .benchmarking import BenchmarkingStage
from .clock import WorkerClock
from .context import Topics, WorkerContext, WorkerTables
from .emitter import ScoreEmitter
from .metrics import ScorerMetrics
from .org_metrics import for_read_model
from .partitions import FaustPartitions
from .progress import EmitPacer, Progress
from .read_model import ReadModel
from .scoring import ScoringStage
from .security import ApiAuth, api_auth_middleware, settings_for_log
from .state import OrgStates, StateTables
from .ui_views import register_ui
from .views import register_views

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


def _faust_app(s: Settings) -> faust.App:
    return faust.App(
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


def _tables(app: faust.App, n: int) -> WorkerTables:
    # Keys are raw UTF-8 (the app's key serializer) and every table is co-partitioned with the
    # input topics (murmur2 of the org id: ``partition_of``). The API forwards requests to the
    # owning worker by that partition (views.org_route), not with Faust's table_route.
    orgs = app.Table("orgs", partitions=n, key_type=str)
    return WorkerTables(
        state=StateTables(
            orgs=orgs,
            accounts=app.Table("accounts", partitions=n, key_type=str),
            messages=app.Table("messages", partitions=n, key_type=str),
            reads=app.Table("reads", partitions=n, key_type=str),
            profiles=app.Table("profiles", partitions=n, key_type=str),
        ),
        orgs=orgs,
        assessments=app.Table("assessments", partitions=n, key_type=str),
        peers=app.Table("peers", partitions=n, key_type=str),
        benchmarks=app.GlobalTable("benchmarks", partitions=n, key_type=str),
    )


def create_app(
    settings: Settings | None = None, prometheus: CollectorRegistry = REGISTRY
) -> WorkerContext:
    """The worker, ready to start (``ctx.app.main()``). ``prometheus``: where the metrics
    are registered (a private registry in tests)."""
    s = settings or Settings()
    configure_structlog()
    app = _faust_app(s)

    @app.task
    async def log_settings() -> None:
        log.info("worker settings", settings=settings_for_log(s))

    tables = _tables(app, s.topic_partitions)
    clock = WorkerClock.from_settings(s)
    partitions = FaustPartitions(app)
    progress = Progress()
    states = OrgStates(s.scoring_rules(), tables.state, s.topic_partitions)
    assessments = Assessments(s, tables.assessments)
    read_model = ReadModel(
        tables.state.profiles,
        tables.benchmarks,
        assessments.announced_level,
        s.benchmark_min_group_size,
    )
    emitter = ScoreEmitter(
        s,
        states,
        read_model,
        assessments.last_as_of,
        partitions,
        progress,
        EmitPacer(s.burst_emit_max_delay_seconds),
        clock,
    )
    ctx = WorkerContext(
        settings=s,
        app=app,
        topics=_topics(app, s),
        tables=tables,
        metrics=ScorerMetrics(prometheus),
        bad_input_log=RateLimitedLog(log),
        clock=clock,
        partitions=partitions,
        progress=progress,
        states=states,
        read_model=read_model,
        emitter=emitter,
        scoring=ScoringStage(s, states, emitter, clock, partitions, progress),
        assessments=assessments,
        assessing=AssessingStage(s, assessments, tables.state.profiles),
        benchmarking=BenchmarkingStage(
            tables.peers,
            tables.benchmarks,
            s.benchmark_min_group_size,
            s.benchmarks_topic,
            s.output_source,
        ),
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
    return ctx
