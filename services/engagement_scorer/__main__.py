"""``python -m engagement_scorer`` is ``engagement-scorer``: start a worker (see ``cli``)."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
