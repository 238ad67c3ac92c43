"""The three commands: their own --help (listing the settings) and --version, and a worker
command line that takes nothing but the settings."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

from engagement.cli import project_version
from engagement_scorer import cli

COMMANDS = {
    "engagement-scorer": "engagement_scorer",
    "engagement-batch": "engagement_scorer.batch",
    "engagement-simulator": "engagement_simulator",
}


def _run(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=120
    )


def test_console_scripts_are_declared() -> None:
    scripts = {
        ep.name: ep.value
        for ep in metadata.entry_points(group="console_scripts")
        if ep.dist is not None and ep.dist.name == "engagement-score"
    }
    assert scripts == {
        "engagement-scorer": "engagement_scorer.cli:main",
        "engagement-batch": "engagement_scorer.batch:main",
        "engagement-simulator": "engagement_simulator.__main__:main",
    }


@pytest.mark.parametrize(("command", "module"), sorted(COMMANDS.items()))
def test_version_is_the_projects(command: str, module: str) -> None:
    done = _run(module, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{command} {metadata.version('engagement-score')} " + (
        "(engagement-score)"
    )
    assert project_version() == metadata.version("engagement-score")


@pytest.mark.parametrize(("command", "module"), sorted(COMMANDS.items()))
def test_help_lists_every_setting(command: str, module: str) -> None:
    from engagement.settings import Settings

    done = _run(module, "--help")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {command}")
    for name in Settings.model_fields:
        assert f"ENGAGEMENT_{name.upper()} (default:" in done.stdout
    assert "ENGAGEMENT_LOG_LEVEL (default: info)" in done.stdout
    assert "ENGAGEMENT_WEB_HOST (default: 127.0.0.1)" in done.stdout


def test_worker_help_does_not_import_faust() -> None:
    code = (
        "import sys\n"
        "from engagement_scorer import cli\n"
        "try:\n    cli.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('faust' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().endswith("False"), done.stderr


@pytest.mark.parametrize(
    ("argv", "setting"),
    [
        (["worker", "-p", "7000"], "ENGAGEMENT_WEB_PORT"),
        (["--web-port=7000"], "ENGAGEMENT_WEB_PORT"),
        (["worker", "--web-host", "0.0.0.0"], "ENGAGEMENT_WEB_HOST"),
        (["worker", "--loglevel", "debug"], "ENGAGEMENT_LOG_LEVEL"),
    ],
)
def test_faust_options_are_refused_with_the_setting_to_use(
    argv: list[str], setting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.parse(argv)
    assert exited.value.code == 2
    assert f"set {setting} instead" in capsys.readouterr().err


def test_worker_is_the_default_command() -> None:
    assert cli.parse([]).command == "worker"
    assert cli.parse(["worker"]).command == "worker"
    with pytest.raises(SystemExit):
        cli.parse(["agents"])


def test_faust_gets_the_log_level_of_the_settings_only() -> None:
    assert cli.faust_argv("info") == ["worker", "--loglevel", "info"]
