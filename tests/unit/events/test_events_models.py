"""Payload validation: required fields, defaults, types and the output models' own rules."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from engagement.events import (
    ACTIVITY_TYPES,
    INPUT_TYPES,
    ORG_PROFILE_TYPE,
    AccountCreated,
    Alert,
    BenchmarkUpdated,
    ComponentFigure,
    Components,
    DeadLetterReason,
    InboundEvent,
    LevelChanged,
    OrgProfile,
    Quartiles,
    RejectedEvent,
    ScoreUpdated,
    decode_activity,
    decode_org_profile,
)
from engagement.events.fields import LEVELS, is_valid_timezone


def minimal(event_type: str) -> dict[str, Any]:
    """Only the required fields, taken from the model's first schema example."""
    model = INPUT_TYPES[event_type]
    example = model.model_json_schema()["examples"][0]
    return {k: v for k, v in example.items() if model.model_fields[k].is_required()}


def decode(records: Any, now: datetime, event_type: str, data: Any) -> InboundEvent:
    key, value, headers = records.binary(event_type, data)
    decoder = decode_org_profile if event_type == ORG_PROFILE_TYPE else decode_activity
    return decoder(key, value, headers, now=now)


def rejected(records: Any, now: datetime, event_type: str, data: Any) -> RejectedEvent:
    with pytest.raises(RejectedEvent) as info:
        decode(records, now, event_type, data)
    return info.value


REQUIRED = [
    (event_type, name)
    for event_type, model in INPUT_TYPES.items()
    for name, field in model.model_fields.items()
    if field.is_required()
]


def test_required_fields_are_the_contracts() -> None:
    required = {(t, n) for t, n in REQUIRED}
    ids = {"org_id", "account_id"}
    expected = {
        *(("intranet.account.created.v1", n) for n in ids),
        *(("intranet.account.deleted.v1", n) for n in ids),
        *(("intranet.visit.v1", n) for n in ids),
        *(("intranet.content.published.v1", n) for n in (*ids, "content_id", "content_type")),
        *(("intranet.content.viewed.v1", n) for n in (*ids, "content_id", "content_type")),
        *(("intranet.interaction.v1", n) for n in (*ids, "kind")),
        (ORG_PROFILE_TYPE, "org_id"),
    }
    assert required == expected


@pytest.mark.parametrize(("event_type", "field"), REQUIRED)
def test_missing_required_field_is_invalid_data(
    records: Any, now: datetime, event_type: str, field: str
) -> None:
    data = minimal(event_type)
    assert decode(records, now, event_type, data).type == event_type  # control
    del data[field]
    error = rejected(records, now, event_type, data)
    assert error.reason is DeadLetterReason.INVALID_DATA
    assert f"data.{field}" in error.detail


@pytest.mark.parametrize(("event_type", "field"), REQUIRED)
def test_null_required_field_is_invalid_data(
    records: Any, now: datetime, event_type: str, field: str
) -> None:
    data = {**minimal(event_type), field: None}
    error = rejected(records, now, event_type, data)
    assert error.reason is DeadLetterReason.INVALID_DATA
    assert f"data.{field}" in error.detail


DEFAULTS: dict[str, dict[str, Any]] = {
    "intranet.account.created.v1": {"kind": "member", "activated_at": None},
    "intranet.account.deleted.v1": {},
    "intranet.visit.v1": {"client": None},
    "intranet.content.published.v1": {
        "action": "created",
        "channel_id": None,
        "audience_size": None,
    },
    "intranet.content.viewed.v1": {},
    "intranet.interaction.v1": {"target_id": None},
    ORG_PROFILE_TYPE: {
        "name": None,
        "sector": None,
        "employees": None,
        "platform_type": "intranet",
        "target_level": None,
        "timezone": "Europe/Amsterdam",
    },
}


def test_every_optional_field_has_a_tested_default() -> None:
    for event_type, model in INPUT_TYPES.items():
        optional = {n for n, f in model.model_fields.items() if not f.is_required()}
        assert optional == set(DEFAULTS[event_type]), event_type


@pytest.mark.parametrize("event_type", sorted(INPUT_TYPES))
def test_optional_fields_take_their_defaults(records: Any, now: datetime, event_type: str) -> None:
    event = decode(records, now, event_type, minimal(event_type))
    for name, default in DEFAULTS[event_type].items():
        assert getattr(event.data, name) == default, name


