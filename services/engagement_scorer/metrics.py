"""The service's own Prometheus series (Faust's sensor adds the transport-level ones).

Naming follows Prometheus practice: ``engagement_`` prefix, base units, ``_total`` counters.
Created once per process in ``ScorerMetrics`` so tests can use a private registry.

``engagement_build_info{version,python_version}`` is 1 (the Prometheus "info" pattern): join it
on ``instance`` to see which version each worker runs (the service dashboard does).
"""

from __future__ import annotations

import platform
from importlib import metadata
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

if TYPE_CHECKING:
    from .state import OrgStates

__all__ = ["DISTRIBUTION", "ScorerMetrics", "build_version"]

#: The project's distribution name (pyproject.toml), whose version ``engagement_build_info``
#: reports.
DISTRIBUTION = "engagement-score"


def build_version() -> str:
    """The installed version of the project ("unknown" when run from an uninstalled tree)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown"


class ScorerMetrics:
    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.events_processed = Counter(
            "engagement_events_processed_total",
            "Activity events accepted and applied, by CloudEvents type.",
            ["type"],
            registry=registry,
        )
        self.dead_lettered = Counter(
            "engagement_events_dead_lettered_total",
            "Input records sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=registry,
        )
        self.profiles_rejected = Counter(
            "engagement_org_profiles_rejected_total",
            "Org profile records refused (not dead-lettered: the compacted topic keeps them).",
            ["reason"],
            registry=registry,
        )
        self.late_events = Counter(
            "engagement_late_events_total",
            "Events older than every window and open month (also dead-lettered as 'late').",
            registry=registry,
        )
        self.after_deletion = Counter(
            "engagement_events_after_deletion_total",
            "Events of accounts already deleted: deletion is final, they change nothing.",
            registry=registry,
        )
        self.outputs = Counter(
            "engagement_outputs_emitted_total",
            "Output events published, by topic.",
            ["topic"],
            registry=registry,
        )
        self.tracked_accounts = Gauge(
            "engagement_tracked_accounts",
            "Accounts held in state on this worker (existing, plus deletion tombstones).",
            registry=registry,
        )
        self.tracked_messages = Gauge(
            "engagement_tracked_messages",
            "Channel messages held in state on this worker (inside a window or an open month).",
            registry=registry,
        )
        self.tracked_reads = Gauge(
            "engagement_tracked_reads",
            "Distinct (message, reader) reads held in state on this worker.",
            registry=registry,
        )
        self.tracked_orgs = Gauge(
            "engagement_tracked_organisations",
            "Organisations whose partitions this worker owns.",
            registry=registry,
        )
        self.build_info = Gauge(
            "engagement_build_info",
            "1, labelled with the worker's version and Python version.",
            ["version", "python_version"],
            registry=registry,
        )
        self.build_info.labels(
            version=build_version(), python_version=platform.python_version()
        ).set(1)
        self._processed_children: dict[str, Any] = {}
        self.recovery_seconds = Gauge(
            "engagement_state_recovery_seconds",
            "Seconds the last rebuild of in-memory state from the tables took.",
            registry=registry,
        )

    def set_tracked(self, states: OrgStates) -> None:
        """Refresh the state-size gauges from the worker's ``OrgStates``."""
        self.tracked_orgs.set(len(states.orgs))
        self.tracked_accounts.set(states.tracked_accounts())
        self.tracked_messages.set(states.tracked_messages())
        self.tracked_reads.set(states.tracked_reads())

    def processed(self, event_type: str) -> Any:
        """The per-type child of ``events_processed`` (cached: ``labels()`` is per event)."""
        child = self._processed_children.get(event_type)
        if child is None:
            child = self._processed_children[event_type] = self.events_processed.labels(
                type=event_type
            )
        return child
