"""Every PromQL expression the dashboards and rules use, ready to run against a Prometheus.

Used by the tests: the unit tests parse each expression (promql-parser), the integration test
runs each against a real Prometheus scraping a live worker.

- Dashboard queries come from the generated JSON, with Grafana's macros substituted the way
  Grafana does: ``$__rate_interval = max($__interval + scrape interval, 4 * scrape interval)``,
  ``$__interval``, ``$__range``, and template variables (``$name`` and ``${name}``).
- Rule expressions come from the rule files. An alert expression is a condition that is
  usually empty, so :func:`alert_probes` turns it into expressions that must have data when
  the alert *can* be evaluated: every series selector (offset removed: history may be
  younger than the offset), and every operand of a comparison that has no offset and no
  ``absent()`` (the expression without its threshold).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "DASHBOARD_DIR",
    "RULES_DIR",
    "PanelQuery",
    "Rule",
    "VariableQuery",
    "alert_probes",
    "dashboard_files",
    "load_rules",
    "panel_queries",
    "rate_interval",
    "selectors",
    "substitute",
    "variable_queries",
]

DEPLOY = Path(__file__).resolve().parents[1]
DASHBOARD_DIR = DEPLOY / "grafana" / "dashboards"
RULES_DIR = DEPLOY / "prometheus" / "rules"

_EMPTY_MATCHERS = re.compile(r"([A-Za-z_:][\w:]*)\{\}")  # promql-parser prints `a` as `a{}`
_COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}
_SETS = {"and", "or", "unless"}
_ABSENT = {"absent", "absent_over_time"}
#: Presence series (a series exists only while something fires, like ``ALERTS``) -> the
#: all-organisation count that always exists (0 while nothing fires). Alerts derived from a
#: presence series are probed with the count of the same matchers: the service exports that
#: kind of alert, firing or not.
PRESENCE_PROBES = {"org_alert:engagement_org_alert_firing:max": "engagement_alerts_firing"}


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str  # uid
    panel: str  # title
    ref: str
    expr: str  # as in the JSON, macros and variables unsubstituted
    instant: bool

    def where(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref}"


@dataclass(frozen=True)
class VariableQuery:
    dashboard: str
    name: str
    metric: str  # the series selector of label_values(selector, label)
    label: str


@dataclass(frozen=True)
class Rule:
    file: str
    group: str
    name: str  # record name or alert name
    expr: str
    alert: bool


def dashboard_files(directory: Path = DASHBOARD_DIR) -> list[Path]:
    return sorted(directory.glob("*.json"))


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels") or [])


def panel_queries(dashboard: Mapping[str, Any]) -> list[PanelQuery]:
    out = []
    for panel in _panels(dashboard.get("panels") or []):
        for target in panel.get("targets") or []:
            expr = target.get("expr")
            if expr:
                out.append(
                    PanelQuery(
                        dashboard=dashboard["uid"],
                        panel=panel.get("title", f"panel {panel.get('id')}"),
                        ref=target.get("refId", "?"),
                        expr=expr,
                        instant=bool(target.get("instant")) and not target.get("range"),
                    )
                )
    return out


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?P<metric>.+?)\s*,\s*(?P<label>\w+)\s*\)\s*$")


_QUERY_RESULT = re.compile(r"^\s*query_result\((?P<expr>.+)\)\s*$")
_REGEX_VALUE = re.compile(r'(?P<label>\w+)="\(\?<value>')


def variable_queries(dashboard: Mapping[str, Any]) -> list[VariableQuery]:
    out = []
    for var in (dashboard.get("templating") or {}).get("list") or []:
        if var.get("type") != "query":
            continue
        q = var.get("query")
        text = q.get("query") if isinstance(q, dict) else q
        match = _LABEL_VALUES.match(text or "")
        if match:
            out.append(
                VariableQuery(dashboard["uid"], var["name"], match["metric"], match["label"])
            )
            continue
        result = _QUERY_RESULT.match(text or "")
        value = _REGEX_VALUE.search(var.get("regex") or "")
        if not (result and value):
            raise ValueError(f"{dashboard['uid']}: unsupported variable query {text!r}")
        # query_result(expr) with a regex whose `value` group captures a label: the values
        # are that label's values on the series of expr's (first) selector
        out.append(
            VariableQuery(
                dashboard["uid"], var["name"], selectors(result["expr"])[0], value["label"]
            )
        )
    return out


def load_dashboard(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def rate_interval(interval_seconds: float, scrape_seconds: float) -> float:
    """Grafana's ``$__rate_interval``."""
    return max(interval_seconds + scrape_seconds, 4 * scrape_seconds)