@pytest.mark.parametrize("event_type", sorted(INPUT_TYPES))
def test_optional_fields_accept_explicit_values(
    records: Any, now: datetime, event_type: str
) -> None:
    full = INPUT_TYPES[event_type].model_json_schema()["examples"][-1]
    event = decode(records, now, event_type, full)
    for name, value in full.items():
        if name != "activated_at":
            assert getattr(event.data, name) == value


MISTYPED: list[tuple[str, str, Any]] = [
    ("intranet.visit.v1", "org_id", 17),
    ("intranet.visit.v1", "account_id", 123),
    ("intranet.visit.v1", "account_id", ""),
    ("intranet.visit.v1", "account_id", ["acc-1"]),
    ("intranet.visit.v1", "client", 5),
    ("intranet.account.created.v1", "kind", "admin"),
    ("intranet.account.created.v1", "kind", None),
    ("intranet.account.created.v1", "activated_at", "yesterday"),
    ("intranet.account.created.v1", "activated_at", 1700000000),
    ("intranet.account.created.v1", "activated_at", "2025-01-01T00:00:00"),
    ("intranet.account.created.v1", "activated_at", "2025-01-01"),
    ("intranet.content.published.v1", "content_type", "video"),
    ("intranet.content.published.v1", "action", "deleted"),
    ("intranet.content.published.v1", "audience_size", 0),
    ("intranet.content.published.v1", "audience_size", "10"),
    ("intranet.content.published.v1", "audience_size", 10.0),
    ("intranet.content.published.v1", "audience_size", True),
    ("intranet.content.published.v1", "channel_id", ""),
    ("intranet.content.viewed.v1", "content_type", "MESSAGE"),
    ("intranet.interaction.v1", "kind", "share"),
    ("intranet.interaction.v1", "target_id", 9),
    (ORG_PROFILE_TYPE, "employees", -1),
    (ORG_PROFILE_TYPE, "employees", "12"),
    (ORG_PROFILE_TYPE, "employees", 12.5),
    (ORG_PROFILE_TYPE, "platform_type", "forum"),
    (ORG_PROFILE_TYPE, "platform_type", None),
    (ORG_PROFILE_TYPE, "target_level", "expert"),
    (ORG_PROFILE_TYPE, "timezone", "Mars/Olympus_Mons"),
    (ORG_PROFILE_TYPE, "timezone", "../../etc/passwd"),
    (ORG_PROFILE_TYPE, "timezone", None),
    (ORG_PROFILE_TYPE, "sector", ""),
]


@pytest.mark.parametrize(("event_type", "field", "bad"), MISTYPED)
def test_mistyped_field_is_invalid_data(
    records: Any, now: datetime, event_type: str, field: str, bad: Any
) -> None:
    data = {**INPUT_TYPES[event_type].model_json_schema()["examples"][-1], field: bad}
    error = rejected(records, now, event_type, data)
    assert error.reason is DeadLetterReason.INVALID_DATA
    assert f"data.{field}" in error.detail


@pytest.mark.parametrize("event_type", sorted(INPUT_TYPES))
def test_unknown_extra_fields_are_ignored(records: Any, now: datetime, event_type: str) -> None:
    data = {
        **minimal(event_type),
        "future_field": {"nested": [1, 2, {"deep": None}]},
        "x-tracking": "abc",
    }
    event = decode(records, now, event_type, data)
    assert event.data == INPUT_TYPES[event_type].model_validate(minimal(event_type))
    assert "future_field" not in event.data.model_dump()


def test_activated_at_is_normalised_to_utc(records: Any, now: datetime) -> None:
    data = {"org_id": "org-1", "account_id": "a", "activated_at": "2025-01-01T10:00:00+01:00"}
    event = decode(records, now, "intranet.account.created.v1", data)
    assert isinstance(event.data, AccountCreated)
    assert event.data.activated_at == datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
    assert event.data.activated_at.tzinfo is UTC


def test_activity_registry_matches_the_contract() -> None:
    assert sorted(ACTIVITY_TYPES) == [
        "intranet.account.created.v1",
        "intranet.account.deleted.v1",
        "intranet.content.published.v1",
        "intranet.content.viewed.v1",
        "intranet.interaction.v1",
        "intranet.visit.v1",
    ]
    assert ORG_PROFILE_TYPE == "intranet.org.profile.v1"
    assert INPUT_TYPES[ORG_PROFILE_TYPE] is OrgProfile


def test_models_are_frozen() -> None:
    profile = OrgProfile(org_id="org-1")
    with pytest.raises(ValidationError):
        profile.org_id = "org-2"  # type: ignore[misc]


