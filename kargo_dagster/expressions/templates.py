"""Kargo's templates: ``${{ expr }}`` (or ``${% expr %}``) inside configuration values.

Mirrors Kargo's ``pkg/expressions/json_templates.go``:

* only string values are evaluated, in maps and lists at any depth; keys never are;
* a string without ``${{`` or ``${%`` is returned unchanged (``"42"`` stays a string);
* each expression's value is rendered into the string: strings as they are, anything
  else as Go's ``json.Marshal`` writes it (``true``, ``2``, ``{"a":1}``, ``null``);
* the rendered string is then coerced, in this order, after removing one trailing newline:
  1. text wrapped in double quotes (what ``quote()`` makes) loses the quotes and stays a
     string, escapes and all, with the newline put back;
  2. text Go's ``strconv.ParseFloat`` accepts becomes a number (``"0"``, ``"1e3"``);
  3. text ``strconv.ParseBool`` accepts becomes a bool (``"true"``, ``"T"``, ``"1"`` is
     already a number by then);
  4. valid JSON becomes its value (maps, lists, ``null``);
  5. anything else stays a string, newline put back.

Numbers come out as ``int`` when integral (below 1e21), as Kargo's float64 round-trips
through JSON to an integer.
"""

import json
import math
import re
from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.evaluator import evaluate_node
from kargo_dagster.expressions.functions import TEMPLATE_FUNCTIONS
from kargo_dagster.expressions.gojson import go_sprint, marshal_json
from kargo_dagster.expressions.parser import parse

__all__ = ["as_go_bool", "coerce", "evaluate", "evaluate_template", "has_expression", "render"]

_DELIMITERS = (("${{", "}}"), ("${%", "%}"))

# Go's ParseFloat: decimal or hex floats, optional sign, "_" between digits, Inf/NaN.
# (The "_" rule is Go's underscoreOK: only between digits or after a base prefix.)
_DECIMAL = r"(?:\d(?:_?\d)*)?(?:\.(?:\d(?:_?\d)*)?)?(?:[eE][+-]?\d(?:_?\d)*)?"
_HEX = r"0[xX](?:_?[0-9a-fA-F])+(?:\.(?:[0-9a-fA-F](?:_?[0-9a-fA-F])*)?)?(?:[pP][+-]?\d+)?"
_GO_FLOAT = re.compile(rf"[+-]?(?:{_HEX}|{_DECIMAL}|(?i:inf|infinity|nan))")
_GO_BOOLS = {
    **dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
    **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False),
}


def has_expression(text: str) -> bool:
    """True when ``text`` holds an expression delimiter, i.e. Kargo would evaluate it."""
    return any(start in text for start, _ in _DELIMITERS)


def evaluate(expression: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate one expr-lang expression (without delimiters).

    Raises:
        ExpressionError: It does not parse or cannot be evaluated; ``position`` says where.
    """
    return evaluate_node(expression, parse(expression), variables)


def as_go_bool(value: Any) -> bool | None:
    """A deciding expression's result as Kargo reads it: a bool as it is, anything else by
    Go's ``strconv.ParseBool`` of its ``%v`` text; None when that is no bool."""
    if isinstance(value, bool):
        return value
    return _GO_BOOLS.get(go_sprint(value))


def render(value: Any) -> str:
    """An expression's value as Kargo writes it into a template string."""
    return value if isinstance(value, str) else marshal_json(value)


def _parse_go_float(text: str) -> float | None:
    if not text.isascii() or not _GO_FLOAT.fullmatch(text) or not any(c.isalnum() for c in text):
        return None
    body = text.lstrip("+-").replace("_", "")
    try:
        if body[:2].lower() == "0x":
            # Go insists on the binary exponent of a hex float ("0x1p-2", not "0x10").
            number = float.fromhex(text.replace("_", "")) if "p" in body.lower() else None
        else:
            number = float(text.replace("_", ""))
    except (ValueError, OverflowError):
        return None
    if number is None or (math.isinf(number) and body.lower() not in ("inf", "infinity")):
        return None
    return number


def _number(value: float) -> int | float:
    if math.isnan(value) or math.isinf(value):
        raise ExpressionError(f"json: unsupported value: {value}")
    return int(value) if value.is_integer() and abs(value) < 1e21 else value


def coerce(text: str) -> Any:
    """Kargo's coercion of a rendered template string (see the module docstring)."""
    stripped = text.removesuffix("\n")
    newline = "\n" if stripped != text else ""
    if len(stripped) > 1 and stripped.startswith('"') and stripped.endswith('"'):
        return stripped[1:-1] + newline
    number = _parse_go_float(stripped)
    if number is not None:
        return _number(number)
    if stripped in _GO_BOOLS:
        return _GO_BOOLS[stripped]
    try:
        return json.loads(stripped, parse_constant=_reject_constant, parse_float=_finite)
    except ValueError:
        return stripped + newline


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; Go's does not.
    raise ValueError(name)


def _finite(text: str) -> float:
    # Go's json rejects numbers beyond float64 where Python's would make them infinite.
    number = float(text)
    if math.isinf(number):
        raise ValueError(text)
    return number


def _next_expression(template: str) -> tuple[str, str, str, int] | None:
    found = [(template.find(start), start, end) for start, end in _DELIMITERS]
    found = [f for f in found if f[0] >= 0]
    if not found:
        return None
    index, start, end = min(found)
    body = index + len(start)
    close = template.find(end, body)
    if close < 0:
        raise ExpressionError(
            f"unclosed expression: expected {end!r} but reached end of template",
            expression=template,
            position=index,
        )
    return template[:index], template[body:close], template[close + len(end) :], index


def _evaluate_string(template: str, variables: Mapping[str, Any]) -> Any:
    if not has_expression(template):
        return template
    # quote(), unsafeQuote(), asJSON() and asYAML() exist in every Kargo template.
    variables = ChainMap(dict(variables), TEMPLATE_FUNCTIONS)
    parts: list[str] = []
    rest = template
    while (found := _next_expression(rest)) is not None:
        before, expression, rest, _ = found
        parts.extend((before, render(evaluate(expression, variables))))
    parts.append(rest)
    return coerce("".join(parts))


def evaluate_template(value: Any, variables: Mapping[str, Any]) -> Any:
    """Evaluate every ``${{ }}`` in ``value``, walking dicts and lists, as Kargo does.

    Strings are rendered and coerced (see the module docstring); other values and map keys
    are returned as they are. Containers are copied, never changed in place.

    Raises:
        ExpressionError: An expression does not parse or evaluate, or a delimiter is unclosed.
    """
    if isinstance(value, str):
        return _evaluate_string(value, variables)
    if isinstance(value, Mapping):
        return {key: evaluate_template(item, variables) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [evaluate_template(item, variables) for item in value]
    return value
