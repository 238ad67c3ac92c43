"""All configuration in one typed place: environment variables (``ENGAGEMENT_*``) and ``.env``.

Every value the worker, the simulator and the batch command use comes from here, so there is
one source of truth and one page of documentation (``.env.example``).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .domain import COMPONENTS, AlertRules, ScoringRules
from .events import topics

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ENGAGEMENT_", env_file=".env", extra="ignore", env_nested_delimiter="__"
    )

    # --- Kafka -------------------------------------------------------------------------------
    kafka_bootstrap: str = Field("127.0.0.1:9092", description="host:port[,host:port]")
    app_id: str = Field("engagement-scorer", description="Faust app id = consumer group")
    activity_topic: str = Field(
        topics.ACTIVITY_TOPIC, description="input: intranet activity events"
    )
    profiles_topic: str = Field(
        topics.ORG_PROFILES_TOPIC, description="input: organisation profiles (compacted)"
    )
    dead_letter_topic: str = Field(
        topics.ACTIVITY_DLQ_TOPIC, description="output: input records that break the contract"
    )
    scores_topic: str = Field(topics.SCORES_TOPIC, description="output: score updates")
    monthly_topic: str = Field(topics.MONTHLY_TOPIC, description="output: closed months")
    level_changes_topic: str = Field(
        topics.LEVEL_CHANGES_TOPIC, description="output: operating level changes"
    )
    alerts_topic: str = Field(topics.ALERTS_TOPIC, description="output: adoption alerts")
    benchmarks_topic: str = Field(
        topics.BENCHMARKS_TOPIC, description="output: peer-group benchmarks"
    )
    topic_partitions: int = Field(4, ge=1, description="partitions of input topics and tables")

    # --- topic settings for a production cluster (engagement.kafka_admin; README Operations)
    topic_replication_factor: int = Field(
        1,
        ge=1,
        description="replicas of every topic the service creates: outputs, dead-letter topic, "
        "internal topics and table changelogs (production: 3; 1 for a single local broker)",
    )
    topic_min_insync_replicas: int | None = Field(
        None,
        ge=1,
        description="min.insync.replicas set on the service's own topics (unset: the broker's "
        "default). Producers write with acks=all, so each write needs this many replicas; at "
        "most the replication factor (production: 2 with replication 3)",
    )
    alerts_retention_days: int = Field(
        400, ge=-1, description="retention of engagement.alerts (-1: forever)"
    )
    level_changes_retention_days: int = Field(
        400, ge=-1, description="retention of engagement.level-changes (-1: forever)"
    )
    dead_letter_retention_days: int = Field(
        30, ge=-1, description="retention of the dead-letter topic (-1: forever)"
    )
    topic_config_check: Literal["fail", "warn", "off"] = Field(
        "fail",
        description="at start-up, compare the broker's topics with these settings (replication, "
        "min.insync.replicas, cleanup policy, retention): fail = refuse to start, warn = log",
    )

    # --- Kafka security (engagement.kafka_security; docs/reliability.md) -------------------
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="how the clients talk to the brokers (SSL: TLS; SASL_*: login)"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism (SASL_* protocols only)"
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name")
    kafka_sasl_password: SecretStr | None = Field(
        None, description="SASL password (secret: never logged)"
    )
    kafka_ssl_cafile: Path | None = Field(
        None, description="CA bundle (PEM) of the brokers' certificates (default: system CAs)"
    )
    kafka_ssl_certfile: Path | None = Field(None, description="client certificate (mutual TLS)")
    kafka_ssl_keyfile: Path | None = Field(
        None, description="private key (PEM) of the client certificate"
    )
    kafka_ssl_key_password: SecretStr | None = Field(
        None, description="password of the private key, if encrypted (secret)"
    )
    kafka_ssl_check_hostname: bool = Field(
        True, description="check that the broker certificate matches its host name"
    )

    # --- worker --------------------------------------------------------------------------------
    web_host: str = Field(
        "127.0.0.1",
        description="address the API listens on and advertises to the other workers: it must "
        "be routable from them (a pod IP or a headless Service DNS name in Kubernetes)",
    )
    web_port: int = Field(
        6066, ge=1, le=65535, description="port of the API, /metrics and the pages"
    )
    data_dir: Path = Field(
        Path(".data"), description="where table state lives (rocksdb://: keep it on a volume)"
    )
    store: str = Field("memory://", description="Faust table store: memory:// or rocksdb://")
    standby_replicas: int = Field(
        1, ge=0, description="warm copies of each table partition kept on other workers"
    )
    output_source: str = Field(
        "urn:engagement-score:scorer", description="CloudEvents source of every output event"
    )
    producer_linger_seconds: float = Field(
        0.005, ge=0, description="batch changelog/output sends: fewer, larger produce requests"
    )
    consumer_fetch_max_wait_ms: int = Field(
        50,
        ge=0,
        le=60_000,
        description="longest the broker holds a fetch for partitions with nothing new: the "
        "consumer has one fetch in flight per broker, so a long one delays the busy partitions "
        "(Faust's own value, 1500, idled the worker a third of a backlog)",
    )
    batch_data_plane: bool = Field(
        True,
        description="apply the activity and score topics a fetched batch per partition at a "
        "time (false: Faust's per-record agents; same results, ~20x slower)",
    )
    batch_max_records: int = Field(
        2000,
        ge=1,
        description="most records applied in one data-plane batch (activity and score topics)",
    )
    rocksdb_write_buffer_bytes: int = Field(
        4 * 1024 * 1024,
        ge=1024 * 1024,
        description="RocksDB memtable size per table partition (Faust's default, 64 MiB x3, "
        "costs hundreds of bytes of memory per tracked account)",
    )
    schema_base_url: str = Field(
        "urn:engagement-score:schema:",
        min_length=1,
        description="base of the ce_dataschema header of every output event: the $id of its "
        "payload schema (a URN by default; a URL ending in / gives <base><type>.json)",
    )
    producer_max_batch_size: int = Field(
        512 * 1024,
        ge=16 * 1024,
        description="bytes per producer batch and partition (changelog records of a data-plane "
        "batch go out in few produce requests; at most the broker's message.max.bytes)",
    )
    emit_interval_seconds: float = Field(
        1.0, gt=0, description="debounce: at most one score event per org per interval"
    )
    burst_emit_max_delay_seconds: float = Field(
        5.0,
        gt=0,
        description="while a partition is read in a burst (a backlog, an export), its scores "
        "are published at each local day's end, when it is read to its end, and at least "
        "this often",
    )
    live_clock: bool = Field(
        True,
        description="move windows with the wall clock too (off: pure event time, for replays)",
    )
    clock_tick_seconds: float = Field(
        30.0,
        gt=0,
        description="how often the live clock moves the organisations of caught-up partitions "
        "to the wall clock (closing their due months)",
    )
    profile_read_ahead_seconds: float = Field(
        30.0,
        ge=0,
        description="after a rebalance, read the owned profiles before any activity for at "
        "most this long (0: off); see engagement_scorer.profiles",
    )
    clock_offset_seconds: int = Field(
        0, description="shift the live clock (demos, tests of what days of silence do)"
    )
    clock_start: datetime | None = Field(
        None,
        description="the worker's clock reads this moment (ISO 8601 with offset) when the "
        "worker starts and advances in real time from there (tests, demos; unset: the system "
        "clock). The offset applies on top.",
    )
    max_future_seconds: int = Field(300, ge=0, description="event time tolerance into the future")
    max_event_bytes: int = Field(
        256 * 1024, ge=1024, description="larger input records are dead-lettered (oversized)"
    )

    # --- HTTP API ------------------------------------------------------------------------------
    api_token: SecretStr | None = Field(
        None, description="bearer token the API requires (unset: no authentication)"
    )
    api_open_paths: list[str] = Field(
        default_factory=lambda: ["/health", "/ready"],
        description="paths served without the token ('/x/' or '/x/*': everything under /x/)",
    )

    # --- counting rules ----------------------------------------------------------------------
    window_days: int = Field(30, ge=1, description="length of the rolling window, in local days")
    grace_seconds: int = Field(
        3600, ge=0, description="how late an event may arrive for a closed day or month"
    )
    included_kinds: list[str] = Field(
        ["member"], description="account kinds that count (JSON list of member, guest, system)"
    )
    weights: dict[str, float] = Field(
        default_factory=lambda: dict.fromkeys(COMPONENTS, 1.0),
        description="weight of each component in the Engagement Score (JSON object)",
    )

    # --- levels, alerts, benchmarks ----------------------------------------------------------
    level_sustain_seconds: int = Field(
        7 * 86_400, ge=0, description="a new level must be the best fit this long (event time)"
    )
    level_min_margin: float = Field(5.0, ge=0, description="... by at least this many points")
    score_drop_points: float = Field(10.0, gt=0, description="alert: score down vs 7 days ago")
    below_target_seconds: int = Field(
        14 * 86_400, ge=0, description="alert: below the target level this long (event time)"
    )
    benchmark_min_group_size: int = Field(5, ge=1, description="k: smaller groups are hidden")

    # --- history -------------------------------------------------------------------------------
    history_retention_days: int = Field(
        400, ge=1, description="local days of day-end (and closed-month) history kept per org"
    )

    # --- metrics -------------------------------------------------------------------------------
    org_metrics_cap: int = Field(
        200,
        ge=0,
        description="organisations with their own Prometheus series (the rest only "
        "in aggregates; engagement_org_series_capped says when the cap is hit)",
    )

    # --- logging -------------------------------------------------------------------------------
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="log level of the worker, the simulator and the batch command"
    )
    log_format: Literal["json", "console"] = Field(
        "json", description="json: one object per line; console: for people"
    )

    @field_validator("included_kinds")
    @classmethod
    def _known_kinds(cls, value: list[str]) -> list[str]:
        unknown = set(value) - {"member", "guest", "system"}
        if unknown:
            raise ValueError(f"unknown account kinds: {sorted(unknown)}")
        return value

    def topic_names(self) -> dict[str, str]:
        """Every topic the service reads or writes, role -> name, inputs first.

        The one list of them: whatever needs all the topics (creating a test's or a benchmark
        run's own set, pointing a worker at it) iterates this instead of repeating the fields.
        A role is its field's name without ``_topic``, so role ``dead_letter`` is
        ``dead_letter_topic``, set by ``ENGAGEMENT_DEAD_LETTER_TOPIC``.
        """
        fields = type(self).model_fields
        return {
            name.removesuffix("_topic"): getattr(self, name)
            for name in fields
            if name.endswith("_topic")
        }

    def scoring_rules(self) -> ScoringRules:
        return ScoringRules(
            window_days=self.window_days,
            grace_seconds=self.grace_seconds,
            included_kinds=frozenset(self.included_kinds),
            weights=dict(self.weights),
        )

    def alert_rules(self) -> AlertRules:
        return AlertRules(
            score_drop_points=self.score_drop_points,
            score_drop_critical_points=max(self.score_drop_points, 20.0),
            below_target_seconds=self.below_target_seconds,
        )

    @property
    def broker_url(self) -> str:
        return ";".join(f"kafka://{hp.strip()}" for hp in self.kafka_bootstrap.split(","))
