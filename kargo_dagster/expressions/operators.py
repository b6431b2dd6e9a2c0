"""expr-lang's operators on values (``vm/runtime``): equality, ordering, arithmetic, ``in``.

As in expr, ``bool`` is not a number, ``/`` and ``**`` give floats, ``==`` compares ints
and floats by value and other mismatched types as unequal. Times and durations follow
expr's rules: ``time ± duration`` is a time, ``time - time`` and ``duration ± duration``
are durations, ``int * duration`` is a duration (``float * duration`` a float of
nanoseconds), and times or durations compare with each other. Errors are raised without a
position; the evaluator places them.
"""

import math
import operator
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.goduration import Duration, wrap_int64
from kargo_dagster.expressions.golayout import aware
from kargo_dagster.expressions.gotime import add_duration, subtract_times
from kargo_dagster.expressions.gotype import go_type
from kargo_dagster.expressions.objects import GoStruct

__all__ = [
    "arithmetic",
    "compare",
    "contains",
    "equal",
    "is_list",
    "is_number",
    "less",
    "string_test",
]


def is_number(value: Any) -> bool:
    """An int or a float, but not a bool."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_list(value: Any) -> bool:
    """A list or a tuple (expr's arrays)."""
    return isinstance(value, list | tuple)


def equal(left: Any, right: Any) -> bool:
    """expr's ``==``: numbers by value, lists and maps deeply, other type mixes unequal."""
    if is_number(left) and is_number(right):
        return left == right
    if is_list(left) and is_list(right):
        return len(left) == len(right) and all(map(equal, left, right))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(equal(left[k], right[k]) for k in left)
    if isinstance(left, datetime) and isinstance(right, datetime):
        # Go's Time.Equal: the same instant, whatever the zones.
        return aware(left) == aware(right)
    if type(left) is not type(right):
        return False
    return left == right


def _invalid(op: str, left: Any, right: Any) -> ExpressionError:
    return ExpressionError(f"invalid operation: {go_type(left)} {op} {go_type(right)}")


_ORDER = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}


def compare(op: str, left: Any, right: Any) -> bool:
    """``<``, ``>``, ``<=``, ``>=`` between numbers, strings, times or durations."""
    both_numbers = is_number(left) and is_number(right)
    if both_numbers or (isinstance(left, str) and isinstance(right, str)):
        return _ORDER[op](left, right)
    if isinstance(left, datetime) and isinstance(right, datetime):
        return _ORDER[op](aware(left), aware(right))
    if isinstance(left, Duration) and isinstance(right, Duration):
        return _ORDER[op](left.nanoseconds, right.nanoseconds)
    raise _invalid(op, left, right)


def less(left: Any, right: Any) -> bool:
    """expr's ``runtime.Less``, which ``sortBy`` and ``sort`` order by."""
    return compare("<", left, right)


_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "contains": lambda a, b: b in a,
    "startsWith": str.startswith,
    "endsWith": str.endswith,
}


def string_test(op: str, left: Any, right: Any) -> bool:
    """``contains``, ``startsWith``, ``endsWith`` and ``matches`` (Go's RE2 as Python ``re``)."""
    if not (isinstance(left, str) and isinstance(right, str)):
        raise _invalid(op, left, right)
    if op != "matches":
        return _STRING_TESTS[op](left, right)
    try:
        return re.search(right, left) is not None
    except re.error as error:
        raise ExpressionError(f"invalid regular expression {right!r}: {error}") from None


def contains(item: Any, collection: Any) -> bool:
    """``item in collection`` for arrays, maps (by key) and structs (by field name)."""
    if is_list(collection):
        return any(equal(item, element) for element in collection)
    if isinstance(collection, Mapping):
        try:
            return item in collection
        except TypeError:
            return False
    if isinstance(collection, GoStruct):
        return item in collection.go_field_names()
    raise ExpressionError(f'operator "in" not defined on {go_type(collection)}')


def arithmetic(op: str, left: Any, right: Any) -> Any:
    """``+ - * / % ** ^`` with expr's types (see the module docstring)."""
    if is_number(left) and is_number(right):
        return _number_arithmetic(op, left, right)
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right
    if isinstance(left, datetime | Duration) or isinstance(right, datetime | Duration):
        return _time_arithmetic(op, left, right)
    raise _invalid(op, left, right)


def _number_arithmetic(op: str, left: int | float, right: int | float) -> int | float:
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    if op == "*":
        return left * right
    if op == "/":
        # Go's float division: x/0 is ±Inf (or NaN), not an exception.
        if right == 0:
            return math.nan if left == 0 else math.copysign(math.inf, left)
        return left / right
    if op == "%":
        if not (isinstance(left, int) and isinstance(right, int)):
            raise _invalid(op, left, right)
        if right == 0:
            raise ExpressionError("integer divide by zero")
        # Go's remainder takes the sign of the dividend.
        remainder = abs(left) % abs(right)
        return -remainder if left < 0 else remainder
    try:
        return math.pow(left, right)
    except (OverflowError, ValueError):
        return math.inf if left > 0 else math.nan


def _time_arithmetic(op: str, left: Any, right: Any) -> Any:
    time_left, time_right = isinstance(left, datetime), isinstance(right, datetime)
    duration_left, duration_right = isinstance(left, Duration), isinstance(right, Duration)
    if op == "+":
        if time_left and duration_right:
            return add_duration(left, right)
        if duration_left and time_right:
            return add_duration(right, left)
        if duration_left and duration_right:
            return Duration(wrap_int64(left.nanoseconds + right.nanoseconds))
    elif op == "-":
        if time_left and time_right:
            return subtract_times(left, right)
        if time_left and duration_right:
            return add_duration(left, Duration(-right.nanoseconds))
        if duration_left and duration_right:
            return Duration(wrap_int64(left.nanoseconds - right.nanoseconds))
    elif op == "*":
        if duration_left and duration_right:
            return Duration(wrap_int64(left.nanoseconds * right.nanoseconds))
        count, duration = (right, left) if duration_left else (left, right)
        if isinstance(duration, Duration) and is_number(count):
            # An int count gives a duration; a float gives a float of nanoseconds, as in expr.
            if isinstance(count, int):
                return Duration(wrap_int64(count * duration.nanoseconds))
            return float(count) * float(duration.nanoseconds)
    raise _invalid(op, left, right)
