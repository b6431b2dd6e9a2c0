"""Go's ``time.Duration``: ``time.ParseDuration``, ``Duration.String()`` and its methods.

A duration is a signed count of nanoseconds, as in Go; it prints as ``1h30m0s`` and
marshals to JSON as the bare count (``time.Duration`` has no JSON method).
"""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.gotype import go_type
from kargo_dagster.expressions.objects import GoStruct
from kargo_dagster.go_duration import (
    HOUR,
    MICROSECOND,
    MILLISECOND,
    MINUTE,
    NANOSECOND,
    SECOND,
    format_nanoseconds,
    parse_nanoseconds,
    time_quote,
)

__all__ = [
    "HOUR",
    "MICROSECOND",
    "MILLISECOND",
    "MINUTE",
    "NANOSECOND",
    "SECOND",
    "Duration",
    "duration_argument",
    "format_duration",
    "parse_duration",
    "time_quote",
    "wrap_int64",
]

_MAX_INT64 = 2**63 - 1
_MIN_INT64 = -(2**63)


def wrap_int64(value: int) -> int:
    """``value`` as Go's int64 arithmetic leaves it (wrapping around on overflow)."""
    return (value - _MIN_INT64) % 2**64 + _MIN_INT64


def _truncated_divmod(value: int, divisor: int) -> tuple[int, int]:
    # Go's integer / and % truncate towards zero.
    quotient = abs(value) // abs(divisor)
    if (value < 0) != (divisor < 0):
        quotient = -quotient
    return quotient, value - quotient * divisor


@dataclass(frozen=True)
class Duration(GoStruct):
    """Go's ``time.Duration``: a signed count of nanoseconds; marshals to JSON as that count."""

    nanoseconds: int
    _methods: ClassVar[frozenset[str]] = frozenset(
        {
            "Hours", "Minutes", "Seconds", "Milliseconds", "Microseconds", "Nanoseconds",
            "String", "Round", "Truncate", "Abs",
        }
    )  # fmt: skip

    def go_json(self) -> Any:
        """A ``time.Duration`` has no JSON method: Go writes the integer."""
        return self.nanoseconds

    def go_field_names(self) -> list[str]:
        """A duration has no fields."""
        return []

    def go_type_name(self) -> str:
        """``time.Duration``."""
        return "time.Duration"

    def go_string(self) -> str:
        """``fmt`` prints a duration with its ``String()``."""
        return format_duration(self.nanoseconds)

    def timedelta(self) -> timedelta:
        """The duration as a :class:`timedelta` (sub-microsecond digits truncated)."""
        micro = abs(self.nanoseconds) // MICROSECOND
        return timedelta(microseconds=-micro if self.nanoseconds < 0 else micro)

    # Go's method names are the expression API, hence the capitalised methods below.

    def _float_units(self, unit: int) -> float:
        whole, rest = _truncated_divmod(self.nanoseconds, unit)
        return float(whole) + float(rest) / float(unit)

    def Hours(self) -> float:
        return self._float_units(HOUR)

    def Minutes(self) -> float:
        return self._float_units(MINUTE)

    def Seconds(self) -> float:
        return self._float_units(SECOND)

    def Milliseconds(self) -> int:
        return _truncated_divmod(self.nanoseconds, MILLISECOND)[0]

    def Microseconds(self) -> int:
        return _truncated_divmod(self.nanoseconds, MICROSECOND)[0]

    def Nanoseconds(self) -> int:
        return self.nanoseconds

    def String(self) -> str:
        return format_duration(self.nanoseconds)

    def Truncate(self, multiple: Any) -> "Duration":
        step = duration_argument(multiple, "Truncate").nanoseconds
        if step <= 0:
            return self
        return Duration(self.nanoseconds - _truncated_divmod(self.nanoseconds, step)[1])

    def Round(self, multiple: Any) -> "Duration":
        step = duration_argument(multiple, "Round").nanoseconds
        if step <= 0:
            return self
        rest = abs(_truncated_divmod(self.nanoseconds, step)[1])
        magnitude = abs(self.nanoseconds)
        # Halfway rounds away from zero; Go saturates where the result would overflow.
        rounded = magnitude - rest if rest + rest < step else magnitude + step - rest
        value = -rounded if self.nanoseconds < 0 else rounded
        return Duration(min(max(value, _MIN_INT64), _MAX_INT64))

    def Abs(self) -> "Duration":
        if self.nanoseconds == _MIN_INT64:
            return Duration(_MAX_INT64)
        return Duration(abs(self.nanoseconds))


def duration_argument(value: Any, method: str) -> Duration:
    """``value`` if it is a Duration, else the error a method with a Duration argument gives."""
    if not isinstance(value, Duration):
        raise ExpressionError(f"{method}: argument must be time.Duration, not {go_type(value)}")
    return value


def parse_duration(text: str) -> Duration:
    """Go's ``time.ParseDuration``: ``300ms``, ``-1.5h``, ``2h45m``; units ns us µs ms s m h.

    Raises:
        ExpressionError: Go's message, e.g. ``time: unknown unit "d" in duration "1d"``.
    """
    try:
        return Duration(parse_nanoseconds(text))
    except ValueError as error:
        raise ExpressionError(str(error)) from None


def format_duration(nanoseconds: int) -> str:
    """Go's ``Duration.String()``: ``1h0m0s``, ``1m30s``, ``1.5s``, ``2ms``, ``0s``."""
    return format_nanoseconds(nanoseconds)
