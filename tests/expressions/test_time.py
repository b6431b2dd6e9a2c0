"""Times and durations: ``now()``, ``date()``, ``duration()``, ``timezone()``, Go layouts,
arithmetic and methods.

Expected values follow Go's ``time`` package and expr v1.17.8's built-ins; the cases marked
"expr" come from expr's own test suite.
"""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions import evaluate, evaluate_template, kargo_functions
from kargo_dagster.expressions.goduration import Duration

NOW = datetime(2025, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)
ENV: dict[str, Any] = {
    **kargo_functions(collection={}, now=lambda: NOW),
    "vars": {"released": "2024-12-31T22:00:00Z", "window": "90m"},
}
HOUR = 3600 * 10**9


def value(expression: str) -> Any:
    return evaluate(expression, ENV)


@pytest.mark.parametrize(
    ("text", "nanoseconds", "string"),
    [
        ("1h", HOUR, "1h0m0s"),
        ("1h30m", 90 * 60 * 10**9, "1h30m0s"),
        ("-1.5h", -90 * 60 * 10**9, "-1h30m0s"),
        ("+90s", 90 * 10**9, "1m30s"),
        ("2h45m30.5s", (2 * 3600 + 45 * 60 + 30) * 10**9 + 5 * 10**8, "2h45m30.5s"),
        ("300ms", 300 * 10**6, "300ms"),
        ("1.5us", 1500, "1.5µs"),
        ("1µs", 1000, "1µs"),
        ("1μs", 1000, "1µs"),  # the Greek mu works too
        ("7ns", 7, "7ns"),
        ("0", 0, "0s"),
        ("1.000000001s", 10**9 + 1, "1.000000001s"),
        ("9223372036854775807ns", 2**63 - 1, "2562047h47m16.854775807s"),
    ],
)
def test_durations_parse_and_print_as_in_go(text: str, nanoseconds: int, string: str) -> None:
    assert value(f"duration({text!r})") == Duration(nanoseconds)
    assert value(f"string(duration({text!r}))") == string
    assert value(f"duration({text!r}).String()") == string


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", 'time: invalid duration ""'),
        ("1", 'time: missing unit in duration "1"'),
        ("1d", 'time: unknown unit "d" in duration "1d"'),
        ("error", 'time: invalid duration "error"'),  # expr
        (".s", 'time: invalid duration ".s"'),
        ("9223372036854775808ns", 'time: invalid duration "9223372036854775808ns"'),
    ],
)
def test_bad_durations_are_go_errors(text: str, message: str) -> None:
    expression = f"duration({text!r})"
    with pytest.raises(ExpressionError) as caught:
        value(expression)
    assert caught.value.message == message
    assert caught.value.position == 0


