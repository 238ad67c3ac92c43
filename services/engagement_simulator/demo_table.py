"""The live score table of ``make run``: one snapshot of every organisation's scores.

``scripts/run.sh`` starts Kafka, the scorer and the simulator, then calls
``python -m engagement_simulator.demo_table API CLEAR STATUS`` every 3 s: it asks the scorer's
web API
(``/orgs``, ``/orgs/{org}/score``, ``/orgs/{org}/alerts``) and prints one table (components,
Engagement Score, operating level against the target, firing alerts). It lives here, not in the
shell script, so lint and type checks see it and a unit test can render it from canned answers.

    python -m engagement_simulator.demo_table http://127.0.0.1:6066 1 "simulator running"
"""

from __future__ import annotations

import json
import signal
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from engagement.domain import COMPONENTS, LEVELS

__all__ = ["main", "render"]

#: Fetches an API path (``/orgs``) and returns its JSON.
Get = Callable[[str], Any]


def http_get(api: str) -> Get:
    def get(path: str) -> Any:
        with urllib.request.urlopen(api + path, timeout=2) as response:
            return json.load(response)

    return get


def _num(value: float | None) -> str:
    return "    -" if value is None else f"{value:5.1f}"


def _quoted(org: str) -> str:
    return urllib.parse.quote(org, safe="")


def _alerts_of(get: Get, org: str) -> str:
    try:
        firing = get(f"/orgs/{_quoted(org)}/alerts").get("firing") or []
    except Exception:
        return "?"
    names = sorted(
        {a.get("alert", "?") + (f":{a['component']}" if a.get("component") else "") for a in firing}
    )
    return ", ".join(names) if names else "-"


def _benchmarks(get: Get) -> str:
    """One line: the published peer groups (sector/size band/platform) and their sizes."""
    try:
        groups = get("/benchmarks").get("groups") or []
    except Exception:
        return "benchmarks: scorer not answering"
    if not groups:
        return "benchmarks published: none yet (a group needs at least k organisations)"
    shown = ", ".join(
        "/".join(str(v) for v in (g.get("group") or {}).values())
        + f" ({g.get('org_count', '?')} orgs)"
        for g in groups
    )
    return f"benchmarks published: {len(groups)} ({shown})"


def _mark(level: str, target: str) -> str:
    """``=`` at the target level, ``<`` below it, ``>`` above it (blank when unknown)."""
    if level not in LEVELS or target not in LEVELS:
        return " "
    here, wanted = LEVELS.index(level), LEVELS.index(target)
    return "=" if here == wanted else "<" if here < wanted else ">"


def render(get: Get, api: str, status: str, now: str) -> list[str]:
    """The table's lines; `get` asks the scorer, `now` is the clock text of the heading."""
    lines = [f"Engagement scores at {now}  ({status})", ""]
    try:
        orgs = get("/orgs").get("orgs", [])
    except Exception as exc:  # the worker may be rebalancing
        lines.append(f"scorer not answering yet: {exc}")
        return lines
    header = ["org".ljust(14), *(n[:10].rjust(10) for n in COMPONENTS), "score".rjust(6)]
    header += ["  level".ljust(14), "target".ljust(12), "alerts"]
    lines.append(" ".join(header))
    levels_seen = set()
    for org in orgs:
        try:
            score = get(f"/orgs/{_quoted(org)}/score")
        except Exception:
            lines.append(f"{org[:14]:14} (no score yet)")
            continue
        components = score.get("components") or {}
        values = [(components.get(n) or {}).get("value") for n in COMPONENTS]
        row = [org[:14].ljust(14), *(_num(v).rjust(10) for v in values)]
        level = score.get("operating_level") or "-"
        levels_seen.add(level)
        target = score.get("target_level") or "-"
        row += [_num(score.get("engagement_score")).rjust(6), f"  {level}".ljust(14)]
        row += [f"{_mark(level, target)} {target}".ljust(12), _alerts_of(get, org)]
        lines.append(" ".join(row))
    if not orgs:
        lines.append("(no organisations yet)")
    else:
        known = sorted(levels_seen - {"-"})
        shown = ", ".join(known) or "none yet"
        lines += ["", f"levels on screen: {len(known)} of {len(LEVELS)} ({shown})"]
        lines.append(_benchmarks(get))
    lines.append(f"organisation pages: {api}/ui/")
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    """``API CLEAR STATUS``: print one table (CLEAR ``1``: clear the screen first)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C: just stop, run.sh cleans up
    api, clear, status = argv if argv is not None else sys.argv[1:4]
    lines = render(http_get(api), api, status, time.strftime("%H:%M:%S"))
    if clear == "1":
        sys.stdout.write("\033[H\033[2J")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    main()
