"""Go duration parsing and formatting."""

from datetime import timedelta

import pytest

from kargo_dagster.spec import format_go_duration, parse_go_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10m", timedelta(minutes=10)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("5m0s", timedelta(minutes=5)),
        ("1.5h", timedelta(minutes=90)),
        ("0", timedelta(0)),
        ("300ms", timedelta(milliseconds=300)),
        ("2us", timedelta(microseconds=2)),
        ("-1m", timedelta(minutes=-1)),
        ("1h1m1s", timedelta(hours=1, minutes=1, seconds=1)),
    ],
)
def test_parse(text: str, expected: timedelta) -> None:
    assert parse_go_duration(text) == expected


@pytest.mark.parametrize("text", ["", "10", "10 m", "m", "1d", "1h-1m", "abc", "1.h.2"])
def test_parse_rejects(text: str) -> None:
    assert parse_go_duration(text) is None


@pytest.mark.parametrize(
    ("text", "ok"),
    [("10m", True), ("1h30m0s", True), ("1.5h", True), ("500ms", False), ("0", False)],
)
def test_crd_pattern(text: str, ok: bool) -> None:
    assert (parse_go_duration(text, hours_minutes_seconds_only=True) is not None) is ok


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(minutes=5), "5m0s"),
        (timedelta(hours=1, minutes=30), "1h30m0s"),
        (timedelta(0), "0s"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(milliseconds=300), "300ms"),
        (timedelta(hours=2), "2h0m0s"),
        (timedelta(minutes=-1), "-1m0s"),
    ],
)
def test_format(value: timedelta, text: str) -> None:
    assert format_go_duration(value) == text
    assert parse_go_duration(text) == value
