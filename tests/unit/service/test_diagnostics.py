"""``diagnostics``: SIGUSR1 logs what the worker waits for, and never fails doing it."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from structlog.testing import capture_logs

from engagement_scorer.diagnostics import install_dump_on_signal, snapshot, task_stacks


class Bare:
    """An app with none of Faust's internals (early in a start, or another Faust version)."""


def test_a_snapshot_of_an_app_without_faust_internals_says_what_is_missing() -> None:
    facts = snapshot(Bare(), extra=lambda: {"waiting": 3})
    assert facts["service"] == {"waiting": 3}
    assert str(facts["flow_control_active"]).startswith("unavailable: AttributeError")
    assert str(facts["fetcher"]).startswith("unavailable:")


@pytest.mark.asyncio
async def test_a_task_stack_shows_the_await_it_hangs_on() -> None:
    gate = asyncio.Event()

    async def waits_for_the_gate() -> None:
        await gate.wait()

    task = asyncio.create_task(waits_for_the_gate(), name="stuck")
    await asyncio.sleep(0)
    stuck = next(t for t in task_stacks() if t["task"] == "stuck")
    assert any(frame.endswith(" waits_for_the_gate") for frame in stuck["stack"])
    assert any(frame.endswith(" wait") for frame in stuck["stack"])  # the Event's wait
    gate.set()
    await task


@pytest.mark.asyncio
async def test_sigusr1_logs_one_diagnostics_record() -> None:
    loop = asyncio.get_running_loop()
    install_dump_on_signal(Bare(), extra=lambda: {"waiting": 1}, signum=signal.SIGUSR2)
    try:
        with capture_logs() as logs:
            os.kill(os.getpid(), signal.SIGUSR2)
            for _ in range(100):
                if logs:
                    break
                await asyncio.sleep(0.01)
    finally:
        loop.remove_signal_handler(signal.SIGUSR2)
    (record,) = [r for r in logs if r["event"] == "diagnostics"]
    assert record["service"] == {"waiting": 1}
    assert record["tasks"]
    assert all("stack" in t for t in record["tasks"])
