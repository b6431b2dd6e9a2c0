"""Go's time layouts: ``Time.Format`` and ``time.Parse`` for expressions.

Every element of Go's reference time ``Mon Jan 2 15:04:05 MST 2006`` is understood,
including ``_2``, ``__2``/``002``, ``.000``/``.999`` (or with a comma), ``PM``/``pm`` and
the ``-0700``/``Z07:00`` zone families; parse errors read like Go's. Times are
:class:`datetime.datetime`, so digits below the microsecond are dropped, and years must
lie between 1 and 9999.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.goduration import MICROSECOND, time_quote

__all__ = ["aware", "format_time", "offset_seconds", "parse_time", "zone_name"]


def aware(moment: datetime) -> datetime:
    """``moment`` with a time zone: a naive datetime is read as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def zone_name(moment: datetime) -> str:
    """Go's zone abbreviation; ``""`` for a fixed zone without a name (``UTC+02:00`` to Python)."""
    zone = moment.tzinfo
    if zone is None or zone is UTC:
        return "UTC"
    name = moment.tzname() or ""
    if isinstance(zone, timezone):
        offset = zone.utcoffset(None)
        if offset and name == timezone(offset).tzname(None):
            return ""
    return name


def offset_seconds(moment: datetime) -> int:
    """The zone offset east of UTC in seconds."""
    offset = moment.utcoffset()
    return int(offset.total_seconds()) if offset else 0


# --- layouts -----------------------------------------------------------------------------

_LONG_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
_LONG_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_ZONE_CHUNKS = (
    "Z070000", "Z07:00:00", "Z0700", "Z07:00", "Z07",
    "-070000", "-07:00:00", "-0700", "-07:00", "-07",
)  # fmt: skip


def _next_chunk(layout: str) -> tuple[str, str, str]:
    """Go's ``nextStdChunk``: the literal prefix, the layout element, and the rest.

    The element is returned as its layout text (``"2006"``, ``"Jan"``, ``".000"``...), or
    ``""`` when the layout holds no more elements.
    """
    for i, char in enumerate(layout):
        rest = layout[i:]
        # "Jan" and "Mon" count only when no lower-case letter follows ("Janet" is text).
        if char == "J" and rest.startswith("Jan"):
            if rest.startswith("January"):
                return layout[:i], "January", layout[i + 7 :]
            if not "a" <= rest[3:4] <= "z":
                return layout[:i], "Jan", layout[i + 3 :]
        elif char == "M":
            if rest.startswith("Monday"):
                return layout[:i], "Monday", layout[i + 6 :]
            if rest.startswith("Mon") and not "a" <= rest[3:4] <= "z":
                return layout[:i], "Mon", layout[i + 3 :]
            if rest.startswith("MST"):
                return layout[:i], "MST", layout[i + 3 :]
        elif char == "0":
            if "1" <= rest[1:2] <= "6":
                return layout[:i], rest[:2], layout[i + 2 :]
            if rest.startswith("002"):
                return layout[:i], "002", layout[i + 3 :]
        elif char == "1":
            if rest.startswith("15"):
                return layout[:i], "15", layout[i + 2 :]
            return layout[:i], "1", layout[i + 1 :]
        elif char == "2":
            if rest.startswith("2006"):
                return layout[:i], "2006", layout[i + 4 :]
            return layout[:i], "2", layout[i + 1 :]
        elif char == "_":
            if rest.startswith("_2"):
                # "_2006" is a literal "_" followed by the year.
                if rest.startswith("_2006"):
                    return layout[: i + 1], "2006", layout[i + 5 :]
                return layout[:i], "_2", layout[i + 2 :]
            if rest.startswith("__2"):
                return layout[:i], "__2", layout[i + 3 :]
        elif char in "345":
            return layout[:i], char, layout[i + 1 :]
        elif char == "P" and rest.startswith("PM"):
            return layout[:i], "PM", layout[i + 2 :]
        elif char == "p" and rest.startswith("pm"):
            return layout[:i], "pm", layout[i + 2 :]
        elif char in "-Z":
            for chunk in _ZONE_CHUNKS:
                if rest.startswith(chunk):
                    return layout[:i], chunk, layout[i + len(chunk) :]
        elif char in ".," and rest[1:2] in ("0", "9"):
            end = 1
            while end < len(rest) and rest[end] == rest[1]:
                end += 1
            # Only a fractional second if no other digit follows the run.
            if not (end < len(rest) and rest[end].isdigit()):
                return layout[:i], rest[:end], layout[i + end :]
    return layout, "", ""