def test_timezones() -> None:
    assert is_valid_timezone("Europe/Amsterdam")
    assert is_valid_timezone("UTC")
    assert not is_valid_timezone("")
    assert not is_valid_timezone("/etc/localtime")
    assert not is_valid_timezone("Europe")


def test_levels_are_ordered() -> None:
    assert LEVELS == ("initiation", "informing", "engaging", "co_creating")


# --- output models ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "value"),
    [(1, 3, 33.3), (2, 3, 66.7), (0, 5, 0.0), (5, 5, 100.0), (0, 0, None), (96, 100, 96.0)],
)
def test_component_figure_from_counts(numerator: int, denominator: int, value: float) -> None:
    figure = ComponentFigure.from_counts(numerator, denominator)
    assert (figure.value, figure.numerator, figure.denominator) == (value, numerator, denominator)


def test_component_figure_rounds_to_one_decimal() -> None:
    assert ComponentFigure(value=41.2849, numerator=1, denominator=2).value == 41.3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"value": 0.0, "numerator": 0, "denominator": 0},  # 0 denominator must give null
        {"value": None, "numerator": 0, "denominator": 4},  # a denominator must give a value
        {"value": 100.1, "numerator": 1, "denominator": 1},
        {"value": -1.0, "numerator": 1, "denominator": 1},
        {"value": float("nan"), "numerator": 1, "denominator": 1},
        {"value": 50.0, "numerator": -1, "denominator": 2},
        {"value": 50.0, "numerator": 1.0, "denominator": 2},
    ],
)
def test_component_figure_rejects(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ComponentFigure(**kwargs)


def _components() -> Components:
    figure = ComponentFigure.from_counts(1, 2)
    return Components(reach=figure, visit=figure, view=figure, interact=figure, contribute=figure)


def _score(**overrides: Any) -> ScoreUpdated:
    base: dict[str, Any] = {
        "org_id": "org-1",
        "as_of": datetime(2025, 1, 31, 9, tzinfo=UTC),
        "timezone": "Europe/Amsterdam",
        "window_start": date(2025, 1, 2),
        "window_end": date(2025, 1, 31),
        "components": _components(),
        "engagement_score": 50.04,
        "month": "2025-01",
        "month_to_date": _components(),
        "month_engagement_score": None,
    }
    return ScoreUpdated(**{**base, **overrides})


def test_score_updated_optional_fields_default_to_none() -> None:
    score = _score()
    assert score.engagement_score == 50.0
    for name in (
        "operating_level",
        "level_confidence",
        "target_level",
        "target_gap",
        "benchmark_position",
    ):
        assert getattr(score, name) is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"window_start": date(2025, 2, 1)},
        {"month": "2025-13"},
        {"month": "2025-1"},
        {"timezone": "Nowhere/Land"},
        {"as_of": datetime(2025, 1, 31, 9)},  # naive
        {"operating_level": "expert"},
        {"level_confidence": 1.5},
        {"benchmark_position": {"reach": "middle"}},
        {"engagement_score": 120.0},
    ],
)
def test_score_updated_rejects(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        _score(**overrides)


def test_level_changed_first_level_has_no_from() -> None:
    change = LevelChanged(
        org_id="org-1",
        from_level=None,
        to_level="informing",
        at=datetime(2025, 1, 31, tzinfo=UTC),
        confidence=0.9,
        deciding_components=["view"],
    )
    assert change.from_level is None


def test_quartiles_must_be_ordered() -> None:
    with pytest.raises(ValidationError):
        Quartiles(p25=50.0, median=40.0, p75=60.0)


def test_alert_status_is_closed() -> None:
    with pytest.raises(ValidationError):
        Alert(
            org_id="org-1",
            alert="score_drop",
            status="pending",
            severity="warning",
            text="x",
            at=datetime(2025, 1, 31, tzinfo=UTC),
        )


def test_benchmark_group_platform_type_is_closed() -> None:
    with pytest.raises(ValidationError):
        BenchmarkUpdated.model_validate(
            {
                "group": {"sector": "s", "size_band": "b", "platform_type": "forum"},
                "org_count": 5,
                "components": {},
            }
        )


def test_every_model_accepts_its_own_examples() -> None:
    from engagement.events import ALL_TYPES

    for event_type, model in ALL_TYPES.items():
        examples = model.model_json_schema().get("examples")
        assert examples, event_type
        for example in examples:
            parsed: BaseModel = model.model_validate(example)
            assert model.model_validate_json(parsed.model_dump_json()) == parsed
