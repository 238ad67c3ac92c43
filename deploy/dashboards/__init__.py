"""Grafana dashboards of the engagement scorer, as code (grafana-foundation-sdk).

``python -m deploy.dashboards`` writes the JSON to ``deploy/grafana/dashboards/``;
``python -m deploy.dashboards --check`` fails when the committed JSON differs from what the
code generates. Built for Grafana 11.6 (the SDK build pinned in pyproject.toml).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model

from . import organisation, overview, service

__all__ = ["BUILDERS", "OUT_DIR", "render", "render_all"]

OUT_DIR = Path(__file__).resolve().parents[1] / "grafana" / "dashboards"

#: file name -> builder
BUILDERS: dict[str, Callable[[], model.Dashboard]] = {
    "engagement-overview.json": overview.build,
    "engagement-organisation.json": organisation.build,
    "engagement-service.json": service.build,
}


def render(built: model.Dashboard) -> str:
    """Stable JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(built, cls=JSONEncoder, sort_keys=True, indent=2) + "\n"


def render_all() -> dict[str, str]:
    return {name: render(build()) for name, build in BUILDERS.items()}
