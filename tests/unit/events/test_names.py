"""The events package mirrors the domain's level and component names (one source: the domain).

``engagement.events`` must not import ``engagement.domain``, so its Literal types spell the
names out again; this pins the mirror to the domain tuples, order included.
"""

from __future__ import annotations

from dataclasses import fields
from typing import get_args

from engagement.domain import COMPONENTS, LEVELS
from engagement.domain.levels import DEFAULT_PROFILES, LevelProfile
from engagement.events import models
from engagement.events.fields import COMPONENT_NAMES, ComponentName, Level
from engagement.events.fields import LEVELS as EVENT_LEVELS


def test_level_literal_is_the_domain_levels() -> None:
    assert get_args(Level) == LEVELS
    assert EVENT_LEVELS == LEVELS


def test_component_literal_is_the_domain_components() -> None:
    assert get_args(ComponentName) == COMPONENTS
    assert COMPONENT_NAMES == COMPONENTS


def test_published_components_are_the_domain_components() -> None:
    assert tuple(models.Components.model_fields) == COMPONENTS


def test_level_fields_of_output_events_use_the_level_literal() -> None:
    for model, name in (
        (models.OrgProfile, "target_level"),
        (models.ScoreUpdated, "operating_level"),
        (models.ScoreUpdated, "target_level"),
        (models.LevelChanged, "to_level"),
    ):
        values = _literal_values(model.model_fields[name].annotation) - {type(None)}
        assert values == set(LEVELS), (model.__name__, name)


def test_domain_level_profiles_cover_the_levels_and_components() -> None:
    assert tuple(DEFAULT_PROFILES) == LEVELS
    assert tuple(f.name for f in fields(LevelProfile)) == COMPONENTS


def _literal_values(annotation: object) -> set[object]:
    """The values of a Literal, or of the Literals in a union (other members as themselves)."""
    values: set[object] = set()
    for arg in get_args(annotation):
        values.update(get_args(arg) or {arg})
    return values
