"""The settings documentation is generated from the settings class and kept fresh."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import Field

from engagement import settings_doc
from engagement.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


def test_every_setting_has_a_description() -> None:
    missing = [name for name, f in Settings.model_fields.items() if not f.description]
    assert missing == []


def test_a_setting_without_description_is_refused() -> None:
    class Undocumented(Settings):
        extra_knob: int = 3

    with pytest.raises(ValueError, match="extra_knob has no description"):
        settings_doc.settings_docs(Undocumented)


def test_committed_files_are_fresh() -> None:
    assert settings_doc.check(ROOT) == []


def test_check_fails_when_a_setting_is_added(tmp_path: Path) -> None:
    settings_doc.write(tmp_path)
    assert settings_doc.check(tmp_path) == []

    class Grown(Settings):
        new_knob: int = Field(3, description="a knob added without regenerating")

    assert settings_doc.check(tmp_path, Grown) == [".env.example", "docs/settings.md"]
    assert settings_doc.main(["--check", "--root", str(tmp_path)]) == 0
    (tmp_path / "docs/settings.md").write_text("edited by hand\n")
    assert settings_doc.main(["--check", "--root", str(tmp_path)]) == 1


def test_every_setting_is_in_the_table_and_the_example() -> None:
    table = settings_doc.markdown()
    example = settings_doc.env_example()
    for name in Settings.model_fields:
        env = f"ENGAGEMENT_{name.upper()}"
        assert f"| `{env}` |" in table
        assert re.search(rf"^# {env}=", example, re.MULTILINE), env
    assert "ENGAGEMENT_API_TOKEN" in example
    assert "ENGAGEMENT_KAFKA_SASL_PASSWORD" in example


def test_uncommented_example_loads_as_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every default in .env.example is written as the environment would have it: with every
    line uncommented, the settings are exactly the defaults."""
    for name in list(__import__("os").environ):
        if name.startswith("ENGAGEMENT_"):
            monkeypatch.delenv(name)
    lines = [
        line.removeprefix("# ")
        for line in settings_doc.env_example().splitlines()
        if re.match(r"^# ENGAGEMENT_[A-Z0-9_]+=.+", line)
    ]
    assert len(lines) >= 40
    env_file = tmp_path / ".env"
    env_file.write_text("\n".join(lines) + "\n")
    loaded = Settings(_env_file=env_file)  # type: ignore[call-arg]
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    assert loaded.model_dump() == defaults.model_dump()


def test_help_listing_shows_defaults_and_descriptions() -> None:
    listing = settings_doc.help_listing()
    assert "ENGAGEMENT_WEB_PORT (default: 6066)" in listing
    assert "ENGAGEMENT_API_TOKEN (default: (unset))" in listing
    assert "bearer token the API requires" in listing
