"""expr-lang's built-ins over arrays and maps that take no closure.

``sort(array[, "asc"|"desc"])``, ``reverse``, ``uniq``, ``concat(a, b, ...)``,
``flatten``, ``take(array, n)``, ``get(value, key)`` (nil instead of an error when the
key or index is missing), ``toPairs(map)`` and ``fromPairs(pairs)``, as in expr v1.17's
``builtin`` package. Each returns a new array or map; arguments are never changed.
"""

import functools
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.gotime import time_method
from kargo_dagster.expressions.gotype import go_type
from kargo_dagster.expressions.objects import GoStruct
from kargo_dagster.expressions.operators import equal, is_list, less

__all__ = ["ARRAY_BUILTINS"]


def _array(value: Any, verb: str) -> list[Any]:
    if not is_list(value):
        raise ExpressionError(f"cannot {verb} {go_type(value)}")
    return list(value)


def _sort(items: Any, order: Any = "asc") -> list[Any]:
    items = _array(items, "sort")
    if not isinstance(order, str):
        raise ExpressionError(f"sort order argument must be a string (got {go_type(order)})")
    if order not in ("asc", "desc"):
        raise ExpressionError(f"invalid order {order}, expected asc or desc")

    def ordering(a: Any, b: Any) -> int:
        return -1 if less(a, b) else (1 if less(b, a) else 0)

    return sorted(items, key=functools.cmp_to_key(ordering), reverse=order == "desc")


def _uniq(items: Any) -> list[Any]:
    unique: list[Any] = []
    for item in _array(items, "uniq"):
        if not any(equal(item, seen) for seen in unique):
            unique.append(item)
    return unique


def _concat(*arrays: Any) -> list[Any]:
    if not arrays:
        raise ExpressionError("invalid number of arguments (expected at least 1, got 0)")
    return [item for array in arrays for item in _array(array, "concat")]


def _flatten(items: Any) -> list[Any]:
    flat: list[Any] = []
    for item in _array(items, "flatten"):
        flat.extend(_flatten(item) if is_list(item) else [item])
    return flat


def _take(items: Any, count: Any) -> list[Any]:
    items = _array(items, "take from")
    if not isinstance(count, int) or isinstance(count, bool):
        raise ExpressionError(f"cannot take {go_type(count)} elements")
    if count < 0:
        raise ExpressionError(f"cannot take {count} elements")
    return items[:count]


def _get(value: Any, key: Any) -> Any:
    # runtime.Fetch without its errors: whatever is missing is nil.
    if isinstance(value, Mapping):
        try:
            return value.get(key)
        except TypeError:
            return None
    if is_list(value) or isinstance(value, str):
        if not isinstance(key, int) or isinstance(key, bool):
            return None
        index = key + len(value) if key < 0 else key
        return value[index] if 0 <= index < len(value) else None
    if isinstance(value, GoStruct) and isinstance(key, str):
        try:
            return value.go_member(key)
        except KeyError:
            return None
    if isinstance(value, datetime) and isinstance(key, str):
        try:
            return time_method(value, key)
        except KeyError:
            return None
    return None


def _to_pairs(value: Any) -> list[list[Any]]:
    if not isinstance(value, Mapping):
        raise ExpressionError(f"cannot transform {go_type(value)} to pairs")
    return [[key, item] for key, item in value.items()]


def _from_pairs(pairs: Any) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for pair in _array(pairs, "transform from pairs"):
        if not is_list(pair):
            raise ExpressionError(f"invalid pair {pair!r}")
        if len(pair) != 2:
            raise ExpressionError(f"invalid pair length {len(pair)}")
        try:
            result[pair[0]] = pair[1]
        except TypeError:
            raise ExpressionError(f"invalid pair key of type {go_type(pair[0])}") from None
    return result


ARRAY_BUILTINS: dict[str, Callable[..., Any]] = {
    "sort": _sort,
    "reverse": lambda items: _array(items, "reverse")[::-1],
    "uniq": _uniq,
    "concat": _concat,
    "flatten": _flatten,
    "take": _take,
    "get": _get,
    "toPairs": _to_pairs,
    "fromPairs": _from_pairs,
}
