"""The worker's local table stores after a stop that was not clean.

A batch's state is written to the local RocksDB store first and to its changelog topics
after (``changelog``); the persisted changelog offset moves only when the broker acknowledged
the records. A worker killed in between restarts with a store *ahead* of its changelog, and
Faust's recovery then replays the changelog from the persisted offset over it: keys the lost
batch wrote and the replay does not touch keep the lost batch's values, the others go back
to older ones. The organisation record and its accounts then disagree, and the batch's
inputs, read again, are taken as duplicates of what the newer keys hold: counts lost.

So the stores are trusted only after a clean stop: ``EngagementApp.on_shutdown`` leaves a
marker once the tables are closed, and a start without it removes the stores, which Faust
then rebuilds from the changelogs (and standbys from their own), as it does for a new
worker. A clean restart keeps the fast path (only the changelog tail is read).
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["CLEAN_STOP_MARKER", "mark_clean_stop", "reset_after_unclean_stop"]

CLEAN_STOP_MARKER = "clean-stop"


def reset_after_unclean_stop(appdir: Path, tabledir: Path) -> bool:
    """Remove the local stores unless the last run stopped cleanly; returns True when they
    were removed. The marker is consumed: a run killed from now on leaves none."""
    marker = appdir / CLEAN_STOP_MARKER
    clean = marker.exists()
    marker.unlink(missing_ok=True)
    if clean or not tabledir.exists() or not any(tabledir.iterdir()):
        return False
    shutil.rmtree(tabledir)
    return True


def mark_clean_stop(appdir: Path) -> None:
    """The tables are closed: their stores hold nothing their changelogs do not."""
    appdir.mkdir(parents=True, exist_ok=True)
    (appdir / CLEAN_STOP_MARKER).touch()
