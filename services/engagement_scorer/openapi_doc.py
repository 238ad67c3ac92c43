"""Write or check ``docs/api/openapi.json``, the committed OpenAPI document of the HTTP API.

    python -m engagement_scorer.openapi_doc            # rewrite docs/api/openapi.json
    python -m engagement_scorer.openapi_doc --check    # exit 1 when it is stale (CI)

The document is built from the route registry (``engagement_scorer.openapi``) after importing
the composition root, which imports every module that registers routes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from . import app as _app  # noqa: F401  (every module that registers routes)
from .openapi import OPENAPI_FILE, document

__all__ = ["check", "main", "rendered"]


def rendered() -> str:
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def _repository_root() -> Path:
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "services").is_dir():
            return parent
    return Path.cwd()


def check(root: Path) -> bool:
    path = root / OPENAPI_FILE
    return path.is_file() and path.read_text("utf-8") == rendered()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engagement_scorer.openapi_doc",
        description="Generate docs/api/openapi.json from the registered routes.",
    )
    parser.add_argument("--check", action="store_true", help="fail if the file is stale")
    parser.add_argument("--root", type=Path, default=None, help="repository root")
    args = parser.parse_args(argv)
    root: Path = args.root or _repository_root()
    if args.check:
        if not check(root):
            print(
                f"{OPENAPI_FILE} is stale; regenerate it with "
                "`python -m engagement_scorer.openapi_doc` (make openapi).",
                file=sys.stderr,
            )
            return 1
        print(f"{OPENAPI_FILE} is up to date.")
        return 0
    path = root / OPENAPI_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rendered(), "utf-8")
    print(f"Wrote {OPENAPI_FILE}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