def substitute(
    expr: str,
    variables: Mapping[str, str],
    *,
    interval: str,
    rate_interval: str,
    range_: str,
) -> str:
    """Replace Grafana macros and template variables (longest names first)."""
    values = {
        "__rate_interval": rate_interval,
        "__interval": interval,
        "__range": range_,
        **variables,
    }
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace("${" + name + "}", values[name]).replace("$" + name, values[name])
    if "$" in expr:
        raise ValueError(f"unsubstituted variable in {expr!r}")
    return expr


def load_rules(directory: Path = RULES_DIR) -> list[Rule]:
    rules = []
    for path in sorted(directory.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                alert = "alert" in rule
                rules.append(
                    Rule(
                        file=path.name,
                        group=group["name"],
                        name=rule["alert"] if alert else rule["record"],
                        expr=str(rule["expr"]).strip(),
                        alert=alert,
                    )
                )
    return rules


# ---- alert expressions ------------------------------------------------------------------------


def _parse(expr: str) -> Any:
    import promql_parser  # imported lazily: only the tests need it

    return promql_parser.parse(expr)


def _selector_text(node: Any) -> str:
    """A vector selector as text, without offset or @ modifier."""
    matchers = str(node.matchers).strip()  # promql-parser renders ``{a="b", c=~"d"}``
    if matchers in ("", "{}"):
        return str(node.name)
    return f"{node.name or ''}{matchers}"


def selectors(expr: str) -> list[str]:
    """Every series selector of ``expr`` (instant form, offsets removed), in order, unique."""
    import promql_parser

    found: list[str] = []

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            text = _selector_text(node)
            if text not in found:
                found.append(text)

    promql_parser.walk(_parse(expr), pre_visit=visit)
    return found


def _has_offset_or_absent(node: Any) -> bool:
    import promql_parser

    hit = False

    def visit(n: Any) -> None:
        nonlocal hit
        offset = isinstance(n, promql_parser.VectorSelector) and n.offset is not None
        absent = isinstance(n, promql_parser.Call) and n.func.name in _ABSENT
        hit = hit or offset or absent

    promql_parser.walk(node, pre_visit=visit)
    return hit


def alert_probes(expr: str) -> list[str]:
    """Expressions that must return data for the alert ``expr`` to be meaningful.

    Every selector (offsets removed), and each side of every comparison (``a > 0.5`` gives
    ``a``) unless it is a number or uses an offset or ``absent()``. A presence series
    (``PRESENCE_PROBES``) is probed with its all-organisation count instead, and comparisons
    on it are not probed (nothing may fire).
    """
    import promql_parser

    probes = []
    for selector in selectors(expr):
        name, brace, rest = selector.partition("{")
        probes.append(PRESENCE_PROBES[name] + brace + rest if name in PRESENCE_PROBES else selector)

    def operands(node: Any) -> None:
        if isinstance(node, promql_parser.ParenExpr):
            operands(node.expr)
            return
        if not isinstance(node, promql_parser.BinaryExpr):
            return
        op = str(node.op)
        if op in _SETS:
            operands(node.lhs)
            operands(node.rhs)
        elif op in _COMPARISONS:
            for side in (node.lhs, node.rhs):
                if isinstance(side, promql_parser.NumberLiteral):
                    continue
                if _has_offset_or_absent(side) or any(n in str(side) for n in PRESENCE_PROBES):
                    continue
                text = _EMPTY_MATCHERS.sub(r"\1", str(side))
                if text not in probes:
                    probes.append(text)

    operands(_parse(expr))
    return probes
