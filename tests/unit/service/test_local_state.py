"""The local stores are trusted only after a clean stop (``local_state``): a killed worker's
RocksDB store may be ahead of its changelogs, and Faust's replay over it mixes new and old
keys."""

from __future__ import annotations

from pathlib import Path

from engagement_scorer.local_state import (
    CLEAN_STOP_MARKER,
    mark_clean_stop,
    reset_after_unclean_stop,
)


def _stores(appdir: Path) -> Path:
    tabledir = appdir / "tables"
    (tabledir / "orgs-0.db").mkdir(parents=True)
    (tabledir / "orgs-0.db" / "CURRENT").write_text("MANIFEST-000001\n")
    return tabledir


def test_stores_kept_after_a_clean_stop_and_the_marker_consumed(tmp_path: Path) -> None:
    tabledir = _stores(tmp_path)
    mark_clean_stop(tmp_path)
    assert not reset_after_unclean_stop(tmp_path, tabledir)
    assert (tabledir / "orgs-0.db" / "CURRENT").exists()
    assert not (tmp_path / CLEAN_STOP_MARKER).exists()  # a kill from now on leaves none
    # the next start without a new clean stop (the worker was killed): rebuilt
    assert reset_after_unclean_stop(tmp_path, tabledir)
    assert not tabledir.exists()


def test_a_first_start_has_nothing_to_remove(tmp_path: Path) -> None:
    assert not reset_after_unclean_stop(tmp_path, tmp_path / "tables")
    (tmp_path / "tables").mkdir()
    assert not reset_after_unclean_stop(tmp_path, tmp_path / "tables")
    assert (tmp_path / "tables").exists()