def format_time(moment: datetime, layout: str) -> str:
    """Go's ``Time.Format(layout)``, e.g. ``2006-01-02T15:04:05Z07:00``."""
    moment = aware(moment)
    out: list[str] = []
    while layout:
        prefix, chunk, layout = _next_chunk(layout)
        out.append(prefix)
        if not chunk:
            break
        out.append(_format_chunk(moment, chunk))
    return "".join(out)


def _format_chunk(moment: datetime, chunk: str) -> str:
    year, month, day = moment.year, moment.month, moment.day
    hour, minute, second = moment.hour, moment.minute, moment.second
    weekday = (moment.weekday() + 1) % 7
    simple: dict[str, Callable[[], str]] = {
        "2006": lambda: f"{year:04d}",
        "06": lambda: f"{year % 100:02d}",
        "January": lambda: _LONG_MONTHS[month - 1],
        "Jan": lambda: _LONG_MONTHS[month - 1][:3],
        "1": lambda: str(month),
        "01": lambda: f"{month:02d}",
        "Monday": lambda: _LONG_DAYS[weekday],
        "Mon": lambda: _LONG_DAYS[weekday][:3],
        "2": lambda: str(day),
        "_2": lambda: f"{day:2d}",
        "02": lambda: f"{day:02d}",
        "__2": lambda: f"{moment.timetuple().tm_yday:3d}",
        "002": lambda: f"{moment.timetuple().tm_yday:03d}",
        "15": lambda: f"{hour:02d}",
        "3": lambda: str(hour % 12 or 12),
        "03": lambda: f"{hour % 12 or 12:02d}",
        "4": lambda: str(minute),
        "04": lambda: f"{minute:02d}",
        "5": lambda: str(second),
        "05": lambda: f"{second:02d}",
        "PM": lambda: "PM" if hour >= 12 else "AM",
        "pm": lambda: "pm" if hour >= 12 else "am",
    }
    if chunk in simple:
        return simple[chunk]()
    offset = offset_seconds(moment)
    if chunk == "MST":
        name = zone_name(moment)
        return name or _format_offset(offset, "-0700")
    if chunk in _ZONE_CHUNKS:
        if chunk.startswith("Z") and offset == 0:
            return "Z"
        return _format_offset(offset, chunk)
    return _format_fraction(moment.microsecond * MICROSECOND, chunk)


def _format_offset(offset: int, chunk: str) -> str:
    sign = "-" if offset < 0 else "+"
    offset = abs(offset)
    minutes = offset // 60
    text = f"{sign}{minutes // 60:02d}"
    colon = ":" if ":" in chunk else ""
    digits = chunk.lstrip("Z-").replace(":", "")
    if len(digits) >= 4:
        text += f"{colon}{minutes % 60:02d}"
    if len(digits) == 6:
        text += f"{colon}{offset % 60:02d}"
    return text


def _format_fraction(nanoseconds: int, chunk: str) -> str:
    separator, width = chunk[0], min(len(chunk) - 1, 9)
    digits = f"{nanoseconds:09d}"[:width]
    if chunk[1] == "9":
        digits = digits.rstrip("0")
        if not digits:
            return ""
    return separator + digits


# --- parsing -----------------------------------------------------------------------------


class _Bad(Exception):
    """A layout element did not match the value."""


