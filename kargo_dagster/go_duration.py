"""Go's duration text: ``time.ParseDuration`` and ``Duration.String()``, over nanoseconds.

Kargo's manifests (``interval``, ``requiredSoakTime``, ``retry.timeout``, step timeouts),
Argo Rollouts' analysis settings and expr's ``duration()`` all write durations as Go does;
this is the one parser and printer of that text. Callers turn a count of nanoseconds into
what they need (a :class:`datetime.timedelta`, expr's ``time.Duration``) and word errors for
their field; :class:`ValueError` carries Go's own message.
"""

__all__ = [
    "HOUR",
    "MICROSECOND",
    "MILLISECOND",
    "MINUTE",
    "NANOSECOND",
    "SECOND",
    "format_nanoseconds",
    "parse_nanoseconds",
    "time_quote",
]

NANOSECOND = 1
MICROSECOND = 1000
MILLISECOND = 1000 * MICROSECOND
SECOND = 1000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
_MAX_INT64 = 2**63 - 1


def time_quote(text: str) -> str:
    """A value quoted as Go's time package quotes it in errors."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


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


def parse_nanoseconds(text: str) -> int:
    """Go's ``time.ParseDuration``: ``300ms``, ``-1.5h``, ``2h45m``; units ns us µs ms s m h.

    Raises:
        ValueError: Go's message, e.g. ``time: unknown unit "d" in duration "1d"``.
    """
    invalid = ValueError(f"time: invalid duration {time_quote(text)}")
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    if rest == "0":
        return 0
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
            raise ValueError(f"time: missing unit in duration {time_quote(text)}")
        unit_text, rest = rest[:end], rest[end:]
        unit = _UNITS.get(unit_text)
        if unit is None:
            raise ValueError(
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
        return -total
    if total > _MAX_INT64:
        raise invalid
    return total


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


def format_nanoseconds(nanoseconds: int) -> str:
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
