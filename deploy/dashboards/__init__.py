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
from .common import DATASOURCE_INPUT

__all__ = ["BUILDERS", "OUT_DIR", "render", "render_all"]

OUT_DIR = Path(__file__).resolve().parents[1] / "grafana" / "dashboards"

#: file name -> builder
BUILDERS: dict[str, Callable[[], model.Dashboard]] = {
    "engagement-overview.json": overview.build,
    "engagement-organisation.json": organisation.build,
    "engagement-service.json": service.build,
}


#: What Grafana's import dialog reads (Dashboards > New > Import): the datasource to ask for,
#: and the Grafana version and plugins the dashboard needs. Provisioning ignores both.
IMPORT_HEADER = {
    "__inputs": [
        {
            "name": DATASOURCE_INPUT,
            "label": "Prometheus",
            "description": "The Prometheus that scrapes the engagement scorer workers",
            "type": "datasource",
            "pluginId": "prometheus",
            "pluginName": "Prometheus",
        }
    ],
    "__requires": [
        {"type": "grafana", "id": "grafana", "name": "Grafana", "version": "11.6.0"},
        {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"},
    ],
}


def render(built: model.Dashboard) -> str:
    """Stable JSON text: sorted keys, two-space indent, trailing newline, with the import
    header (``__inputs``, ``__requires``)."""
    data = json.loads(json.dumps(built, cls=JSONEncoder))
    data.update(IMPORT_HEADER)
    return json.dumps(data, sort_keys=True, indent=2) + "\n"


def render_all() -> dict[str, str]:
    return {name: render(build()) for name, build in BUILDERS.items()}
