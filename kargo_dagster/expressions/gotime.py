"""Go's ``time.Time`` and ``*time.Location`` for expressions: ``date()``, ``timezone()``,
arithmetic, and the methods manifests call (``now().Format("2006-01-02")``, ``.Unix()``...).

Times are timezone-aware :class:`datetime.datetime` values (a naive one is read as UTC).
Arithmetic is in absolute time, as in Go: adding 24h across a daylight-saving change moves
the wall clock by 23 or 25 hours. Differences from Go, all outside what manifests plausibly
do: digits below the microsecond are dropped from times (durations keep them); years before
1 or after 9999 are errors; the host's ``Local`` zone is UTC, as in Kargo's controller image;
``Month()`` and ``Weekday()`` return plain ints (Go's types print as names).
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.goduration import MICROSECOND, Duration, duration_argument
from kargo_dagster.expressions.golayout import aware, format_time, parse_time, zone_name
from kargo_dagster.expressions.gotype import go_type
from kargo_dagster.expressions.objects import GoStruct

__all__ = [
    "Location",
    "add_duration",
    "load_location",
    "parse_date",
    "subtract_times",
    "time_method",
    "time_string",
]

_MAX_INT64 = 2**63 - 1
_MIN_INT64 = -(2**63)
# Go's zero time.Time, January 1, year 1, 00:00:00 UTC: what IsZero, Truncate and Round use.
_GO_ZERO = datetime(1, 1, 1, tzinfo=UTC)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Location(GoStruct):
    """Go's ``*time.Location``, from ``timezone(name)``; used by ``In``, ``date`` and ``now``."""

    name: str
    zone: tzinfo
    _methods: ClassVar[frozenset[str]] = frozenset({"String"})

    def go_field_names(self) -> list[str]:
        """A location has no exported fields."""
        return []

    def go_type_name(self) -> str:
        """``*time.Location``."""
        return "*time.Location"

    def go_string(self) -> str:
        """``fmt`` prints a location's name."""
        return self.name

    def String(self) -> str:
        return self.name


def load_location(name: Any) -> Location:
    """Go's ``time.LoadLocation``: ``""`` and ``"UTC"`` are UTC, else an IANA zone name.

    ``"Local"`` is UTC too, as in a controller image without local time configured.

    Raises:
        ExpressionError: The zone is not known (``unknown time zone Mars/Base``).
    """
    if not isinstance(name, str):
        raise ExpressionError(f"timezone: argument must be a string, not {go_type(name)}")
    if name in ("", "UTC"):
        return Location("UTC", UTC)
    if name == "Local":
        return Location("Local", UTC)
    try:
        return Location(name, ZoneInfo(name))
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ExpressionError(f"unknown time zone {name}") from None


def _location_of(moment: datetime) -> Location:
    zone = moment.tzinfo or UTC
    if isinstance(zone, ZoneInfo):
        return Location(zone.key, zone)
    return Location(zone_name(moment), zone)


def _micros(moment: datetime) -> int:
    # Microseconds since the Unix epoch, exactly.
    delta = aware(moment) - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def add_duration(moment: datetime, duration: Duration) -> datetime:
    """``moment + duration`` in absolute time, keeping ``moment``'s zone.

    Raises:
        ExpressionError: The result is outside the years 1 to 9999.
    """
    moment = aware(moment)
    try:
        shifted = moment.astimezone(UTC) + duration.timedelta()
        return shifted.astimezone(moment.tzinfo)
    except OverflowError:
        raise ExpressionError("time out of range: years 1 to 9999 are supported") from None


def subtract_times(later: datetime, earlier: datetime) -> Duration:
    """``later - earlier`` as a Duration, saturating like Go's ``Time.Sub``."""
    nanoseconds = (_micros(later) - _micros(earlier)) * MICROSECOND
    return Duration(min(max(nanoseconds, _MIN_INT64), _MAX_INT64))


def time_string(moment: datetime) -> str:
    """Go's ``Time.String()``: ``2006-01-02 15:04:05.999999999 -0700 MST``."""
    return format_time(aware(moment), "2006-01-02 15:04:05.999999999 -0700 MST")


# Go's date() tries these layouts in turn when none is given.
_DATE_LAYOUTS = (
    "2006-01-02",
    "15:04:05",
    "2006-01-02 15:04:05",
    "2006-01-02T15:04:05Z07:00",  # RFC3339
    "02 Jan 06 15:04 MST",  # RFC822
    "Monday, 02-Jan-06 15:04:05 MST",  # RFC850
    "Mon, 02 Jan 2006 15:04:05 MST",  # RFC1123
)


