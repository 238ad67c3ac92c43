"""Synthetic intranet traffic: the simulator's public names, where callers import them from.

A facade: the simulator is split by concept into :mod:`.world` (archetypes, organisations,
accounts), :mod:`.behaviour` (shared random draws), :mod:`.events` (typed events and their
encoding), :mod:`.backfill` (one organisation's history), :mod:`.generate` (the whole log),
:mod:`.live` (live traffic) and :mod:`.files` (JSON lines). Tests, scripts and the CLI import
``from engagement_simulator.traffic import generate, SimulatedLog, LiveTraffic, read_jsonl, ...``.
"""

from __future__ import annotations

from .events import STRUCTURED_FRACTION, SimEvent
from .files import read_jsonl, to_jsonl, write_jsonl
from .generate import DEFAULT_EVENTS_PER_ACCOUNT_DAY, MAX_DISORDER_SECONDS, SimulatedLog, generate
from .live import LiveTraffic
from .world import ARCHETYPES, LEVELS, RECENT_MESSAGES, SECTORS, TIMEZONES, Archetype

__all__ = [
    "ARCHETYPES",
    "DEFAULT_EVENTS_PER_ACCOUNT_DAY",
    "LEVELS",
    "MAX_DISORDER_SECONDS",
    "RECENT_MESSAGES",
    "SECTORS",
    "STRUCTURED_FRACTION",
    "TIMEZONES",
    "Archetype",
    "LiveTraffic",
    "SimEvent",
    "SimulatedLog",
    "generate",
    "read_jsonl",
    "to_jsonl",
    "write_jsonl",
]
