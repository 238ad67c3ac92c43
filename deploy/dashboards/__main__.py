"""``python -m deploy.dashboards [--check] [--out DIR]``: write or check the dashboard JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import OUT_DIR, render_all


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.dashboards", description=__doc__)
    parser.add_argument(
        "--check", action="store_true", help="fail when the committed JSON is stale"
    )
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output directory")
    args = parser.parse_args(argv)
    out: Path = args.out
    rendered = render_all()
    expected = set(rendered)
    present = {p.name for p in out.glob("*.json")} if out.is_dir() else set()
    if args.check:
        stale = sorted(
            name
            for name, text in rendered.items()
            if not (out / name).is_file() or (out / name).read_text() != text
        )
        extra = sorted(present - expected)
        for name in stale:
            print(f"stale: {out / name}", file=sys.stderr)
        for name in extra:
            print(f"not generated (remove it): {out / name}", file=sys.stderr)
        if stale or extra:
            print("run: .venv/bin/python -m deploy.dashboards", file=sys.stderr)
            return 1
        print(f"dashboards up to date ({len(rendered)} in {out})")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (out / name).write_text(text)
    for name in sorted(present - expected):
        (out / name).unlink()
    print(f"wrote {len(rendered)} dashboards to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