def parse_date(*args: Any) -> datetime:
    """expr's ``date()``: ``date(text)``, ``date(text, layout)``, ``date(text, layout, zone)``.

    A first argument from ``timezone()`` sets the location for the rest.

    Raises:
        ExpressionError: Bad arguments, an unknown zone or text the layouts do not match.
    """
    location: tzinfo = UTC
    rest: list[Any] = list(args)
    if rest and isinstance(rest[0], Location):
        location, rest = rest[0].zone, rest[1:]
    if not rest:
        raise ExpressionError("invalid number of arguments (expected at least 1, got 0)")
    if len(rest) > 3:
        raise ExpressionError(f"invalid number of arguments (expected at most 3, got {len(rest)})")
    for index, arg in enumerate(rest):
        if not isinstance(arg, str):
            what = ("text", "layout", "time zone")[index]
            raise ExpressionError(f"date: the {what} must be a string, not {go_type(arg)}")
    text = rest[0]
    if len(rest) >= 2:
        if len(rest) == 3:
            location = load_location(rest[2]).zone
        return parse_time(rest[1], text, location)
    for layout in _DATE_LAYOUTS:
        try:
            return parse_time(layout, text, location)
        except ExpressionError:
            continue
    raise ExpressionError(f"invalid date {text}")


def _time_argument(value: Any, method: str) -> datetime:
    if not isinstance(value, datetime):
        raise ExpressionError(f"{method}: argument must be time.Time, not {go_type(value)}")
    return aware(value)


def _int_argument(value: Any, method: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ExpressionError(f"{method}: arguments must be ints, not {go_type(value)}")
    return value


def _add_date(moment: datetime, years: Any, months: Any, days: Any) -> datetime:
    # Go normalises overflowing months and days: October 31 plus one month is December 1.
    years, months, days = (_int_argument(v, "AddDate") for v in (years, months, days))
    index = (moment.year + years) * 12 + (moment.month - 1) + months
    year, month = divmod(index, 12)
    try:
        first = moment.replace(year=year, month=month + 1, day=1)
        return first + timedelta(days=moment.day - 1 + days)
    except (ValueError, OverflowError):
        raise ExpressionError("time out of range: years 1 to 9999 are supported") from None


def _since_zero(moment: datetime) -> int:
    return (_micros(moment) - _micros(_GO_ZERO)) * MICROSECOND


def _truncate(moment: datetime, step: Any, *, rounding: bool) -> datetime:
    # Go truncates and rounds relative to its zero time, whatever the zone.
    size = duration_argument(step, "Round" if rounding else "Truncate").nanoseconds
    if size <= 0:
        return moment
    remainder = _since_zero(moment) % size
    shift = -remainder
    if rounding and remainder + remainder >= size:
        shift = size - remainder
    return add_duration(moment, Duration(shift))


def _compare(moment: datetime, other: Any) -> int:
    left, right = _micros(moment), _micros(_time_argument(other, "Compare"))
    return (left > right) - (left < right)


def _in(moment: datetime, location: Any) -> datetime:
    if not isinstance(location, Location):
        raise ExpressionError(f"In: argument must be *time.Location, not {go_type(location)}")
    return moment.astimezone(location.zone)


def _format(moment: datetime, layout: Any) -> str:
    if not isinstance(layout, str):
        raise ExpressionError(f"Format: layout must be a string, not {go_type(layout)}")
    return format_time(moment, layout)


def _add(moment: datetime, duration: Any) -> datetime:
    return add_duration(moment, duration_argument(duration, "Add"))


def _sub(moment: datetime, other: Any) -> Duration:
    return subtract_times(moment, _time_argument(other, "Sub"))


_TIME_METHODS: dict[str, Callable[..., Any]] = {
    "Format": _format,
    "String": time_string,
    "Unix": lambda t: _micros(t) // 1_000_000,
    "UnixMilli": lambda t: _micros(t) // 1000,
    "UnixMicro": _micros,
    "UnixNano": lambda t: _micros(t) * MICROSECOND,
    "Add": _add,
    "Sub": _sub,
    "AddDate": _add_date,
    "Year": lambda t: t.year,
    "Month": lambda t: t.month,
    "Day": lambda t: t.day,
    "Hour": lambda t: t.hour,
    "Minute": lambda t: t.minute,
    "Second": lambda t: t.second,
    "Nanosecond": lambda t: t.microsecond * MICROSECOND,
    "YearDay": lambda t: t.timetuple().tm_yday,
    "Weekday": lambda t: (t.weekday() + 1) % 7,
    "UTC": lambda t: t.astimezone(UTC),
    "Local": lambda t: t.astimezone(UTC),
    "In": _in,
    "Location": _location_of,
    "Before": lambda t, u: _micros(t) < _micros(_time_argument(u, "Before")),
    "After": lambda t, u: _micros(t) > _micros(_time_argument(u, "After")),
    "Equal": lambda t, u: _micros(t) == _micros(_time_argument(u, "Equal")),
    "Compare": _compare,
    "IsZero": lambda t: _micros(t) == _micros(_GO_ZERO),
    "Truncate": lambda t, d: _truncate(t, d, rounding=False),
    "Round": lambda t, d: _truncate(t, d, rounding=True),
}


def time_method(moment: datetime, name: str) -> Callable[..., Any]:
    """The method ``name`` of a ``time.Time``, bound to ``moment``.

    Raises:
        KeyError: ``time.Time`` has no such method here.
    """
    return functools.partial(_TIME_METHODS[name], aware(moment))
