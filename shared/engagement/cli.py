"""What the three commands (``engagement-scorer``, ``engagement-batch``,
``engagement-simulator``) share: ``--version`` with the project's version, and a ``--help``
that ends with every ``ENGAGEMENT_*`` setting, its default and what it does."""

from __future__ import annotations

import argparse
from importlib import metadata
from typing import Final

from .settings_doc import help_listing

__all__ = ["DISTRIBUTION", "add_version", "parser", "project_version", "settings_epilog"]

#: The distribution name in pyproject.toml.
DISTRIBUTION: Final = "engagement-score"


def project_version() -> str:
    """The installed project's version (``0+unknown`` when run from an uninstalled tree)."""
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"


def settings_epilog() -> str:
    return (
        "settings (environment variables, or a .env file in the working directory; the\n"
        "environment wins; lists and objects as JSON; the table: docs/settings.md):\n"
        + help_listing()
    )


def add_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--version",
        action="version",
        version=f"{parser.prog} {project_version()} ({DISTRIBUTION})",
        help="print the version of the project and exit",
    )


def parser(prog: str, description: str) -> argparse.ArgumentParser:
    """An argument parser with ``--version`` and the settings listed at the end of ``--help``."""
    built = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=settings_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_version(built)
    return built