VALUES = [
    # duration methods
    ("duration('1h30m').Hours()", 1.5),
    ("duration('1h30m').Minutes()", 90.0),
    ("duration('1500ms').Seconds()", 1.5),
    ("duration('1.5s').Milliseconds()", 1500),
    ("duration('-1.5us').Microseconds()", -1),
    ("duration('1h').Nanoseconds()", HOUR),
    ("duration('1h15m30.918273645s').Round(duration('1m')).String()", "1h16m0s"),
    ("duration('1h15m30.918273645s').Truncate(duration('1h')).String()", "1h0m0s"),
    ("duration('-90s').Abs().String()", "1m30s"),
    # duration arithmetic and comparison (expr)
    ("duration('1h') == duration('1h')", True),
    ("duration('1h') == duration('60m')", True),
    ("duration('1h') > duration('1m')", True),
    ("duration('1h') < duration('1m')", False),
    ("duration('1h') >= duration('1m')", True),
    ("duration('1h') <= duration('1m')", False),
    ("duration('1h') + duration('1m')", Duration(HOUR + 60 * 10**9)),
    ("duration('1h') - duration('1m')", Duration(HOUR - 60 * 10**9)),
    ("7 * duration('1h')", Duration(7 * HOUR)),
    ("duration('1h') * 7", Duration(7 * HOUR)),
    ("duration('1s') * .5", 5e8),
    ("duration('1s') == 1000000000", False),  # a duration is not an int
    # date() with its default layouts
    ("date('2017-10-23')", datetime(2017, 10, 23, tzinfo=UTC)),  # expr
    ("date('2006-01-02T15:04:05Z')", datetime(2006, 1, 2, 15, 4, 5, tzinfo=UTC)),  # expr
    ("date('2024-03-01 10:20:30')", datetime(2024, 3, 1, 10, 20, 30, tzinfo=UTC)),
    ("date('2024-03-01T10:20:30.25+02:00')", datetime(2024, 3, 1, 8, 20, 30, 250000, tzinfo=UTC)),
    ("date('Fri, 01 Mar 2024 10:20:30 UTC')", datetime(2024, 3, 1, 10, 20, 30, tzinfo=UTC)),
    ("date('01 Mar 24 10:20 UTC')", datetime(2024, 3, 1, 10, 20, tzinfo=UTC)),
    ("date(vars.released).Year()", 2024),
    # date() with a layout, and a zone
    ("date('2006.01.02', '2006.01.02')", datetime(2006, 1, 2, tzinfo=UTC)),  # expr
    (
        "date('2023-04-23T00:30:00.000+0100', '2006-01-02T15:04:05-0700', 'America/Chicago')"
        ".Format('2006-01-02')",
        "2023-04-23",
    ),  # expr
    ("date('2023-04-23', '2006-01-02', 'America/Chicago').Format('2006-01-02')", "2023-04-23"),
    (
        "date('24.11.1987 20:30', '02.01.2006 15:04', 'Europe/Zurich')",
        datetime(1987, 11, 24, 19, 30, tzinfo=UTC),
    ),  # expr
    (
        "date('24.11.1987 20:30 MSK', '02.01.2006 15:04 MST', 'Europe/Zurich')",
        datetime(1987, 11, 24, 20, 30, tzinfo=UTC),  # an unknown abbreviation gets offset 0
    ),  # expr
    ("date(timezone('Asia/Tokyo'), '2024-03-01').Format(time_layout)", "2024-03-01 00:00 JST"),
    ("date('3/1/24 3:04PM', '1/2/06 3:04PM').Hour()", 15),
    ("date('12:00am Jan 2 2024', '3:04pm Jan _2 2006').Hour()", 0),
    ("date('2024 060', '2006 002').Format('Jan 2')", "Feb 29"),
    ("date('Friday 1 March 2024', 'Monday 2 January 2006').Day()", 1),
    ("date('2024-03-01 10:20:30,123', '2006-01-02 15:04:05,000').Nanosecond()", 123000000),
    ("date('2024-03-01 10:20:30', '2006-01-02 15:04:05.999').Nanosecond()", 0),
    (
        "date('2024-03-01T10:20:30+0530', '2006-01-02T15:04:05Z0700').Format(time_layout)",
        "2024-03-01 10:20 +0530",
    ),
    # comparison and arithmetic between times and durations
    ("date('2024-03-02') > date('2024-03-01')", True),
    ("date('2024-03-01T00:00:00Z') == date('2024-03-01T01:00:00+01:00')", True),
    ("date('2024-03-01') != date('2024-03-01')", False),
    ("date('2024-03-01') + duration('36h')", datetime(2024, 3, 2, 12, tzinfo=UTC)),
    ("duration('36h') + date('2024-03-01')", datetime(2024, 3, 2, 12, tzinfo=UTC)),
    ("date('2024-03-01') - duration('1h')", datetime(2024, 2, 29, 23, tzinfo=UTC)),
    ("date('2024-03-02') - date('2024-03-01')", Duration(24 * HOUR)),
    ("string(date('2024-03-02') - date('2024-03-01'))", "24h0m0s"),
    ("now() - date(vars.released) > duration('24h')", True),
    ("now() - date(vars.released) < duration(vars.window)", False),
    # time methods
    ("now().Format('2006-01-02')", "2025-01-02"),
    ("now().Format('20060102-150405')", "20250102-030405"),
    ("now().Unix()", 1735787045),
    ("now().UnixMilli()", 1735787045600),
    ("now().Add(duration('-4h')).Format('2006-01-02 15:04')", "2025-01-01 23:04"),
    ("now().Sub(date('2025-01-01')).String()", "27h4m5.6s"),
    ("now().AddDate(0, 1, 0).Format('2006-01-02')", "2025-02-02"),
    ("date('2024-01-31').AddDate(0, 1, 0).Format('2006-01-02')", "2024-03-02"),  # Go normalises
    ("now().Truncate(duration('1h')).Format(time_layout)", "2025-01-02 03:00 UTC"),
    ("now().Round(duration('1h')).Format(time_layout)", "2025-01-02 03:00 UTC"),
    ("now().Round(duration('10m')).Format(time_layout)", "2025-01-02 03:00 UTC"),
    ("now().In(timezone('Asia/Tokyo')).Format(time_layout)", "2025-01-02 12:04 JST"),
    ("now(timezone('America/New_York')).Format(time_layout)", "2025-01-01 22:04 EST"),
    ("now().UTC() == now()", True),
    ("let t = now(); [t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute()]", [2025, 1, 2, 3, 4]),
    ("let t = now(); [t.Second(), t.Nanosecond(), t.YearDay(), t.Weekday()]", [5, 6 * 10**8, 2, 4]),
    ("now().Before(date('2025-06-01')) && now().After(date('2024-06-01'))", True),
    ("now().Equal(now().In(timezone('Asia/Tokyo')))", True),
    ("now().Compare(date('2030-01-01'))", -1),
    ("date('0001-01-01').IsZero()", True),
    ("now().Location().String()", "UTC"),
    ("timezone('Europe/Moscow').String()", "Europe/Moscow"),  # expr
    ("timezone('UTC').String()", "UTC"),  # expr
    ("string(now())", "2025-01-02 03:04:05.6 +0000 UTC"),
    ("string(date('2024-03-01T10:00:00+02:00'))", "2024-03-01 10:00:00 +0200 +0200"),
]


