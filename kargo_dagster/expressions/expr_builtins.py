"""The expr-lang built-in functions Kargo manifests use.

A subset of expr v1.17's ``builtin`` package, with its names and argument orders:
``len``, ``lower``, ``upper``, ``trim``, ``trimPrefix``, ``trimSuffix``, ``split``,
``splitAfter``, ``join``, ``replace``, ``repeat``, ``indexOf``, ``lastIndexOf``,
``hasPrefix``, ``hasSuffix``, ``string``, ``int``, ``float``, ``abs``, ``round``, ``ceil``,
``floor``, ``max``, ``min``, ``keys``, ``values``, ``first``, ``last``, ``toJSON``,
``fromJSON``, ``toBase64``, ``fromBase64``, the array and map helpers of
:mod:`kargo_dagster.expressions.array_builtins`, and for time ``now([location])``,
``date(text[, layout[, zone]])`` (or ``date(location, text[, layout])``),
``duration(text)`` and ``timezone(name)`` (see
:mod:`kargo_dagster.expressions.gotime`). The predicate built-ins (``map``, ``filter``,
...) are in :mod:`kargo_dagster.expressions.predicates`. Not provided: ``type``, ``mean``,
``median`` and the ``bit*`` functions.
"""

import base64
import binascii
import json
import math
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.array_builtins import ARRAY_BUILTINS
from kargo_dagster.expressions.goduration import parse_duration
from kargo_dagster.expressions.gojson import GoValue, go_sprint, marshal_json
from kargo_dagster.expressions.gotime import Location, load_location, parse_date
from kargo_dagster.expressions.gotype import go_type

__all__ = ["BUILTINS", "go_type", "now_in"]


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ExpressionError(f"{what} must be a string, not {go_type(value)}")
    return value


def _len(value: Any) -> int:
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise ExpressionError(f"invalid argument for len (type {go_type(value)})")


def _trim(text: Any, chars: Any = None) -> str:
    text = _string(text, "trim's argument")
    return text.strip() if chars is None else text.strip(_string(chars, "trim's cutset"))


def _split(text: Any, separator: Any, limit: Any = None) -> list[str]:
    text, separator = _string(text, "split's text"), _string(separator, "split's separator")
    if separator == "":
        parts = list(text)
    elif limit is None or limit < 0:
        parts = text.split(separator)
    elif limit == 0:
        return []
    else:
        parts = text.split(separator, limit - 1)
    return parts


def _split_after(text: Any, separator: Any, limit: Any = -1) -> list[str]:
    # Go's strings.SplitAfterN: like split, but each part keeps its separator.
    text = _string(text, "splitAfter's text")
    separator = _string(separator, "splitAfter's separator")
    if limit == 0:
        return []
    if separator == "":
        parts = list(text)
        if 0 < limit < len(parts):
            parts = [*parts[: limit - 1], "".join(parts[limit - 1 :])]
        return parts
    pieces = text.split(separator) if limit < 0 else text.split(separator, limit - 1)
    return [piece + separator for piece in pieces[:-1]] + pieces[-1:]


def _rounding(name: str, function: Callable[[float], float]) -> Callable[[Any], float]:
    def rounded(value: Any) -> float:
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ExpressionError(f"invalid argument for {name} (type {go_type(value)})")
        # Go's math functions return infinities and NaN unchanged; ints become floats.
        if isinstance(value, int) or not math.isfinite(value):
            return float(value)
        return float(function(value))

    return rounded


def _round_half_away(value: float) -> float:
    # Go's math.Round: halves round away from zero (Python's round() goes to even).
    whole = math.trunc(value)
    if abs(value - whole) >= 0.5:
        whole += 1 if value > 0 else -1
    return float(whole)


def _join(items: Any, separator: Any = "") -> str:
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ExpressionError(f"join needs an array of strings, not {go_type(items)}")
    return _string(separator, "join's separator").join(items)


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or value is None:
        raise ExpressionError(f"invalid operation: int({go_type(value)})")
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip(), 10)
        except ValueError:
            raise ExpressionError(f"cannot convert {value!r} to int") from None
    if isinstance(value, int):
        return value
    raise ExpressionError(f"invalid operation: int({go_type(value)})")


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise ExpressionError(f"invalid operation: float({go_type(value)})")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise ExpressionError(f"cannot convert {value!r} to float") from None
    raise ExpressionError(f"invalid operation: float({go_type(value)})")


