"""Go duration strings (``10m``, ``1h30m``, ``5m0s``) as :class:`datetime.timedelta`.

Kargo's CRDs type durations as Go ``metav1.Duration`` strings. Fields with a CRD ``pattern``
(``interval``, ``requiredSoakTime``) accept only hours, minutes and seconds; ``retry.timeout``
has no pattern, so it takes everything Go's ``time.ParseDuration`` does. The text itself is
read and written by :mod:`kargo_dagster.go_duration`, the one Go duration parser.
"""

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from kargo_dagster.go_duration import MICROSECOND, format_nanoseconds, parse_nanoseconds
from kargo_dagster.spec.base import rule_error

__all__ = [
    "GoDuration",
    "KubeDuration",
    "format_go_duration",
    "parse_go_duration",
]

# The pattern the v1.11.2 CRDs put on interval and requiredSoakTime.
_KUBE_PATTERN = re.compile(r"^([0-9]+(\.[0-9]+)?(s|m|h))+$")


def parse_go_duration(text: str, *, hours_minutes_seconds_only: bool = False) -> timedelta | None:
    """Parses a Go duration string.

    Args:
        text: The duration, e.g. ``"1h30m"`` or ``"5m0s"``.
        hours_minutes_seconds_only: Accept only ``h``, ``m`` and ``s`` units, as the CRD
            pattern ``^([0-9]+(\\.[0-9]+)?(s|m|h))+$`` does.

    Returns:
        The duration, or ``None`` when ``text`` is not a valid duration (callers word the
        error, since they know which field it came from).

    Examples:
        >>> parse_go_duration("1h30m")
        datetime.timedelta(seconds=5400)
    """
    if hours_minutes_seconds_only and not _KUBE_PATTERN.match(text):
        return None
    try:
        nanoseconds = parse_nanoseconds(text)
    except ValueError:
        return None
    # A timedelta keeps microseconds; Go's nanoseconds below that are dropped.
    micro = abs(nanoseconds) // MICROSECOND
    return timedelta(microseconds=-micro if nanoseconds < 0 else micro)


def format_go_duration(value: timedelta) -> str:
    """Formats a duration the way Go's ``Duration.String`` does (``5m0s``, ``1h30m0s``).

    Examples:
        >>> format_go_duration(timedelta(minutes=5))
        '5m0s'
    """
    return format_nanoseconds((value // timedelta(microseconds=1)) * MICROSECOND)


def _duration_validator(hms_only: bool) -> Any:
    example = "10m, 1h30m or 5m0s" if hms_only else "10m, 1h30m, 500ms or 5m0s"

    def validate(value: Any) -> Any:
        if isinstance(value, timedelta):
            return value
        if not isinstance(value, str):
            raise rule_error(f"must be a duration string such as {example}; got {value!r}")
        parsed = parse_go_duration(value, hours_minutes_seconds_only=hms_only)
        if parsed is None:
            raise rule_error(f"{value!r} is not a duration; write it like {example}")
        return parsed

    return validate


KubeDuration = Annotated[
    timedelta,
    BeforeValidator(_duration_validator(hms_only=True)),
    PlainSerializer(format_go_duration, return_type=str, when_used="json"),
]
"""A duration restricted to h/m/s units, as the CRD pattern on ``interval`` demands."""

GoDuration = Annotated[
    timedelta,
    BeforeValidator(_duration_validator(hms_only=False)),
    PlainSerializer(format_go_duration, return_type=str, when_used="json"),
]
"""Any Go duration, for fields the CRD leaves unconstrained (``retry.timeout``)."""
