"""``python -m scorer`` starts a worker (Faust CLI arguments are passed through)."""

from __future__ import annotations

import sys

from .app import create_app


def main() -> None:
    scorer = create_app()
    argv = sys.argv[1:] or ["worker"]
    if argv[0] == "worker" and not any(a.startswith(("-l", "--loglevel")) for a in argv):
        argv += ["--loglevel", scorer.settings.log_level]
    sys.argv = [sys.argv[0], *argv]
    scorer.app.main()


if __name__ == "__main__":
    main()
