"""Configurations derived from a step's Kargo JSON schema: one valid, and variations of it.

:func:`schema_cases` walks a schema and yields labelled configurations: the smallest one the
schema accepts (its required properties), that one with each optional property set, and for
every property it reaches one with the property missing (if required), of each wrong JSON
type, and breaking each constraint the schema puts on it (``enum``, ``pattern``, ``format``,
``minLength``, ``minItems``, ``minProperties``, ``minimum``, ``maximum``, ``uniqueItems``,
no unknown properties). The cases do not say whether they are valid: the test asks the
schema, then checks the step's model answers the same.
"""

import copy
from collections.abc import Iterator, Mapping
from typing import Any

from kargo_dagster.promotion.schema_validation import config_schema_file, read_schema

__all__ = ["minimal_config", "schema_cases"]

# A value of each JSON type, to put where the schema wants another.
_OF_TYPE: dict[str, Any] = {
    "string": "text",
    "integer": 7,
    "number": 2.5,
    "boolean": True,
    "array": ["text"],
    "object": {"k": "v"},
    "null": None,
}

# Values of the wrong type that a lenient parser would still take for the wanted one.
_LOOKALIKES: dict[str, dict[str, Any]] = {
    "boolean": {"string": "true", "integer": 1, "number": 1.0},
    "integer": {"string": "7"},
}

# Each pattern in Kargo's schemas, with a string it accepts and one it refuses.
_PATTERNS: dict[str, tuple[str, str]] = {
    "^0[0-7]{3}$": ("0644", "644"),
    r"(?:\d+(ns|us|µs|ms|s|m|h))+": ("5m", "soon"),
    "^(DELETE|GET|HEAD|PATCH|POST|PUT)$": ("POST", "FETCH"),
    "^https?://.*$": ("https://proxy.example.com:3128", "socks5://proxy.example.com"),
    "^(application/json|application/yaml|text/plain)$": ("application/yaml", "text/html"),
    r"^(oci://)?[a-zA-Z0-9._-]+(:\d+)?(/[a-zA-Z0-9._-]+)*[@:][a-zA-Z0-9._:-]+$": (
        "oci://ghcr.io/acme/app:1.0.0",
        "ghcr.io/acme/app",
    ),
    r"^(oci://)?[a-zA-Z0-9._-]+(:\d+)?(/[a-zA-Z0-9._-]+)*[:][a-zA-Z0-9._-]+$": (
        "ghcr.io/acme/app:2.0.0",
        "ghcr.io/acme/app@sha256:abc",
    ),
}

_FORMATS: dict[str, tuple[str, str]] = {
    "uri": ("https://git.example.com/acme/app.git", "git.example.com/acme/app.git"),
    "email": ("kargo@example.com", "kargo.example.com"),
}


class _Schema:
    """One step's schema, with ``$ref`` resolution into it and the shared files."""

    def __init__(self, step: str) -> None:
        self.root: dict[str, Any] = read_schema(config_schema_file(step))

    def resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in node:
            file, _, pointer = node["$ref"].partition("#")
            target: Any = read_schema(file) if file else self.root
            for part in pointer.strip("/").split("/"):
                target = target[part]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return node