@pytest.mark.parametrize(("expression", "expected"), VALUES)
def test_values(expression: str, expected: Any) -> None:
    result = evaluate(expression, {**ENV, "time_layout": "2006-01-02 15:04 MST"})
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize(
    ("layout", "text"),
    [
        ("2006-01-02T15:04:05Z07:00", "2025-01-02T03:04:05Z"),
        ("2006-01-02T15:04:05.999999999Z07:00", "2025-01-02T03:04:05.6Z"),
        ("2006-01-02T15:04:05.000000Z", "2025-01-02T03:04:05.600000Z"),
        ("Mon Jan _2 15:04:05 MST 2006", "Thu Jan  2 03:04:05 UTC 2025"),
        ("Monday, 02-Jan-06 15:04:05 MST", "Thursday, 02-Jan-25 03:04:05 UTC"),
        ("January 2, 2006 at 3:04pm", "January 2, 2025 at 3:04am"),
        ("02/01/2006 03PM", "02/01/2025 03AM"),
        ("2006-002 __2", "2025-002   2"),
        ("15h04 -0700 -07 -07:00 Z0700", "03h04 +0000 +00 +00:00 Z"),
        ("Janet Monica", "Janet Monica"),  # lower-case letters after Jan/Mon: plain text
        (".9 ,99 .000", ".6 ,6 .600"),
        ("v2006.1.2", "v2025.1.2"),
    ],
)
def test_go_layouts(layout: str, text: str) -> None:
    assert value(f"now().Format({layout!r})") == text


def test_dst_changes_move_absolute_time_as_in_go() -> None:
    # Europe/Paris moved to summer time on 2024-03-31: 24h later is 13:00 on the wall clock,
    # while AddDate keeps the wall clock.
    start = "date('2024-03-30 12:00', '2006-01-02 15:04', 'Europe/Paris')"
    layout = "'2006-01-02 15:04 MST'"
    assert value(f"({start} + duration('24h')).Format({layout})") == "2024-03-31 13:00 CEST"
    assert value(f"{start}.AddDate(0, 0, 1).Format({layout})") == "2024-03-31 12:00 CEST"
    assert value(f"{start}.AddDate(0, 0, 1) - {start}") == Duration(23 * HOUR)


