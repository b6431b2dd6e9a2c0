"""Go duration strings (``10m``, ``1h30m``, ``5m0s``) as :class:`datetime.timedelta`.

Kargo's CRDs type durations as Go ``metav1.Duration`` strings. Fields with a CRD ``pattern``
(``interval``, ``requiredSoakTime``) accept only hours, minutes and seconds; ``retry.timeout``
has no pattern, so it takes everything Go's ``time.ParseDuration`` does.
"""

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from kargo_dagster.spec.base import rule_error

__all__ = [
    "GoDuration",
    "KubeDuration",
    "format_go_duration",
    "parse_go_duration",
]

# Seconds per unit, as Go's time.ParseDuration spells them (both micro signs included).
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_GO_TOKEN = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
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
    if hours_minutes_seconds_only:
        return _sum_tokens(text) if _KUBE_PATTERN.match(text) else None
    body = text.lstrip("+-")
    negative = text.startswith("-")
    if body == "0":
        return timedelta(0)
    position = 0
    for match in _GO_TOKEN.finditer(body):
        if match.start() != position:
            return None
        position = match.end()
    if not body or position != len(body):
        return None
    total = _sum_tokens(body)
    return -total if negative else total


def _sum_tokens(text: str) -> timedelta:
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _GO_TOKEN.findall(text))
    return timedelta(seconds=seconds)


def format_go_duration(value: timedelta) -> str:
    """Formats a duration the way Go's ``Duration.String`` does (``5m0s``, ``1h30m0s``).

    Examples:
        >>> format_go_duration(timedelta(minutes=5))
        '5m0s'
    """
    total = value.total_seconds()
    if total == 0:
        return "0s"
    sign = "-" if total < 0 else ""
    total = abs(total)
    if total < 1:
        # Go switches to the largest sub-second unit that keeps a whole number in front.
        for unit, scale in (("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
            if total >= scale:
                return f"{sign}{_trim(total / scale)}{unit}"
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{_trim(seconds)}s"
    if hours or minutes:
        text = f"{int(minutes)}m{text}"
    if hours:
        text = f"{int(hours)}h{text}"
    return sign + text


def _trim(number: float) -> str:
    return f"{number:.9f}".rstrip("0").rstrip(".")


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
