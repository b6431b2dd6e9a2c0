"""Checks a step's config against Kargo's schema for its kind, in what is written literally."""

import re
from collections.abc import Iterator, Mapping
from typing import Any

from kargo_dagster.promotion.schema_validation import schema_errors
from kargo_dagster.promotion.static_checks.config_placeholders import fill
from kargo_dagster.promotion.static_checks.schema_lookup import properties_at
from kargo_dagster.spec.diagnostics import did_you_mean
from kargo_dagster.spec.locations import FieldPath

__all__ = ["schema_issues"]

# jsonschema's wording for the rules that judge a value together with everything in it
# (oneOf, anyOf, not, enum, const, uniqueItems, contains): with an expression inside, the
# verdict depends on what it evaluates to.
_WHOLE_VALUE_RULES = (
    "valid under",
    "is not one of",
    "was expected",
    "non-unique elements",
    "does not contain items",
    "match the given schema",
)
_UNEXPECTED = re.compile(
    r"^Additional properties are not allowed \((.*) (?:was|were) unexpected\)$"
)
_NOT_OF_TYPE = " is not of type "


def _is_static(where: str, message: str, placeholders: Mapping[str, str | None]) -> bool:
    """Whether a schema error stands whatever the placeholders' expressions evaluate to."""
    for spot, text in placeholders.items():
        if where == spot:
            # Of a placeholder, only the type of one that stays a string is known.
            return text is not None and _NOT_OF_TYPE in message
        if where.startswith(spot + "."):
            return False
        inside = not where or spot.startswith(where + ".")
        if inside and any(rule in message for rule in _WHOLE_VALUE_RULES):
            return False
    return True


def _schema_message(uses: str, message: str, written: str | None) -> str:
    if written is not None:
        # The message quotes the placeholder: say what was written instead.
        expected = message.partition(_NOT_OF_TYPE)[2]
        return (
            f"Kargo's {uses} schema: {written!r} is a string whatever its expressions give "
            f"(there is text around them), but this field must be of type {expected}"
        )
    return f"Kargo's {uses} schema: {message}"


def schema_issues(uses: str, config: Mapping[str, Any]) -> Iterator[tuple[FieldPath, str]]:
    """Where ``config`` breaks Kargo's schema for ``uses`` in what is written literally."""
    placeholders: dict[str, str | None] = {}
    filled = fill(config, uses, (), placeholders)
    for line in schema_errors(uses, filled):
        where, _, message = line.partition(": ")
        where = "" if where == "(root)" else where
        if not _is_static(where, message, placeholders):
            continue
        path = tuple(int(p) if p.isdigit() else p for p in filter(None, where.split(".")))
        unexpected = _UNEXPECTED.match(message)
        if unexpected is None:
            yield path, _schema_message(uses, message, placeholders.get(where))
            continue
        known = properties_at(uses, path)
        for key in re.findall(r"'([^']*)'", unexpected.group(1)):
            yield (
                (*path, key),
                f"Kargo's {uses} schema has no field {key!r} here{did_you_mean(key, known)}",
            )
