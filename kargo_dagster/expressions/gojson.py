"""Go's text forms of values: ``encoding/json`` and ``fmt``'s ``%v``.

Kargo renders every non-string expression result with Go's ``json.Marshal`` before
coercing the template, so the exact text matters: map keys sorted, no spaces, ``<``,
``>`` and ``&`` escaped as ``\\u003c``..., floats in their shortest form (``2`` for 2.0,
``1e+21``, ``1e-7``), times as RFC 3339 with nanoseconds, durations as their nanoseconds.
``fmt``'s ``%v`` prints times, durations and versions with their ``String()`` methods.
"""

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.gotime import time_string

__all__ = ["GoStringer", "GoValue", "format_float", "go_sprint", "marshal_json", "rfc3339_nano"]


@runtime_checkable
class GoValue(Protocol):
    """An object that stands for a Go value and knows its JSON form (Kargo's structs)."""

    def go_json(self) -> Any:
        """What Go's ``json.Marshal`` would see: plain dicts, lists, strings and numbers."""
        ...


@runtime_checkable
class GoStringer(Protocol):
    """An object standing for a Go value that may have a ``String()`` method."""

    def go_string(self) -> str | None:
        """What ``fmt`` prints for the value, or None if its Go type has no ``String()``."""
        ...


_HTML_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def _digits(value: float) -> tuple[str, int]:
    # The shortest digits that round-trip (Python's repr, like Go's 'g' with -1) and the
    # decimal exponent of the first digit.
    _sign, digits, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    return text, exponent + len(text) - 1


def format_float(value: float, *, json_style: bool) -> str:
    """A float64 as Go writes it: ``json.Marshal`` (``json_style``) or ``%v``.

    Raises:
        ExpressionError: ``json_style`` and the value is NaN or infinite, which JSON cannot hold.
    """
    if math.isnan(value) or math.isinf(value):
        if json_style:
            raise ExpressionError(f"json: unsupported value: {go_sprint(value)}")
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    digits, exponent = _digits(value)
    sign = "-" if value < 0 else ""
    scientific = not (1e-6 <= abs(value) < 1e21) if json_style else not (-4 <= exponent < 21)
    if scientific:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        width = 1 if json_style else 2
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):0{width}d}"
    text = format(Decimal(repr(abs(value))), "f")
    # Only a fraction loses its trailing zeros: 1.5e17 is 150000000000000000, not 15.
    return sign + (text.rstrip("0").rstrip(".") if "." in text else text)


def rfc3339_nano(moment: datetime) -> str:
    """Go's ``time.RFC3339Nano`` text: fraction without trailing zeros, ``Z`` for UTC."""
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    offset = moment.utcoffset()
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _plain(value: Any) -> Any:
    return value.go_json() if isinstance(value, GoValue) else value


def marshal_json(value: Any, *, indent: str = "") -> str:
    """``json.Marshal`` (or ``json.MarshalIndent(v, "", indent)``) of a value.

    Raises:
        ExpressionError: The value has no JSON form (NaN, a function).
    """
    return _marshal(_plain(value), indent, "")


def _marshal(value: Any, indent: str, prefix: str) -> str:
    value = _plain(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return format_float(value, json_style=True)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).translate(_HTML_ESCAPES)
    if isinstance(value, datetime):
        return f'"{rfc3339_nano(value)}"'
    inner = prefix + indent
    newline, colon = ("\n", ": ") if indent else ("", ":")
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        items = [
            f"{newline}{inner}{_marshal(str(k), indent, inner)}{colon}{_marshal(v, indent, inner)}"
            for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
        ]
        return "{" + ",".join(items) + f"{newline}{prefix}" + "}"
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        if not value:
            return "[]"
        items = [f"{newline}{inner}{_marshal(v, indent, inner)}" for v in value]
        return "[" + ",".join(items) + f"{newline}{prefix}" + "]"
    raise ExpressionError(f"json: unsupported type: {type(value).__name__}")


def go_sprint(value: Any) -> str:
    """Go's ``fmt.Sprint`` (``%v``) of a value, which expr's ``string()`` uses."""
    if isinstance(value, GoStringer) and (text := value.go_string()) is not None:
        return text
    value = _plain(value)
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_float(value, json_style=False)
    if isinstance(value, datetime):
        return time_string(value)
    if isinstance(value, Mapping):
        pairs = sorted((str(k), go_sprint(v)) for k, v in value.items())
        return "map[" + " ".join(f"{k}:{v}" for k, v in pairs) + "]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(go_sprint(v) for v in value) + "]"
    return str(value)
