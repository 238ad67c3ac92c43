"""The generated contract: JSON Schemas agree with the models, the AsyncAPI document is valid,
and the committed files are up to date."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from pydantic import ValidationError

from engagement.events import ALL_TYPES, INPUT_TYPES, OUTPUT_TYPES, DeadLetterReason, topics
from engagement.events.contract import (
    asyncapi_document,
    check,
    default_output_dir,
    generate,
    main,
    schema_id,
    validate_asyncapi,
    write,
)

REPO = Path(__file__).resolve().parents[3]
CONTRACT = REPO / "docs" / "contract"


def load_schema(event_type: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        (CONTRACT / "schemas" / f"{event_type}.json").read_text("utf-8")
    )
    return schema


def validator(event_type: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        load_schema(event_type), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


@pytest.mark.parametrize("event_type", sorted(ALL_TYPES))
def test_schema_file_is_a_valid_2020_12_schema_with_stable_id(event_type: str) -> None:
    schema = load_schema(event_type)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"urn:engagement-score:schema:{event_type}"
    assert schema["x-cloudevents-type"] == event_type


@pytest.mark.parametrize("event_type", sorted(ALL_TYPES))
def test_schema_validates_its_examples(event_type: str) -> None:
    examples = load_schema(event_type)["examples"]
    assert examples
    for example in examples:
        validator(event_type).validate(example)
        # and what the model publishes for that example validates too
        dumped = ALL_TYPES[event_type].model_validate(example).model_dump(mode="json")
        validator(event_type).validate(dumped)


@pytest.mark.parametrize("event_type", sorted(INPUT_TYPES))
def test_schema_accepts_minimal_payload_and_extra_fields(event_type: str) -> None:
    model = INPUT_TYPES[event_type]
    example = model.model_json_schema()["examples"][0]
    minimal = {k: v for k, v in example.items() if model.model_fields[k].is_required()}
    validator(event_type).validate({**minimal, "something_new": [1, {"a": None}]})


# Payloads both the model and the published schema must refuse.
INVALID: list[tuple[str, dict[str, Any]]] = [
    ("intranet.visit.v1", {"org_id": "org-1"}),
    ("intranet.visit.v1", {"org_id": "", "account_id": "a"}),
    ("intranet.visit.v1", {"org_id": 1, "account_id": "a"}),
    ("intranet.account.created.v1", {"org_id": "o", "account_id": "a", "kind": "admin"}),
    (
        "intranet.account.created.v1",
        {"org_id": "o", "account_id": "a", "activated_at": "2025-01-01T00:00:00"},
    ),
    (
        "intranet.content.published.v1",
        {
            "org_id": "o",
            "account_id": "a",
            "content_id": "c",
            "content_type": "message",
            "audience_size": 0,
        },
    ),
    (
        "intranet.content.published.v1",
        {
            "org_id": "o",
            "account_id": "a",
            "content_id": "c",
            "content_type": "message",
            "audience_size": "5",
        },
    ),
    ("intranet.interaction.v1", {"org_id": "o", "account_id": "a", "kind": "share"}),
    ("intranet.org.profile.v1", {"org_id": "o", "employees": -3}),
    ("intranet.org.profile.v1", {"org_id": "o", "platform_type": "forum"}),
    ("intranet.org.profile.v1", {"org_id": "o", "timezone": None}),
    (
        "engagement.month.closed.v1",
        {
            "org_id": "o",
            "month": "2025-13",
            "as_of": "2025-02-01T00:00:00Z",
            "timezone": "Europe/Amsterdam",
            "components": {},
            "engagement_score": None,
        },
    ),
    (
        "engagement.alert.v1",
        {
            "org_id": "o",
            "alert": "a",
            "status": "pending",
            "severity": "warning",
            "text": "t",
            "at": "2025-01-31T09:00:00Z",
        },
    ),
    (
        "engagement.level.changed.v1",
        {
            "org_id": "o",
            "to_level": "engaging",
            "at": "2025-01-31T09:00:00Z",
            "confidence": 0.5,
            "deciding_components": [],
        },
    ),
]


@pytest.mark.parametrize(("event_type", "payload"), INVALID)
def test_schema_and_model_refuse_the_same_payloads(
    event_type: str, payload: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        ALL_TYPES[event_type].model_validate(payload)
    with pytest.raises(jsonschema.ValidationError):
        validator(event_type).validate(payload)


# --- AsyncAPI ----------------------------------------------------------------------------------


def load_asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((CONTRACT / "asyncapi.yaml").read_text("utf-8"))
    return document


def test_asyncapi_is_valid_and_resolves() -> None:
    document = load_asyncapi()
    assert document["asyncapi"] == "3.0.0"
    files = [str(p.relative_to(CONTRACT)) for p in (CONTRACT / "schemas").glob("*.json")]
    validate_asyncapi(document, files)


def test_asyncapi_describes_every_topic_and_type() -> None:
    document = load_asyncapi()
    expected_topics = {
        topics.ACTIVITY_TOPIC: "receive",
        topics.ORG_PROFILES_TOPIC: "receive",
        topics.ACTIVITY_DLQ_TOPIC: "send",
        topics.SCORES_TOPIC: "send",
        topics.MONTHLY_TOPIC: "send",
        topics.LEVEL_CHANGES_TOPIC: "send",
        topics.ALERTS_TOPIC: "send",
        topics.BENCHMARKS_TOPIC: "send",
    }
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == set(expected_topics)
    actions = {
        op["channel"]["$ref"].split("/")[-1]: op["action"] for op in document["operations"].values()
    }
    assert actions == expected_topics
    messages = document["components"]["messages"]
    [trait_name] = document["components"]["messageTraits"]
    headers = document["components"]["messageTraits"][trait_name]["headers"]
    assert "ce_time" in headers["required"]
    assert sorted(headers["properties"]["ce_type"]["enum"]) == sorted(ALL_TYPES)
    for event_type in ALL_TYPES:
        message = messages[event_type]
        assert message["payload"] == {"$ref": f"schemas/{event_type}.json"}
        assert "headers" not in message  # one shared trait, not 13 copies
        assert message["traits"] == [{"$ref": f"#/components/messageTraits/{trait_name}"}]
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        example = message["examples"][0]
        validator(event_type).validate(example["payload"])
        jsonschema.Draft202012Validator(headers).validate(example["headers"])
        assert example["headers"]["ce_type"] == event_type
        if event_type in OUTPUT_TYPES:
            assert message["x-dataschema"] == schema_id(event_type)
            assert schema_id(event_type) == load_schema(event_type)["$id"]
    assert document["servers"]["local"]["protocol"] == "kafka"
    reasons = messages["dead-letter"]["headers"]["properties"]["engagement_dlq_reason"]["enum"]
    assert reasons == [r.value for r in DeadLetterReason]
    for event_type in OUTPUT_TYPES:
        channel = topics.OUTPUT_TOPIC_BY_TYPE[event_type]
        assert event_type in document["channels"][channel]["messages"]


def test_asyncapi_validation_catches_broken_references() -> None:
    document = asyncapi_document()
    document["channels"][topics.SCORES_TOPIC]["messages"]["x"] = {"$ref": "#/components/nope"}
    with pytest.raises(ValueError, match="unresolved"):
        validate_asyncapi(document, [f"schemas/{t}.json" for t in ALL_TYPES])
    with pytest.raises(ValueError, match="not generated"):
        validate_asyncapi(asyncapi_document(), [])


# --- generation and --check ----------------------------------------------------------------------


def test_default_output_dir_is_the_repository_contract() -> None:
    assert default_output_dir() == CONTRACT


def test_generation_is_deterministic() -> None:
    assert generate() == generate()


def test_committed_contract_is_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert check(CONTRACT) == []
    assert main(["--check", "--out", str(CONTRACT)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_check_lists_stale_missing_and_obsolete_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "contract"
    shutil.copytree(CONTRACT, out)
    assert main(["--check", "--out", str(out)]) == 0
    (out / "schemas" / "intranet.visit.v1.json").write_text("{}\n", "utf-8")
    (out / "schemas" / "intranet.interaction.v1.json").unlink()
    # an older version of a type that has a newer one may go
    (out / "schemas" / "intranet.visit.v0.json").write_text("{}\n", "utf-8")
    capsys.readouterr()
    assert main(["--check", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "stale" in err
    assert "Breaking" not in err
    for name in (
        "intranet.visit.v1.json",
        "intranet.interaction.v1.json",
        "intranet.visit.v0.json",
    ):
        assert name in err
    changed = write(out)
    assert len(changed) == 3
    assert check(out) == []
    assert not (out / "schemas" / "intranet.visit.v0.json").exists()
    assert (out / "README.md").is_file()  # hand-written docs are left alone


def test_cli_module_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "engagement.events.contract", "--check", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "asyncapi.yaml" in result.stderr
    result = subprocess.run(
        [sys.executable, "-m", "engagement.events.contract", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert check(tmp_path) == []
