"""Helpers shared by the observability unit tests."""

from __future__ import annotations

import shutil

import pytest


def require_promtool() -> str:
    """promtool's path; fails (never skips) when Prometheus' tools are not installed."""
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found: run `bash scripts/prometheus.sh install` "
            "(Debian's prometheus package, which ships promtool)",
            pytrace=False,
        )
    return path
