"""Scorer worker processes: ``python -m engagement_scorer worker`` started, probed, stopped and
killed.

Workers are real processes so a caller can SIGKILL and restart one exactly as an operator
would, and measure one (``/proc``) without the caller's own work in the figures. Each has its
own app id, web port, data dir and log file. Both a blocking API (tests: urllib) and an async
one (the benchmark, which polls on its event loop while it produces: aiohttp) are offered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import aiohttp

from .kafka import BOOTSTRAP, PARTITIONS, Topics
from .metrics import Metrics, parse_metrics

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class WorkerProcess:
    """One scorer worker on ``topics``. ``name`` labels its log and data dir
    (``worker-<name>.log``, ``data-<name>`` in ``workdir``; the web port when unnamed), so a
    restart with the same name resumes the same state. ``extra_env`` goes on top of
    everything. Subclasses add their defaults in ``own_env``."""

    app_id: str
    topics: Topics
    workdir: Path
    bootstrap: str = BOOTSTRAP
    name: str = ""
    extra_env: dict[str, str] = field(default_factory=dict)
    web_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0  # perf_counter at the last start
    starts: int = 0

    #: Raised by the waits when the worker dies or does not get ready.
    failure: ClassVar[type[Exception]] = RuntimeError
    #: Log lines a failure message quotes.
    tail_lines: ClassVar[int] = 40
    #: Seconds ``stop`` waits after SIGTERM before SIGKILL.
    stop_timeout: ClassVar[float] = 60.0

    # --- identity --------------------------------------------------------------------------

    @property
    def label(self) -> str:
        return self.name or str(self.web_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def data_dir(self) -> Path:
        return self.workdir / f"data-{self.label}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"worker-{self.label}.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "worker not started"
        return self.proc.pid

    # --- the process -----------------------------------------------------------------------

    def own_env(self) -> dict[str, str]:
        """Settings a kind of worker always gets (before ``extra_env``)."""
        return {}

    def banner(self) -> str | None:
        """A line written to the log before each start (None: nothing)."""
        return None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.topics.env())
        env.update(
            {
                "ENGAGEMENT_KAFKA_BOOTSTRAP": self.bootstrap,
                "ENGAGEMENT_APP_ID": self.app_id,
                "ENGAGEMENT_WEB_PORT": str(self.web_port),
                "ENGAGEMENT_DATA_DIR": str(self.data_dir),
                # pure event time: what a worker computes depends on its input only
                "ENGAGEMENT_LIVE_CLOCK": "false",
                "ENGAGEMENT_TOPIC_PARTITIONS": str(PARTITIONS),
            }
        )
        env.update(self.own_env())
        env.update(self.extra_env)
        return env

    def start(self) -> WorkerProcess:
        env = self.env()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.starts += 1
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            banner = self.banner()
            if banner is not None:
                log.write(f"\n{banner}\n".encode())
                log.flush()
            self.started_at = time.perf_counter()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "engagement_scorer", "worker"],
                cwd=self.workdir,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float | None = None) -> float:
        """SIGTERM and wait (SIGKILL after ``timeout``, default ``stop_timeout``); returns the
        seconds it took."""
        started = time.perf_counter()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=self.stop_timeout if timeout is None else timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return time.perf_counter() - started

    def kill(self) -> None:
        """SIGKILL: the worker gets no chance to commit or flush anything."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def diagnostics(self, settle: float = 3.0) -> str:
        """What the running worker waits for (``engagement_scorer.diagnostics``: SIGUSR1 logs
        one ``diagnostics`` record), for the message of a test that gave up waiting on it."""
        if self.proc is None or self.proc.poll() is not None:
            return "(worker not running)"
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline:
            time.sleep(0.2)
            with contextlib.suppress(OSError):
                for line in reversed(self.log_path.read_text(errors="replace").splitlines()):
                    if '"event": "diagnostics"' in line:
                        return line
        return "(no diagnostics record)"

    def tail(self, lines: int | None = None) -> str:
        """The last lines of the worker's log, for failure messages."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-(lines or self.tail_lines) :])

    # --- /proc -----------------------------------------------------------------------------

    def rss_bytes(self) -> int:
        return _status_field(self.pid, "VmRSS")

    def hwm_bytes(self) -> int:
        """Peak resident memory."""
        return _status_field(self.pid, "VmHWM")

    def cpu_seconds(self) -> float:
        return proc_cpu_seconds(self.pid)

    # --- HTTP, blocking ----------------------------------------------------------------------

    def get(self, path: str) -> tuple[int, Any]:
        """``GET path``: (status, JSON body); an error status is returned, not raised."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def metrics(self) -> str:
        """The text of ``/metrics``."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=10) as resp:
            return str(resp.read().decode())

    def scrape(self) -> Metrics:
        return parse_metrics(self.metrics())

    def counter(self, name: str, **labels: str) -> float:
        """Sum of a Prometheus series from /metrics over the samples with ``labels`` (0 when
        absent)."""
        return self.scrape().total(name, **labels)

    def wait_ready(self, timeout: float = 180.0) -> float:
        """Wait for ``GET /ready`` 200; returns the seconds since the process started."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise self.failure(f"worker {self.label} exited early:\n{self.tail()}")
            with contextlib.suppress(OSError, ValueError):
                status, _ = self.get("/ready")
                if status == 200:
                    return time.perf_counter() - self.started_at
            time.sleep(0.3)
        raise self.failure(f"worker {self.label} not ready after {timeout}s:\n{self.tail()}")

    # --- HTTP, async (aiohttp) -------------------------------------------------------------

    async def get_status_async(self, session: aiohttp.ClientSession, path: str) -> int:
        async with session.get(self.url + path) as resp:
            await resp.read()
            return resp.status

    async def scrape_async(self, session: aiohttp.ClientSession) -> Metrics:
        async with session.get(self.url + "/metrics") as resp:
            return parse_metrics(await resp.text())

    async def wait_ready_async(
        self, session: aiohttp.ClientSession, within: float = 180.0
    ) -> float:
        """Wait for ``GET /ready`` 200; returns the seconds since the process started."""
        deadline = time.perf_counter() + within
        while time.perf_counter() < deadline:
            if not self.alive():
                raise self.failure(f"worker {self.label} exited early:\n{self.tail()}")
            with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, OSError):
                if await self.get_status_async(session, "/ready") == 200:
                    return time.perf_counter() - self.started_at
            await asyncio.sleep(0.1)
        raise self.failure(f"worker {self.label} not ready after {within}s:\n{self.tail()}")


def _status_field(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1]) * 1024  # kB
    raise RuntimeError(f"{name} not in /proc/{pid}/status")


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK
