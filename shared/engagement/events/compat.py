"""The compatibility gate of the event contract: what in a new payload schema breaks the
consumers or producers of the published one.

A payload schema (``docs/contract/schemas/<type>.json``) may only change compatibly while its
type keeps its version. Breaking, for any payload:

- a property removed;
- a property's type narrowed (a JSON type it allowed is no longer allowed);
- an enumeration narrowed (a value it allowed is no longer allowed), a ``const`` changed;
- a property newly required;
- on an input payload, a free value restricted to an enumeration (producers send others);
- on an output payload, an enumeration widened (consumers meet a value they do not know);
- an event type removed without a newer version of it (``x.v1`` may go once ``x.v2`` exists).

Adding optional properties, widening types and enums, and dropping a requirement are
compatible. ``engagement.events.contract`` runs the gate when it writes the contract (it
refuses to overwrite a schema with a breaking change) and with ``--check`` (CI).
Dev tooling: not shipped in the wheel.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["breaking_changes", "removed_types"]

_VERSION = re.compile(r"^(?P<base>.+)\.v(?P<n>\d+)$")


def _resolve(node: Any, root: Mapping[str, Any]) -> Any:
    """Follow local ``$ref``s (``#/$defs/...``) to the schema they name."""
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 20:
        ref: str = node["$ref"]
        if not ref.startswith("#/"):
            return node
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        rest = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **rest} if isinstance(target, dict) else target
        seen += 1
    return node


def _options(node: Any, root: Mapping[str, Any]) -> list[Any]:
    node = _resolve(node, root)
    if isinstance(node, dict):
        for key in ("anyOf", "oneOf"):
            if isinstance(node.get(key), list):
                return [o for item in node[key] for o in _options(item, root)]
    return [node]


def _types(node: Any, root: Mapping[str, Any]) -> set[str] | None:
    """The JSON types a schema allows (None: anything)."""
    found: set[str] = set()
    for option in _options(node, root):
        if not isinstance(option, dict):
            return None
        kind = option.get("type")
        if kind is None:
            if "enum" in option or "const" in option:
                values = option.get("enum", [option.get("const")])
                found |= {_json_type(v) for v in values}
                continue
            return None
        found |= set(kind) if isinstance(kind, list) else {kind}
    if "number" in found:
        found.add("integer")
    return found


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _values(node: Any, root: Mapping[str, Any]) -> set[Any] | None:
    """The closed set of values a schema allows (None: not an enumeration)."""
    values: set[Any] = set()
    for option in _options(node, root):
        if not isinstance(option, dict):
            return None
        if "enum" in option:
            values |= {_hashable(v) for v in option["enum"]}
        elif "const" in option:
            values.add(_hashable(option["const"]))
        elif option.get("type") == "null":
            values.add(None)
        else:
            return None
    return values


def _hashable(value: Any) -> Any:
    return repr(value) if isinstance(value, dict | list) else value


def _object(node: Any, root: Mapping[str, Any]) -> dict[str, Any] | None:
    for option in _options(node, root):
        if isinstance(option, dict) and isinstance(option.get("properties"), dict):
            return option
    return None


def _items(node: Any, root: Mapping[str, Any]) -> Any:
    for option in _options(node, root):
        if isinstance(option, dict) and option.get("type") == "array" and "items" in option:
            return option["items"]
    return None


def _additional(node: Any, root: Mapping[str, Any]) -> Any:
    for option in _options(node, root):
        if isinstance(option, dict) and isinstance(option.get("additionalProperties"), dict):
            return option["additionalProperties"]
    return None


def breaking_changes(
    old: Mapping[str, Any], new: Mapping[str, Any], *, output: bool, where: str = "data"
) -> list[str]:
    """What in ``new`` breaks the users of ``old`` (empty: compatible). ``output``: the
    service publishes the payload (else: it is an input, written by producers)."""
    return _compare(old, new, old, new, where, output, depth=0)


def _compare(
    old: Any,
    new: Any,
    old_root: Mapping[str, Any],
    new_root: Mapping[str, Any],
    where: str,
    output: bool,
    depth: int,
) -> list[str]:
    if depth > 30:
        return []
    problems: list[str] = []
    old_types, new_types = _types(old, old_root), _types(new, new_root)
    if old_types is not None:
        lost = old_types - new_types if new_types is not None else set()
        if lost:
            problems.append(f"{where}: type narrowed, no longer {', '.join(sorted(lost))}")
    old_values, new_values = _values(old, old_root), _values(new, new_root)
    if new_values is not None:
        if old_values is None:
            if not output:
                shown = ", ".join(sorted(map(str, new_values)))
                problems.append(f"{where}: now restricted to {shown}")
        else:
            lost_values = old_values - new_values
            if lost_values:
                shown = ", ".join(sorted(str(v) for v in lost_values))
                problems.append(f"{where}: enumeration narrowed, no longer {shown}")
            gained = new_values - old_values
            if output and gained:
                shown = ", ".join(sorted(str(v) for v in gained))
                problems.append(f"{where}: enumeration widened on an output, now also {shown}")
    old_obj, new_obj = _object(old, old_root), _object(new, new_root)
    if old_obj is not None and new_obj is not None:
        old_props, new_props = old_obj["properties"], new_obj["properties"]
        for name in sorted(old_props):
            if name not in new_props:
                problems.append(f"{where}.{name}: removed")
            else:
                problems += _compare(
                    old_props[name],
                    new_props[name],
                    old_root,
                    new_root,
                    f"{where}.{name}",
                    output,
                    depth + 1,
                )
        newly = set(new_obj.get("required", [])) - set(old_obj.get("required", []))
        for name in sorted(newly):
            problems.append(f"{where}.{name}: newly required")
    elif old_obj is not None and new_obj is None and new_types is not None:
        problems.append(f"{where}: no longer an object with properties")
    old_items, new_items = _items(old, old_root), _items(new, new_root)
    if old_items is not None and new_items is not None:
        problems += _compare(
            old_items, new_items, old_root, new_root, f"{where}[]", output, depth + 1
        )
    old_extra, new_extra = _additional(old, old_root), _additional(new, new_root)
    if old_extra is not None and new_extra is not None:
        problems += _compare(
            old_extra, new_extra, old_root, new_root, f"{where}{{}}", output, depth + 1
        )
    return problems


def removed_types(old: Iterable[str], new: Iterable[str]) -> list[str]:
    """Event types of ``old`` missing from ``new`` without a newer version there."""
    current = set(new)
    newest: dict[str, int] = {}
    for event_type in current:
        match = _VERSION.match(event_type)
        if match:
            base, n = match["base"], int(match["n"])
            newest[base] = max(newest.get(base, 0), n)
    removed = []
    for event_type in sorted(set(old) - current):
        match = _VERSION.match(event_type)
        if match is None or newest.get(match["base"], 0) <= int(match["n"]):
            removed.append(event_type)
    return removed
