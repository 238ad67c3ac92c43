"""Named schema definitions for the contract's shared enumerations.

pydantic inlines a ``Literal`` wherever it is used, so the JSON Schema of a payload repeats
``{"enum": ["initiation", ...], "type": "string"}`` in every field with a level, and code
generators turn each copy into an anonymous type (``FromLevel``, ``ToLevel``,
``OperatingLevel``...). :func:`name_enums` replaces every such copy with a reference to one
named definition (``Level``), so generated Python and TypeScript get one ``Level`` enum.

Used by the AsyncAPI/JSON Schema generator (``engagement.events.contract``) and by the
OpenAPI document of the HTTP API (``engagement_scorer.openapi``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, get_args

from .fields import (
    AccountKind,
    BenchmarkSide,
    ComponentName,
    ContentType,
    InteractionKind,
    Level,
    PlatformType,
    PublishAction,
)

__all__ = ["NAMED_ENUMS", "enum_definitions", "name_enums"]

#: Schema name -> (values in their published order, description).
NAMED_ENUMS: Final[dict[str, tuple[tuple[str, ...], str]]] = {
    "Level": (
        get_args(Level),
        "Internal Communication ambition level, in ascending order.",
    ),
    "Component": (get_args(ComponentName), "One of the five adoption components."),
    "AlertStatus": (("firing", "resolved"), "Whether an alert started or ended."),
    "Severity": (("warning", "critical"), "How urgent an alert is."),
    "BenchmarkSide": (
        get_args(BenchmarkSide),
        "A value's side of its benchmark group's median.",
    ),
    "AccountKind": (get_args(AccountKind), "Kind of account; only members count by default."),
    "ContentType": (get_args(ContentType), "Kind of published content."),
    "PublishAction": (get_args(PublishAction), "Whether content was created or edited."),
    "InteractionKind": (get_args(InteractionKind), "Kind of interaction."),
    "PlatformType": (get_args(PlatformType), "Kind of platform the organisation runs."),
}

_BY_VALUES: Final = {frozenset(values): name for name, (values, _) in NAMED_ENUMS.items()}


def enum_definitions(names: set[str] | None = None) -> dict[str, dict[str, Any]]:
    """The named definitions (all, or ``names``), as JSON Schemas."""
    return {
        name: {"title": name, "description": text, "type": "string", "enum": list(values)}
        for name, (values, text) in NAMED_ENUMS.items()
        if names is None or name in names
    }


def _named(node: Mapping[str, Any]) -> str | None:
    values = node.get("enum")
    if not isinstance(values, list) or node.get("type", "string") != "string":
        return None
    if not all(isinstance(v, str) for v in values):
        return None
    return _BY_VALUES.get(frozenset(values))


def name_enums(
    schema: Any,
    ref_prefix: str,
    overrides: Mapping[tuple[str, str], str] | None = None,
    used: set[str] | None = None,
) -> Any:
    """A copy of ``schema`` with every inlined shared enum replaced by ``{"$ref":
    ref_prefix + Name}`` (other keywords, such as ``default`` or ``description``, stay beside
    the reference); ``used`` collects the names referenced.

    ``overrides``: (object title, property) -> enum name, for string fields the models keep
    open (an alert's ``severity``) but whose published values are a closed set.
    """
    found = used if used is not None else set()

    def walk(node: Any, title: str | None) -> Any:
        if isinstance(node, list):
            return [walk(item, title) for item in node]
        if not isinstance(node, dict):
            return node
        name = _named(node)
        if name is not None:
            found.add(name)
            rest = {k: v for k, v in node.items() if k not in ("enum", "type", "title")}
            return {"$ref": ref_prefix + name, **rest}
        own_title = node.get("title") if isinstance(node.get("title"), str) else title
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                props = {}
                for prop, sub in value.items():
                    target = (overrides or {}).get((str(own_title), prop))
                    props[prop] = (
                        _override(sub, ref_prefix + target, found, target)
                        if target
                        else walk(sub, own_title)
                    )
                out[key] = props
            else:
                out[key] = walk(value, own_title)
        return out

    return walk(schema, None)


def _override(node: dict[str, Any], ref: str, found: set[str], name: str) -> dict[str, Any]:
    """A string property (or nullable string) typed as a named enum instead."""
    found.add(name)
    keep = {k: v for k, v in node.items() if k in ("description", "default")}
    options = node.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        return {"anyOf": [{"$ref": ref}, {"type": "null"}], **keep}
    return {"$ref": ref, **keep}
