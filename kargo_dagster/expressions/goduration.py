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

NANOSECOND = 1
MICROSECOND = 1000
MILLISECOND = 1000 * MICROSECOND
SECOND = 1000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
_MAX_INT64 = 2**63 - 1
_MIN_INT64 = -(2**63)


def wrap_int64(value: int) -> int:
    """``value`` as Go's int64 arithmetic leaves it (wrapping around on overflow)."""
    return (value - _MIN_INT64) % 2**64 + _MIN_INT64


def time_quote(text: str) -> str:
    """A value quoted as Go's time package quotes it in errors."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


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


_UNITS = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "µs": MICROSECOND,  # U+00B5 micro sign
    "μs": MICROSECOND,  # U+03BC Greek small letter mu
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}


def parse_duration(text: str) -> Duration:
    """Go's ``time.ParseDuration``: ``300ms``, ``-1.5h``, ``2h45m``; units ns us µs ms s m h.

    Raises:
        ExpressionError: Go's message, e.g. ``time: unknown unit "d" in duration "1d"``.
    """
    invalid = ExpressionError(f"time: invalid duration {time_quote(text)}")
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return Duration(0)
    if not rest:
        raise invalid
    total = 0
    while rest:
        if not (rest[0] == "." or (rest[0].isascii() and rest[0].isdigit())):
            raise invalid
        digits = _leading_digits(rest)
        whole_text, rest = rest[:digits], rest[digits:]
        if whole_text and int(whole_text) > _MAX_INT64 + 1:
            raise invalid
        fraction, scale, has_fraction = 0, 1.0, False
        if rest.startswith("."):
            rest = rest[1:]
            digits = _leading_digits(rest)
            fraction, scale = _leading_fraction(rest[:digits])
            has_fraction, rest = digits > 0, rest[digits:]
        if not whole_text and not has_fraction:
            raise invalid
        end = 0
        while end < len(rest) and not (rest[end] == "." or "0" <= rest[end] <= "9"):
            end += 1
        if end == 0:
            raise ExpressionError(f"time: missing unit in duration {time_quote(text)}")
        unit_text, rest = rest[:end], rest[end:]
        unit = _UNITS.get(unit_text)
        if unit is None:
            raise ExpressionError(
                f"time: unknown unit {time_quote(unit_text)} in duration {time_quote(text)}"
            )
        value = int(whole_text or "0")
        if value > 2**63 // unit:
            raise invalid
        value *= unit
        if fraction > 0:
            # Go computes the fraction in float64, to stay nanosecond-accurate for hours.
            value += int(float(fraction) * (float(unit) / scale))
            if value > 2**63:
                raise invalid
        total += value
        if total > 2**63:
            raise invalid
    if negative:
        return Duration(-total)
    if total > _MAX_INT64:
        raise invalid
    return Duration(total)


def _leading_digits(text: str) -> int:
    count = 0
    while count < len(text) and "0" <= text[count] <= "9":
        count += 1
    return count


def _leading_fraction(digits: str) -> tuple[int, float]:
    # Go stops accumulating digits once more would overflow an int64.
    value, scale = 0, 1.0
    for char in digits:
        if value > _MAX_INT64 // 10:
            break
        candidate = value * 10 + int(char)
        if candidate > 2**63:
            break
        value, scale = candidate, scale * 10
    return value, scale


def format_duration(nanoseconds: int) -> str:
    """Go's ``Duration.String()``: ``1h0m0s``, ``1m30s``, ``1.5s``, ``2ms``, ``0s``."""
    if nanoseconds == 0:
        return "0s"
    magnitude = abs(nanoseconds)
    sign = "-" if nanoseconds < 0 else ""
    if magnitude < SECOND:
        # Below a second, the largest unit that keeps a whole number in front.
        for unit, size in (("ms", MILLISECOND), ("µs", MICROSECOND), ("ns", NANOSECOND)):
            if magnitude >= size:
                return f"{sign}{_fraction(magnitude, size)}{unit}"
    seconds, rest = divmod(magnitude, SECOND)
    text = _fraction(rest + (seconds % 60) * SECOND, SECOND) + "s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        hours = minutes // 60
        if hours:
            text = f"{hours}h{text}"
    return sign + text


def _fraction(value: int, unit: int) -> str:
    whole, rest = divmod(value, unit)
    if not rest:
        return str(whole)
    width = len(str(unit)) - 1
    return f"{whole}.{rest:0{width}d}".rstrip("0")
