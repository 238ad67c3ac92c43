"""The breaking-change gate of the event contract: a deliberately breaking edit of a payload
fails `make contract` (and is not written) unless the type's version is bumped."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from engagement.events import contract
from engagement.events.compat import breaking_changes, removed_types
from engagement.events.models import ALL_TYPES, OUTPUT_TYPES

CONTRACT = Path(__file__).resolve().parents[3] / "docs" / "contract"
LEVEL = "engagement.level.changed.v1"
PROFILE = "intranet.org.profile.v1"


def committed(event_type: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CONTRACT / f"schemas/{event_type}.json").read_text())
    return data


def test_the_models_are_compatible_with_the_committed_schemas() -> None:
    assert contract.breaking(CONTRACT) == []
    for event_type in ALL_TYPES:
        old = committed(event_type)
        assert breaking_changes(old, old, output=event_type in OUTPUT_TYPES) == []


def test_a_removed_field_breaks() -> None:
    new = copy.deepcopy(committed(LEVEL))
    del new["properties"]["confidence"]
    new["required"].remove("confidence")
    assert breaking_changes(committed(LEVEL), new, output=True) == ["data.confidence: removed"]


def test_a_narrowed_enum_breaks_inputs_and_outputs() -> None:
    for event_type, output in ((LEVEL, True), (PROFILE, False)):
        new = copy.deepcopy(committed(event_type))
        levels = new["$defs"]["Level"]["enum"]
        levels.remove("co_creating")
        problems = breaking_changes(committed(event_type), new, output=output)
        assert problems, event_type
        assert all("enumeration narrowed, no longer co_creating" in p for p in problems)


def test_a_new_required_field_breaks() -> None:
    new = copy.deepcopy(committed(PROFILE))
    new["properties"]["region"] = {"type": "string"}
    new["required"] = [*new["required"], "region"]
    assert breaking_changes(committed(PROFILE), new, output=False) == [
        "data.region: newly required"
    ]


def test_compatible_changes_pass() -> None:
    new = copy.deepcopy(committed(PROFILE))
    new["properties"]["region"] = {"type": "string"}  # optional field added
    new["$defs"]["Level"]["enum"].append("transforming")  # input enum widened
    new["required"] = []  # requirement dropped
    assert breaking_changes(committed(PROFILE), new, output=False) == []
    # ... but a widened enum on an output reaches consumers that do not know the value
    out = copy.deepcopy(committed(LEVEL))
    out["$defs"]["Level"]["enum"].append("transforming")
    assert breaking_changes(committed(LEVEL), out, output=True)


def test_a_type_narrowed_nested_breaks() -> None:
    old = committed("engagement.score.updated.v1")
    new = copy.deepcopy(old)
    new["$defs"]["ComponentFigure"]["properties"]["numerator"]["type"] = "string"
    problems = breaking_changes(old, new, output=True)
    assert any("components.reach.numerator: type narrowed" in p for p in problems)


def test_removed_types_need_a_newer_version() -> None:
    assert removed_types(["a.v1", "b.v1"], ["a.v2"]) == ["b.v1"]
    assert removed_types(["a.v2"], ["a.v1"]) == ["a.v2"]


class _LevelChangedNarrowed(BaseModel):
    """The level changed (a deliberately breaking edit: a level and a field gone)."""

    org_id: str
    from_level: Literal["initiation", "informing", "engaging"] | None
    to_level: Literal["initiation", "informing", "engaging"]
    at: str
    deciding_components: list[str]


def _workspace(tmp_path: Path) -> Path:
    out = tmp_path / "contract"
    shutil.copytree(CONTRACT, out)
    return out


def test_a_deliberately_breaking_edit_fails_the_check_and_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _workspace(tmp_path)
    before = (out / f"schemas/{LEVEL}.json").read_text()
    monkeypatch.setitem(contract.ALL_TYPES, LEVEL, _LevelChangedNarrowed)
    monkeypatch.setitem(contract.OUTPUT_TYPES, LEVEL, _LevelChangedNarrowed)
    problems = contract.breaking(out)
    assert f"{LEVEL}: data.confidence: removed" in problems
    assert any("to_level: enumeration narrowed, no longer co_creating" in p for p in problems)
    capsys.readouterr()
    assert contract.main(["--check", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "Breaking changes" in err
    assert ".v2" in err
    assert contract.main(["--out", str(out)]) == 1  # regenerating refuses
    with pytest.raises(ValueError, match="breaking changes"):
        contract.write(out)
    assert (out / f"schemas/{LEVEL}.json").read_text() == before


def test_the_same_edit_as_a_new_version_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _workspace(tmp_path)
    v2 = "engagement.level.changed.v2"
    monkeypatch.setitem(contract.ALL_TYPES, v2, _LevelChangedNarrowed)
    monkeypatch.setitem(contract.OUTPUT_TYPES, v2, _LevelChangedNarrowed)
    assert contract.breaking(out) == []
    contract.write(out)
    assert (out / f"schemas/{v2}.json").is_file()
    # the v1 may then be retired: a newer version exists
    monkeypatch.delitem(contract.ALL_TYPES, LEVEL)
    monkeypatch.delitem(contract.OUTPUT_TYPES, LEVEL)
    assert contract.breaking(out) == []


def test_removing_a_type_without_a_newer_version_breaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _workspace(tmp_path)
    monkeypatch.delitem(contract.ALL_TYPES, LEVEL)
    assert contract.breaking(out) == [f"{LEVEL}: event type removed without a newer version"]


def test_named_enums_in_every_schema() -> None:
    for event_type in ALL_TYPES:
        text = json.dumps(committed(event_type))
        assert text.count('"co_creating"') <= 1, event_type  # never an inlined copy
    level = committed(LEVEL)
    assert level["properties"]["to_level"] == {"$ref": "#/$defs/Level"}
    alert = committed("engagement.alert.v1")
    assert alert["properties"]["status"] == {"$ref": "#/$defs/AlertStatus"}
    assert alert["properties"]["severity"]["$ref"] == "#/$defs/Severity"
    assert alert["$defs"]["Severity"]["enum"] == ["warning", "critical"]


def test_bundled_document_is_self_contained() -> None:
    bundled = contract.bundled_document()
    contract.validate_asyncapi(bundled)  # no file references left
    schemas = bundled["components"]["schemas"]
    assert {"Level", "Component", "AlertStatus", "Severity", "ScoreUpdated"} <= set(schemas)
    assert bundled["components"]["messages"][LEVEL]["payload"] == {
        "$ref": "#/components/schemas/LevelChanged"
    }
    text = json.dumps(bundled)
    assert "#/$defs/" not in text
    assert '"schemas/' not in text
    assert (CONTRACT / contract.BUNDLED_FILE).read_text() == contract.generate()[
        contract.BUNDLED_FILE
    ]