def _skip(value: str, prefix: str) -> str:
    # Go's skip: literal text must match, except that a space matches any run of spaces.
    while prefix:
        if prefix[0] == " ":
            if value and value[0] != " ":
                raise _Bad
            prefix, value = prefix.lstrip(" "), value.lstrip(" ")
            continue
        if not value or value[0] != prefix[0]:
            raise _Bad
        prefix, value = prefix[1:], value[1:]
    return value


def _is_digit(text: str, index: int) -> bool:
    return index < len(text) and "0" <= text[index] <= "9"


def _number(value: str, fixed: bool, *, width: int = 2) -> tuple[int, str]:
    # Go's getnum/getnum3: one to `width` digits, exactly `width` when fixed.
    count = 0
    while count < width and _is_digit(value, count):
        count += 1
    if count == 0 or (fixed and count < width):
        raise _Bad
    return int(value[:count]), value[count:]


def _lookup(names: tuple[str, ...], value: str) -> tuple[int, str]:
    for index, name in enumerate(names):
        if value[: len(name)].lower() == name.lower() and len(value) >= len(name):
            return index, value[len(name) :]
    raise _Bad


def _nanoseconds(value: str, length: int) -> int:
    # Go's parseNanoseconds: a separator then digits, scaled to nine places.
    if value[:1] not in (".", ","):
        raise _Bad
    digits = value[1 : min(length, 10)]
    if not digits.isdigit() or not digits.isascii():
        raise _Bad
    return int(digits) * 10 ** (9 - len(digits))


def _time_zone_length(value: str) -> int:
    # Go's parseTimeZone: how long the zone abbreviation at the start of value is (0: none).
    if len(value) < 3:
        return 0
    if value[:4] in ("ChST", "MeST"):
        return 4
    if value.startswith("GMT"):
        return 3 + _gmt_offset_length(value[3:])
    if value[0] in "+-":
        return _signed_offset_length(value)
    upper = 0
    while upper < min(len(value), 6) and "A" <= value[upper] <= "Z":
        upper += 1
    if upper == 3:
        return 3
    if upper == 4 and (value[3] == "T" or value[:4] == "WITA"):
        return 4
    if upper == 5 and value[4] == "T":
        return 5
    return 0


def _gmt_offset_length(value: str) -> int:
    if not value or value[0] not in "+-":
        return 0
    length = _signed_offset_length(value)
    if length == 0:
        return 0
    hours = int(value[1:length])
    return length if 0 < hours <= 23 or (value[0] == "-" and 0 < hours <= 24) else 0


def _signed_offset_length(value: str) -> int:
    if value[:1] not in ("+", "-"):
        return 0
    digits = len(value[1:]) - len(value[1:].lstrip("0123456789"))
    if digits == 0 or digits > 2 or int(value[1 : 1 + digits]) > 24:
        return 0
    return 1 + digits


def _zone_offset(value: str, chunk: str) -> tuple[int, str]:
    digits = chunk.lstrip("Z-").replace(":", "")
    colon = ":" in chunk
    lengths = {2: 3, 4: 6 if colon else 5, 6: 9 if colon else 7}
    length = lengths[len(digits)]
    if len(value) < length:
        raise _Bad
    text, value = value[:length], value[length:]
    if colon and (text[3] != ":" or (len(digits) == 6 and text[6] != ":")):
        raise _Bad
    numbers = text[1:].replace(":", "") if colon else text[1:]
    parts = [numbers[i : i + 2] for i in range(0, len(numbers), 2)]
    if not all(len(p) == 2 and p.isdigit() and p.isascii() for p in parts):
        raise _Bad
    hours, minutes, seconds = (int(p) for p in [*parts, "00", "00"][:3])
    # Go tests with ">", so offsets of 24 hours or 60 minutes pass.
    for number, limit, what in ((hours, 24, "hour"), (minutes, 60, "minute")):
        if number > limit:
            raise _RangeError(f"time zone offset {what}", value)
    if seconds > 60:
        raise _RangeError("time zone offset second", value)
    offset = (hours * 60 + minutes) * 60 + seconds
    if text[0] == "-":
        offset = -offset
    elif text[0] != "+":
        raise _Bad
    return offset, value


