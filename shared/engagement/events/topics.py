"""Kafka topic names and CloudEvents `type` strings of the contract.

They are plain constants in one module so the stream processor, the simulator, the contract
generator and the tests can never drift apart by a typo. Topic names are the defaults; the
deployment may override them through configuration, the type strings are fixed (a new version of a
payload gets a new `.vN` type).
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACCOUNT_CREATED_TYPE",
    "ACCOUNT_DELETED_TYPE",
    "ACTIVITY_DLQ_TOPIC",
    "ACTIVITY_TOPIC",
    "ALERTS_TOPIC",
    "ALERT_TYPE",
    "BENCHMARKS_TOPIC",
    "BENCHMARK_UPDATED_TYPE",
    "CONTENT_PUBLISHED_TYPE",
    "CONTENT_VIEWED_TYPE",
    "INTERACTION_TYPE",
    "LEVEL_CHANGED_TYPE",
    "LEVEL_CHANGES_TOPIC",
    "MONTHLY_TOPIC",
    "MONTH_CLOSED_TYPE",
    "ORG_PROFILES_TOPIC",
    "ORG_PROFILE_TYPE",
    "OUTPUT_TOPIC_BY_TYPE",
    "SCORES_TOPIC",
    "SCORE_UPDATED_TYPE",
    "VISIT_TYPE",
    "benchmark_key",
]

# --- input topics -------------------------------------------------------------------------------
ACTIVITY_TOPIC: Final = "intranet.activity"
ORG_PROFILES_TOPIC: Final = "intranet.org-profiles"
ACTIVITY_DLQ_TOPIC: Final = "intranet.activity.dlq"

# --- input types --------------------------------------------------------------------------------
ACCOUNT_CREATED_TYPE: Final = "intranet.account.created.v1"
ACCOUNT_DELETED_TYPE: Final = "intranet.account.deleted.v1"
VISIT_TYPE: Final = "intranet.visit.v1"
CONTENT_PUBLISHED_TYPE: Final = "intranet.content.published.v1"
CONTENT_VIEWED_TYPE: Final = "intranet.content.viewed.v1"
INTERACTION_TYPE: Final = "intranet.interaction.v1"
ORG_PROFILE_TYPE: Final = "intranet.org.profile.v1"

# --- output topics ------------------------------------------------------------------------------
SCORES_TOPIC: Final = "engagement.scores"
MONTHLY_TOPIC: Final = "engagement.monthly"
LEVEL_CHANGES_TOPIC: Final = "engagement.level-changes"
ALERTS_TOPIC: Final = "engagement.alerts"
BENCHMARKS_TOPIC: Final = "engagement.benchmarks"

# --- output types -------------------------------------------------------------------------------
SCORE_UPDATED_TYPE: Final = "engagement.score.updated.v1"
MONTH_CLOSED_TYPE: Final = "engagement.month.closed.v1"
LEVEL_CHANGED_TYPE: Final = "engagement.level.changed.v1"
ALERT_TYPE: Final = "engagement.alert.v1"
BENCHMARK_UPDATED_TYPE: Final = "engagement.benchmark.updated.v1"

#: Where each output type is published (default topic names).
OUTPUT_TOPIC_BY_TYPE: Final[dict[str, str]] = {
    SCORE_UPDATED_TYPE: SCORES_TOPIC,
    MONTH_CLOSED_TYPE: MONTHLY_TOPIC,
    LEVEL_CHANGED_TYPE: LEVEL_CHANGES_TOPIC,
    ALERT_TYPE: ALERTS_TOPIC,
    BENCHMARK_UPDATED_TYPE: BENCHMARKS_TOPIC,
}


def benchmark_key(sector: str, size_band: str, platform_type: str) -> str:
    """Kafka key of a benchmark group: `sector|size_band|platform_type`.

    Benchmarks are the one output not keyed by org_id; a single string key keeps the topic
    compactable per group (the latest figures of a group replace the previous ones).
    """
    return f"{sector}|{size_band}|{platform_type}"


#: Base of the payload schemas' ``$id`` and of the outputs' ``ce_dataschema``: a URN by default
#: (a name, not a location); a base URL ending in "/" gives ``<base><type>.json``.
SCHEMA_BASE_URL = "urn:engagement-score:schema:"


def schema_id(event_type: str, base: str = SCHEMA_BASE_URL) -> str:
    """The ``$id`` of a payload schema (and the ``ce_dataschema`` of an output event)."""
    return f"{base}{event_type}.json" if base.endswith("/") else f"{base}{event_type}"
