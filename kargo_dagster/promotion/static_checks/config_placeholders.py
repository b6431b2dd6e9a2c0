"""Step configs with each string holding an expression replaced by a value the schema allows."""

import copy
import re
from collections.abc import Mapping
from typing import Any

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions import has_expression
from kargo_dagster.promotion.static_checks.field_paths import dotted
from kargo_dagster.promotion.static_checks.schema_lookup import types_at
from kargo_dagster.promotion.static_checks.template_issues import split_template
from kargo_dagster.spec.locations import FieldPath

__all__ = ["fill"]

# A placeholder per JSON type, in the order one is picked when several are allowed.
_PLACEHOLDERS: dict[str, Any] = {
    "string": "placeholder",
    "boolean": False,
    "integer": 1,
    "number": 1,
    "object": {},
    "array": [],
    "null": None,
}
# Literal text that, around an expression, could still read as a number or JSON.
_NOT_TEXT = re.compile(r"^[\s\d.+\-_eE]*$|^\s*[\[{\"]")


def _stays_text(value: str) -> bool:
    """Whether a string holding expressions is a string whatever they evaluate to."""
    try:
        _, literals = split_template(value)
    except ExpressionError:
        return True
    return not _NOT_TEXT.search("".join(literals))


def fill(value: Any, uses: str, path: FieldPath, placeholders: dict[str, str | None]) -> Any:
    """``value`` with each string holding an expression replaced by a placeholder.

    ``placeholders`` receives the dotted path of each, with the string when it stays a
    string whatever its expressions give (text around them), else None.
    """
    if isinstance(value, Mapping):
        return {k: fill(v, uses, (*path, str(k)), placeholders) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, uses, (*path, i), placeholders) for i, v in enumerate(value)]
    if not (isinstance(value, str) and has_expression(value)):
        return value
    if _stays_text(value):
        placeholders[dotted(path)] = value
        return _PLACEHOLDERS["string"]
    placeholders[dotted(path)] = None
    allowed = types_at(uses, path)
    kind = next((t for t in _PLACEHOLDERS if not allowed or t in allowed), "string")
    return copy.deepcopy(_PLACEHOLDERS[kind])