class _RangeError(Exception):
    def __init__(self, what: str, rest: str) -> None:
        super().__init__(what)
        self.what = what
        self.rest = rest


@dataclass
class _Fields:
    year: int = 0
    month: int = -1
    day: int = -1
    year_day: int = -1
    hour: int = 0
    minute: int = 0
    second: int = 0
    nanosecond: int = 0
    pm: bool | None = None
    zone: tzinfo | None = None
    offset: int | None = None
    zone_name: str = ""


def parse_time(layout: str, value: str, location: tzinfo = UTC) -> datetime:
    """Go's ``time.ParseInLocation(layout, value, location)`` (``time.Parse`` for UTC).

    Raises:
        ExpressionError: Go's parse error, e.g. ``parsing time "x" as "2006-01-02": cannot
            parse "x" as "2006"``.
    """
    fields = _Fields()
    original_layout, original_value = layout, value

    def error(element: str, rest: str, message: str = "") -> ExpressionError:
        if message:
            return ExpressionError(f"parsing time {time_quote(original_value)}{message}")
        return ExpressionError(
            f"parsing time {time_quote(original_value)} as {time_quote(original_layout)}: "
            f"cannot parse {time_quote(rest)} as {time_quote(element)}"
        )

    while True:
        prefix, chunk, layout = _next_chunk(layout)
        try:
            value = _skip(value, prefix)
        except _Bad:
            raise error(prefix, value) from None
        if not chunk:
            if value:
                raise error("", value, f": extra text: {time_quote(value)}")
            break
        before = value
        try:
            value = _parse_chunk(chunk, value, layout, fields)
        except _Bad:
            raise error(chunk, before) from None
        except _RangeError as range_error:
            raise error(chunk, range_error.rest, f": {range_error.what} out of range") from None
    return _assemble(fields, location, lambda message: error("", value, message))


def _parse_chunk(chunk: str, value: str, layout_rest: str, fields: _Fields) -> str:
    if chunk == "06":
        if len(value) < 2 or not value[:2].isdigit():
            raise _Bad
        year = int(value[:2])
        fields.year = year + (1900 if year >= 69 else 2000)
        return value[2:]
    if chunk == "2006":
        if len(value) < 4 or not value[:4].isdigit() or not value[:4].isascii():
            raise _Bad
        fields.year = int(value[:4])
        return value[4:]
    if chunk in ("Jan", "January"):
        names = _LONG_MONTHS if chunk == "January" else tuple(m[:3] for m in _LONG_MONTHS)
        index, value = _lookup(names, value)
        fields.month = index + 1
        return value
    if chunk in ("Mon", "Monday"):
        names = _LONG_DAYS if chunk == "Monday" else tuple(d[:3] for d in _LONG_DAYS)
        return _lookup(names, value)[1]
    if chunk in ("1", "01"):
        fields.month, rest = _number(value, chunk == "01")
        if not 1 <= fields.month <= 12:
            raise _RangeError("month", rest)
        return rest
    if chunk in ("2", "_2", "02"):
        if chunk == "_2" and value[:1] == " ":
            value = value[1:]
        fields.day, rest = _number(value, chunk == "02")
        return rest
    if chunk in ("__2", "002"):
        if chunk == "__2":
            value = value[2:] if value.startswith("  ") else value.removeprefix(" ")
        fields.year_day, rest = _number(value, chunk == "002", width=3)
        return rest
    if chunk in ("15", "3", "03"):
        fields.hour, rest = _number(value, chunk == "03")
        if fields.hour >= (24 if chunk == "15" else 13):
            raise _RangeError("hour", rest)
        return rest
    if chunk in ("4", "04"):
        fields.minute, rest = _number(value, chunk == "04")
        if fields.minute >= 60:
            raise _RangeError("minute", rest)
        return rest
    if chunk in ("5", "05"):
        fields.second, rest = _number(value, chunk == "05")
        if fields.second >= 60:
            raise _RangeError("second", rest)
        # A fractional second the layout does not mention is still read.
        if len(rest) >= 2 and rest[0] in ".," and _is_digit(rest, 1):
            following = _next_chunk(layout_rest)[1]
            if not (following[:1] in (".", ",") and following[1:2] in ("0", "9")):
                end = 2
                while _is_digit(rest, end):
                    end += 1
                fields.nanosecond = _nanoseconds(rest, end)
                rest = rest[end:]
        return rest
    if chunk in ("PM", "pm"):
        marker = value[:2]
        if marker not in (("PM", "AM") if chunk == "PM" else ("pm", "am")):
            raise _Bad
        fields.pm = marker.upper() == "PM"
        return value[2:]
    if chunk in _ZONE_CHUNKS:
        if chunk.startswith("Z") and value.startswith("Z"):
            fields.zone = UTC
            return value[1:]
        fields.offset, rest = _zone_offset(value, chunk)
        return rest
    if chunk == "MST":
        if value.startswith("UTC"):
            fields.zone = UTC
            return value[3:]
        length = _time_zone_length(value)
        if length == 0:
            raise _Bad
        fields.zone_name = value[:length]
        return value[length:]
    # Fractional seconds: ".000" wants exactly that many digits, ".999" any number or none.
    if chunk[1] == "0":
        if len(value) < len(chunk):
            raise _Bad
        fields.nanosecond = _nanoseconds(value, len(chunk))
        return value[len(chunk) :]
    if len(value) < 2 or value[0] not in ".," or not _is_digit(value, 1):
        return value
    end = 1
    while _is_digit(value, end):
        end += 1
    fields.nanosecond = _nanoseconds(value, end)
    return value[end:]