def test_times_and_durations_render_in_templates_as_kargo_does() -> None:
    # Go's json.Marshal: a time as RFC 3339, a duration as its nanoseconds.
    assert evaluate_template("${{ now() }}", ENV) == "2025-01-02T03:04:05.6Z"
    assert evaluate_template("${{ date('2024-03-01T10:00:00+02:00') }}", ENV) == (
        "2024-03-01T10:00:00+02:00"
    )
    assert evaluate_template("${{ duration('1s') }}", ENV) == 10**9
    assert evaluate_template("${{ toJSON({d: duration('1ms')}) }}", ENV) == {"d": 1000000}
    assert evaluate_template("release-${{ now().Format('20060102') }}", ENV) == "release-20250102"
    assert evaluate_template("${{ quote(now().Unix()) }}", ENV) == "1735787045"


def test_now_without_a_clock_is_the_current_time() -> None:
    before = datetime.now(UTC)
    moment = evaluate("now()", {})
    assert before <= moment <= datetime.now(UTC)
    zoned = evaluate("now(timezone('Asia/Tokyo'))", {})
    assert zoned.utcoffset() == timedelta(hours=9)


def test_naive_datetimes_from_callers_are_read_as_utc() -> None:
    env = {"t": datetime(2024, 3, 1, 12)}
    assert evaluate("t.Format('15:04 MST')", env) == "12:00 UTC"
    assert evaluate("t == date('2024-03-01T12:00:00Z')", env) is True
    assert evaluate("t + duration('1h')", env) == datetime(2024, 3, 1, 13, tzinfo=UTC)
    fixed = {"t": datetime(2024, 3, 1, 12, tzinfo=timezone(timedelta(hours=-3), "BRT"))}
    assert evaluate("t.Format('15:04 MST -07:00')", fixed) == "12:00 BRT -03:00"


ERRORS = [
    ("date('error')", "invalid date error", 0),  # expr
    (
        "date('x', '2006-01-02')",
        'parsing time "x" as "2006-01-02": cannot parse "x" as "2006"',
        0,
    ),
    (
        "date('2024-03-01x', '2006-01-02')",
        'parsing time "2024-03-01x": extra text: "x"',
        0,
    ),
    ("date('2024-13-01', '2006-01-02')", 'parsing time "2024-13-01": month out of range', 0),
    ("date('2023-02-29', '2006-01-02')", 'parsing time "2023-02-29": day out of range', 0),
    ("date('2024-03-01 25:00', '2006-01-02 15:04')", "hour out of range", 0),
    (
        "date('2024/03/01', '2006-01-02')",
        'parsing time "2024/03/01" as "2006-01-02": cannot parse "/03/01" as "-"',
        0,
    ),
    ("date('2024-03-01', '2006-01-02', 'Mars/Base')", "unknown time zone Mars/Base", 0),
    ("date()", "invalid number of arguments (expected at least 1, got 0)", 0),
    ("date(1)", "date: the text must be a string, not int", 0),
    ("date('12:00:00')", "invalid date 12:00:00", 0),  # year 0 is outside what we hold
    ("timezone('Mars/Base')", "unknown time zone Mars/Base", 0),
    ("now(1)", "invalid number of arguments (expected 0, got 1)", 0),
    ("now().Foo()", "type time.Time has no field or method Foo", 6),
    ("now().Add('1h')", "Add: argument must be time.Duration, not string", 6),
    ("now().Format(1)", "Format: layout must be a string, not int", 6),
    ("now().In('UTC')", "In: argument must be *time.Location, not string", 6),
    ("duration('1h').Days()", "type time.Duration has no field Days", 15),
    ("now() + now()", "invalid operation: time.Time + time.Time", 6),
    ("now() - 1", "invalid operation: time.Time - int", 6),
    ("now() < '2024'", "invalid operation: time.Time < string", 6),
    ("duration('1h') / 2", "invalid operation: time.Duration / int", 15),
    ("-duration('1h')", "invalid operation: - time.Duration", 0),
    ("duration(1)", "duration's argument must be a string, not int", 0),
    ("date('9999-12-31') + duration('24h')", "time out of range", 19),
]


@pytest.mark.parametrize(("expression", "message", "position"), ERRORS)
def test_errors_carry_expression_and_position(expression: str, message: str, position: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        value(expression)
    assert message in caught.value.message
    assert caught.value.position == position
    assert caught.value.expression == expression
