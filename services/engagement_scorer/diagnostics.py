"""What a stuck worker is waiting for: ``kill -USR1 <pid>`` logs it.

A worker that stops making progress without crashing (a partition waiting for the second
stage, a commit that never returns) leaves nothing in the logs by itself. On SIGUSR1 it logs
one ``diagnostics`` record: the consumer's flow and partition sets, aiokafka's position and
highwater of every input partition, which channel each partition's records go to, the
producer buffer and output outbox, the service's own progress (``extra``), and the await
chain of every asyncio task and of this project's coroutines (an agent's body sits behind
Faust's actor wrapper, where a task's chain stops). Every lookup is guarded: the dump reads
Faust's and aiokafka's internals, which a version change may move, and must never fail.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import types
from collections.abc import Callable
from typing import Any

import structlog

__all__ = ["coroutine_stacks", "install_dump_on_signal", "snapshot", "task_stacks"]

log = structlog.get_logger("engagement_scorer.diagnostics")

Extra = Callable[[], dict[str, Any]]


def task_stacks(limit: int = 16) -> list[dict[str, Any]]:
    """Every task of the running loop with the chain of awaits it is suspended in, outermost
    first (``Task.get_stack`` gives only the outermost frame of a suspended coroutine)."""
    return [
        {"task": task.get_name(), "stack": _frames(_await_chain(task.get_coro()))[:limit]}
        for task in asyncio.all_tasks()
    ]


def coroutine_stacks(module_prefix: str = "engagement_scorer") -> list[dict[str, Any]]:
    """The await chains of the suspended coroutines defined in ``module_prefix``."""
    found = []
    for obj in gc.get_objects():
        if not isinstance(obj, types.CoroutineType) or obj.cr_frame is None:
            continue
        if obj.cr_frame.f_globals.get("__name__", "").startswith(module_prefix):
            found.append({"coroutine": obj.__qualname__, "stack": _frames(_await_chain(obj))})
    return found


def snapshot(app: Any, sender: Any = None, extra: Extra | None = None) -> dict[str, Any]:
    """The consumer's, conductor's and producer's state, and ``extra()``."""
    facts: dict[str, Any] = {}

    def put(name: str, read: Callable[[], Any]) -> None:
        try:
            facts[name] = read()
        except Exception as exc:  # not there yet, or moved by a Faust version
            facts[name] = f"unavailable: {exc!r}"

    consumer: Any = None

    def the_consumer() -> Any:
        nonlocal consumer
        consumer = app.consumer
        return type(consumer).__name__

    put("consumer", the_consumer)
    put("flow_control_active", lambda: app.flow_control.is_active())
    put("in_recovery", lambda: app.in_recovery)
    put("generation", lambda: app.consumer_generation_id)
    put("consumer_flow_active", lambda: consumer.flow_active)
    put("paused_partitions", lambda: _names(consumer._paused_partitions))
    put("buffered_partitions", lambda: _names(consumer._buffered_partitions))
    put("committing", lambda: consumer._commit_fut is not None)
    put("producer_buffer", lambda: app.producer.buffer.size)
    if sender is not None:
        put("outbox", lambda: len(sender._queue))
    put("fetcher", lambda: _fetcher_state(consumer))
    put("conductor", lambda: _conductor_state(app.topics))
    if extra is not None:
        put("service", extra)
    return facts


def install_dump_on_signal(
    app: Any, sender: Any = None, extra: Extra | None = None, signum: int = signal.SIGUSR1
) -> None:
    """Log ``snapshot`` and the stacks each time ``signum`` arrives (call it in the loop)."""

    def dump() -> None:
        log.warning(
            "diagnostics",
            **snapshot(app, sender, extra),
            tasks=task_stacks(),
            coroutines=coroutine_stacks(),
        )

    asyncio.get_running_loop().add_signal_handler(signum, dump)


def _await_chain(coro: Any) -> list[Any]:
    frames: list[Any] = []
    while coro is not None and len(frames) < 64:
        frame = (
            getattr(coro, "cr_frame", None)
            or getattr(coro, "gi_frame", None)
            or getattr(coro, "ag_frame", None)
        )
        if frame is not None:
            frames.append(frame)
        coro = (
            getattr(coro, "cr_await", None)
            or getattr(coro, "gi_yieldfrom", None)
            or getattr(coro, "ag_await", None)
        )
    return frames


def _frames(frames: list[Any]) -> list[str]:
    return [f"{f.f_code.co_filename}:{f.f_lineno} {f.f_code.co_name}" for f in frames]


def _names(tps: Any) -> list[str]:
    return sorted(f"{tp.topic}:{tp.partition}" for tp in tps)


def _inputs(tps: Any) -> list[Any]:
    return sorted((tp for tp in tps if not tp.topic.endswith("-changelog")), key=str)


def _conductor_state(conductor: Any) -> dict[str, Any]:
    """Which channel each input partition's records are delivered to, and the queues."""
    return {
        "delivered_to": {
            f"{tp.topic}:{tp.partition}": [id(c) for c in conductor._tp_index[tp]]
            for tp in _inputs(conductor._tp_index)
        },
        "channels": {
            str(id(c)): {"topics": sorted(c.topics), "queued": c.queue.qsize()}
            for c in conductor._topics
        },
    }


def _fetcher_state(consumer: Any) -> dict[str, Any]:
    """aiokafka's view of every assigned input partition: position, highwater, buffered."""
    fetcher = consumer._thread._ensure_consumer()._fetcher
    assignment = fetcher._subscriptions.subscription.assignment
    partitions = {}
    for tp in _inputs(assignment.tps):
        state = assignment.state_value(tp)
        partitions[f"{tp.topic}:{tp.partition}"] = {
            "position": state.position if state.has_valid_position else None,
            "highwater": state.highwater,
            "paused": state.paused,
            "buffered": tp in fetcher._records,
        }
    return {"in_flight": sorted(fetcher._in_flight), "partitions": partitions}