def _days_in(month: int, year: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _assemble(
    fields: _Fields, location: tzinfo, error: Callable[[str], ExpressionError]
) -> datetime:
    if fields.pm is True and fields.hour < 12:
        fields.hour += 12
    elif fields.pm is False and fields.hour == 12:
        fields.hour = 0
    if not 1 <= fields.year <= 9999:
        raise error(f": year {fields.year} is outside the supported range 1 to 9999")
    if fields.year_day >= 0:
        leap = _days_in(2, fields.year) == 29
        if not 1 <= fields.year_day <= (366 if leap else 365):
            raise error(": day-of-year out of range")
        found = date(fields.year, 1, 1) + timedelta(days=fields.year_day - 1)
        if fields.month >= 0 and fields.month != found.month:
            raise error(": day-of-year does not match month")
        if fields.day >= 0 and fields.day != found.day:
            raise error(": day-of-year does not match day")
        fields.month, fields.day = found.month, found.day
    else:
        fields.month = 1 if fields.month < 0 else fields.month
        fields.day = 1 if fields.day < 0 else fields.day
    if not 1 <= fields.day <= _days_in(fields.month, fields.year):
        raise error(": day out of range")
    wall = datetime(
        fields.year,
        fields.month,
        fields.day,
        fields.hour,
        fields.minute,
        fields.second,
        fields.nanosecond // MICROSECOND,
    )
    if fields.zone is not None:
        return wall.replace(tzinfo=fields.zone)
    if fields.offset is not None:
        instant = wall.replace(tzinfo=timezone(timedelta(seconds=fields.offset)))
        # Go keeps the parse location when it has that offset at that instant.
        local = instant.astimezone(location)
        return local if offset_seconds(local) == fields.offset else instant
    if fields.zone_name:
        # The location's own abbreviation places the time; any other gets a made-up zone
        # with offset 0 (GMT+h excepted), as in Go.
        placed = wall.replace(tzinfo=location)
        if placed.tzname() == fields.zone_name:
            return placed
        offset = 0
        if fields.zone_name.startswith("GMT") and len(fields.zone_name) > 3:
            offset = int(fields.zone_name[3:]) * 3600
        return wall.replace(tzinfo=timezone(timedelta(seconds=offset), fields.zone_name))
    return wall.replace(tzinfo=location)
