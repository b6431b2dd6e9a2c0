"""The expr-lang built-in functions Kargo manifests use.

A subset of expr v1.17's ``builtin`` package, with its names and argument orders:
``len``, ``lower``, ``upper``, ``trim``, ``trimPrefix``, ``trimSuffix``, ``split``,
``join``, ``replace``, ``repeat``, ``indexOf``, ``hasPrefix``, ``hasSuffix``, ``string``,
``int``, ``float``, ``abs``, ``max``, ``min``, ``keys``, ``values``, ``first``, ``last``,
``toJSON``, ``fromJSON``, ``toBase64``, ``fromBase64``, ``now``. Predicate built-ins
(``map``, ``filter``, ...) and date arithmetic are not provided.
"""

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.gojson import GoValue, go_sprint, marshal_json

__all__ = ["BUILTINS", "go_type"]


def go_type(value: Any) -> str:
    """The Go type name expr would print for a value, for error messages."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "map"
    if isinstance(value, datetime):
        return "time.Time"
    return type(value).__name__


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
    "join": _join,
    "replace": lambda s, old, new: _string(s, "replace's text").replace(old, new),
    "repeat": lambda s, n: _string(s, "repeat's text") * n,
    "indexOf": lambda s, sub: _string(s, "indexOf's text").find(sub),
    "hasPrefix": lambda s, p: _string(s, "hasPrefix's text").startswith(p),
    "hasSuffix": lambda s, p: _string(s, "hasSuffix's text").endswith(p),
    "string": lambda v: v if isinstance(v, str) else go_sprint(v),
    "int": _to_int,
    "float": _to_float,
    "abs": lambda n: abs(_numbers("abs", (n,))[0]),
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
    "now": lambda: datetime.now(UTC),
}