def _wrong_types(node: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    kind = node.get("type")
    if kind is None:
        return
    for name, value in _OF_TYPE.items():
        # JSON Schema counts an integer as a number.
        if name != kind and not (kind == "number" and name == "integer"):
            yield name, value
    for name, value in _LOOKALIKES.get(kind, {}).items():
        yield f"{name} lookalike", value


def _string(node: Mapping[str, Any]) -> str:
    if "pattern" in node:
        return _PATTERNS[node["pattern"]][0]
    if "format" in node:
        return _FORMATS[node["format"]][0]
    return "x" * max(node.get("minLength", 1), 1)


def _sample(schema: _Schema, raw: Mapping[str, Any]) -> Any:
    """A small value ``raw`` accepts; an object takes the first ``oneOf``/``anyOf`` branch."""
    node = schema.resolve(raw)
    if "const" in node:
        return node["const"]
    kind = node.get("type")
    if "enum" in node:
        return next(v for v in node["enum"] if v is not None)
    if kind == "string":
        return _string(node)
    if kind == "integer":
        return max(node.get("minimum", 1), 1)
    if kind == "boolean":
        return True
    if kind == "array":
        return [_sample(schema, node["items"]) for _ in range(max(node.get("minItems", 1), 1))]
    if kind == "object" or "properties" in node:
        properties = node.get("properties", {})
        value = {key: _sample(schema, properties[key]) for key in node.get("required", ())}
        extra = node.get("additionalProperties")
        if isinstance(extra, Mapping) and node.get("minProperties", 0) > 0:
            value["key"] = _sample(schema, extra)  # pyright: ignore[reportArgumentType]
        if not value and node.get("minProperties", 0) > 0:
            value["key"] = "value"
        choices = _branch_choices(schema, node, value)
        return choices[0][1] if choices and _needs_branch(node) else value
    return "value"


def _branches(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(node.get("oneOf") or node.get("anyOf") or ())


def _needs_branch(node: Mapping[str, Any]) -> bool:
    """Whether every ``oneOf``/``anyOf`` branch of ``node`` requires some property."""
    branches = _branches(node)
    return bool(branches) and all(b.get("required") for b in branches)


def _branch_choices(
    schema: _Schema, node: Mapping[str, Any], value: dict[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """``value`` given the properties each ``oneOf``/``anyOf`` branch requires, by branch."""
    properties = node.get("properties", {})
    choices: list[tuple[str, dict[str, Any]]] = []
    for branch in _branches(node):
        if not branch.get("required"):
            continue
        chosen = dict(value)
        for key in branch["required"]:
            constraints = branch.get("properties", {}).get(key, {})
            chosen[key] = _sample(schema, {**schema.resolve(properties[key]), **constraints})
        choices.append(("+".join(branch["required"]), chosen))
    return choices


def minimal_config(step: str) -> dict[str, Any]:
    """The smallest configuration Kargo's schema for ``step`` accepts: its required keys."""
    schema = _Schema(step)
    return _sample(schema, schema.root)


def _variants(
    schema: _Schema, raw: Mapping[str, Any], value: Any, where: str
) -> Iterator[tuple[str, Any]]:
    """``(label, replacement)`` for ``value``, which ``raw`` describes, at ``where``."""
    node = schema.resolve(raw)
    for name, wrong in _wrong_types(node):
        yield f"{where}: {name} instead", wrong
    if "enum" in node and node.get("type") == "string":
        yield f"{where}: not in enum", "not-a-choice"
    if "const" in node:
        yield f"{where}: not the constant", not node["const"]
    kind = node.get("type")
    if kind == "string":
        yield from _string_variants(node, where)
    elif kind == "integer":
        yield f"{where}: integral float", float(value)
        if "minimum" in node:
            yield f"{where}: below minimum", node["minimum"] - 1
            yield f"{where}: at minimum", node["minimum"]
        if "maximum" in node:
            yield f"{where}: above maximum", node["maximum"] + 1
            yield f"{where}: at maximum", node["maximum"]
    elif kind == "array":
        yield from _array_variants(schema, node, value, where)
    elif kind == "object" or "properties" in node:
        yield from _object_variants(schema, node, value, where)


def _string_variants(node: Mapping[str, Any], where: str) -> Iterator[tuple[str, Any]]:
    yield f"{where}: empty", ""
    if "pattern" in node:
        yield f"{where}: pattern mismatch", _PATTERNS[node["pattern"]][1]
    if "format" in node:
        yield f"{where}: not a {node['format']}", _FORMATS[node["format"]][1]


def _array_variants(
    schema: _Schema, node: Mapping[str, Any], value: list[Any], where: str
) -> Iterator[tuple[str, Any]]:
    yield f"{where}: empty", []
    if node.get("uniqueItems"):
        yield f"{where}: duplicates", [value[0], value[0]]
    for label, item in _variants(schema, node["items"], value[0], f"{where}.0"):
        yield label, [item, *value[1:]]


def _object_variants(
    schema: _Schema,
    node: Mapping[str, Any],
    value: dict[str, Any],
    where: str,
    *,
    other_branches: bool = True,
) -> Iterator[tuple[str, Any]]:
    if where == "(root)":
        inner = ""
    elif where.startswith("(root)"):
        inner = f"{where.removeprefix('(root)')} "
    else:
        inner = f"{where}."
    if other_branches:
        # ``value`` took the first branch (or none); each other branch gets variants too.
        required = {key: value[key] for key in node.get("required", ()) if key in value}
        for name, chosen in _branch_choices(schema, node, required):
            if chosen != value:
                yield f"{where}[{name}]: set", chosen
                yield from _object_variants(
                    schema, node, chosen, f"{where}[{name}]", other_branches=False
                )
    if node.get("additionalProperties") is False:
        yield f"{where}: unknown property", {**value, "unknownProperty": "x"}
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping):
        yield f"{where}: no entries", {}
        for name, wrong in _wrong_types(schema.resolve(extra)):  # pyright: ignore[reportArgumentType]
            yield f"{where}: {name} entry", {"key": wrong}
    if "properties" not in node and node.get("minProperties", 0) > 0:
        yield f"{where}: no entries", {}
    for key in node.get("required", ()):
        yield f"{inner}{key}: missing", {k: v for k, v in value.items() if k != key}
    for key, raw in node.get("properties", {}).items():
        if key in value:
            current, label = value[key], f"{inner}{key}"
        else:
            current, label = _sample(schema, raw), f"{inner}{key} (optional)"
            yield f"{label}: set", {**value, key: current}
        for variant, replacement in _variants(schema, raw, current, label):
            yield variant, {**value, key: replacement}


def schema_cases(step: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(label, config)``: the minimal configuration for ``step``, then variations of it."""
    schema = _Schema(step)
    base = minimal_config(step)
    yield "minimal", base
    for label, config in _variants(schema, schema.root, base, "(root)"):
        # A step's configuration is always a mapping: Kargo's manifests say so.
        if isinstance(config, dict):
            yield label, copy.deepcopy(config)