def _from_json(text: Any) -> Any:
    def reject(constant: str) -> Any:
        raise ValueError(f"invalid JSON value {constant}")

    try:
        return json.loads(_string(text, "fromJSON's argument"), parse_constant=reject)
    except ValueError as error:
        raise ExpressionError(f"fromJSON: {error}") from None


def _from_base64(text: Any) -> str:
    try:
        return base64.b64decode(_string(text, "fromBase64's argument"), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ExpressionError(f"fromBase64: {error}") from None


def _numbers(name: str, values: tuple[Any, ...]) -> tuple[Any, ...]:
    if len(values) == 1 and isinstance(values[0], list | tuple):
        values = tuple(values[0])
    if not values or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in values
    ):
        raise ExpressionError(f"{name} needs numbers")
    return values


def _mapping(value: Any, name: str) -> Mapping[Any, Any]:
    if isinstance(value, GoValue) and not isinstance(value, Mapping):
        value = value.go_json()
    if not isinstance(value, Mapping):
        raise ExpressionError(f"{name} needs a map, not {go_type(value)}")
    return value


def now_in(clock: Callable[[], datetime], *args: Any) -> datetime:
    """expr's ``now()`` or ``now(location)`` read from ``clock``.

    Raises:
        ExpressionError: The argument is not a location from ``timezone()``.
    """
    if not args:
        return clock()
    if len(args) == 1 and isinstance(args[0], Location):
        return clock().astimezone(args[0].zone)
    raise ExpressionError(f"invalid number of arguments (expected 0, got {len(args)})")


def _duration(text: Any) -> Any:
    return parse_duration(_string(text, "duration's argument"))


def _edge(items: Any, index: int) -> Any:
    if not isinstance(items, list | tuple):
        raise ExpressionError(f"cannot take an element of {go_type(items)}")
    return items[index] if items else None


BUILTINS: dict[str, Callable[..., Any]] = {
    "len": _len,
    "lower": lambda s: _string(s, "lower's argument").lower(),
    "upper": lambda s: _string(s, "upper's argument").upper(),
    "trim": _trim,
    "trimPrefix": lambda s, p=" ": _string(s, "trimPrefix's text").removeprefix(p),
    "trimSuffix": lambda s, p=" ": _string(s, "trimSuffix's text").removesuffix(p),
    "split": _split,
    "splitAfter": _split_after,
    "join": _join,
    "replace": lambda s, old, new: _string(s, "replace's text").replace(old, new),
    "repeat": lambda s, n: _string(s, "repeat's text") * n,
    "indexOf": lambda s, sub: _string(s, "indexOf's text").find(sub),
    "lastIndexOf": lambda s, sub: _string(s, "lastIndexOf's text").rfind(sub),
    "hasPrefix": lambda s, p: _string(s, "hasPrefix's text").startswith(p),
    "hasSuffix": lambda s, p: _string(s, "hasSuffix's text").endswith(p),
    "string": lambda v: v if isinstance(v, str) else go_sprint(v),
    "int": _to_int,
    "float": _to_float,
    "abs": lambda n: abs(_numbers("abs", (n,))[0]),
    "round": _rounding("round", _round_half_away),
    "ceil": _rounding("ceil", math.ceil),
    "floor": _rounding("floor", math.floor),
    "max": lambda *v: max(_numbers("max", v)),
    "min": lambda *v: min(_numbers("min", v)),
    "keys": lambda m: list(_mapping(m, "keys")),
    "values": lambda m: list(_mapping(m, "values").values()),
    "first": lambda items: _edge(items, 0),
    "last": lambda items: _edge(items, -1),
    "toJSON": lambda v: marshal_json(v, indent="  "),
    "fromJSON": _from_json,
    "toBase64": lambda s: base64.b64encode(_string(s, "toBase64's argument").encode()).decode(),
    "fromBase64": _from_base64,
    "now": lambda *args: now_in(lambda: datetime.now(UTC), *args),
    "date": parse_date,
    "duration": _duration,
    "timezone": load_location,
    **ARRAY_BUILTINS,
}
