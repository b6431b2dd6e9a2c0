"""Finds in Kargo's JSON schemas for step configs what applies at a field of a config."""

from collections.abc import Mapping
from typing import Any

from kargo_dagster.promotion.schema_validation import config_schema_file, read_schema
from kargo_dagster.spec.locations import FieldPath

__all__ = ["properties_at", "types_at"]

_Located = tuple[Mapping[str, Any], str]
"""A schema and the file its ``$ref`` are relative to."""


def _config_schema(uses: str) -> _Located:
    name = config_schema_file(uses)
    return read_schema(name), name


def _expand(schema: Mapping[str, Any], file: str) -> list[_Located]:
    """``schema`` with what it refers to and combines: every schema that applies there."""
    found: list[_Located] = [(schema, file)]
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target, _, pointer = ref.partition("#")
        target = target or file
        node: Any = read_schema(target)
        for part in filter(None, pointer.split("/")):
            node = node[part]
        found.extend(_expand(node, target))
    for combinator in ("allOf", "anyOf", "oneOf"):
        for member in schema.get(combinator, ()):
            found.extend(_expand(member, file))
    return found


def _child(schema: Mapping[str, Any], key: str | int) -> list[Mapping[str, Any]]:
    if isinstance(key, int):
        items = schema.get("items")
        return [items] if isinstance(items, Mapping) else []
    properties = schema.get("properties", {})
    if key in properties:
        return [properties[key]]
    extra = schema.get("additionalProperties")
    return [extra] if isinstance(extra, Mapping) else []


def _schemas_at(uses: str, path: FieldPath) -> list[_Located]:
    current = _expand(*_config_schema(uses))
    for key in path:
        current = [found for s, f in current for c in _child(s, key) for found in _expand(c, f)]
    return current


def types_at(uses: str, path: FieldPath) -> set[str]:
    types: set[str] = set()
    for schema, _ in _schemas_at(uses, path):
        declared = schema.get("type", [])
        types.update([declared] if isinstance(declared, str) else declared)
    return types


def properties_at(uses: str, path: FieldPath) -> set[str]:
    return {key for schema, _ in _schemas_at(uses, path) for key in schema.get("properties", {})}
