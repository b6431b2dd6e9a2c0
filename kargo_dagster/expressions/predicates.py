"""expr-lang's predicate built-ins, which run a closure for each element of an array.

``all``, ``any``, ``none``, ``one``, ``filter``, ``map``, ``find``, ``findIndex``,
``findLast``, ``findLastIndex``, ``count``, ``sum``, ``groupBy``, ``sortBy`` and ``reduce``
behave as in expr v1.17 (``builtin/builtin.go`` and the compiler's loops): ``all``/``any``/
``none`` stop at the first deciding element, ``find*`` give nil when nothing matches,
``count(xs)`` counts the ``true`` elements, ``sum`` adds with ``+`` starting from ``0``,
``sortBy`` is stable with ``"asc"`` (default) or ``"desc"``, and ``reduce`` without an
initial value starts from the first element (an empty array is then an error).

The collection must be an array; the closure of ``all``/``any``/``none``/``one``/``filter``/
``find*``/``count`` must give a bool. One difference: ``groupBy``'s map renders to JSON
here, where Go's ``json.Marshal`` rejects its ``map[interface{}]`` type.
"""

import functools
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.ast import Builtin, Node
from kargo_dagster.expressions.gotype import go_type
from kargo_dagster.expressions.operators import arithmetic, is_list, less

__all__ = ["Scope", "run_predicate"]


@dataclass
class Scope:
    """One running loop: the elements, the current index and ``reduce``'s accumulator."""

    items: Sequence[Any]
    index: int = 0
    acc: Any = None


class _Host(Protocol):
    """What the loops need from the evaluator."""

    scopes: list[Scope]

    def value_of(self, node: Node) -> Any: ...

    def fail(self, message: str, node: Node) -> NoReturn: ...

    def located(self, node: Node) -> AbstractContextManager[None]: ...


class _Loop:
    def __init__(self, host: _Host, node: Builtin, items: Sequence[Any]) -> None:
        self.host = host
        self.node = node
        self.scope = Scope(items)
        self.predicate = node.args[1] if len(node.args) > 1 else None

    def value(self, index: int) -> Any:
        """The closure's value for element ``index`` (the element itself without one)."""
        self.scope.index = index
        if self.predicate is None:
            return self.scope.items[index]
        return self.host.value_of(self.predicate)

    def test(self, index: int) -> bool:
        """The closure's verdict on element ``index``, which must be a bool."""
        result = self.value(index)
        if not isinstance(result, bool):
            where = self.predicate or self.node.args[0]
            self.host.fail(f"predicate should return boolean (got {go_type(result)})", where)
        return result


def run_predicate(host: _Host, node: Builtin) -> Any:
    """Evaluate a predicate built-in call.

    Raises:
        ExpressionError: The collection is not an array, a closure gives the wrong type,
            or an argument is invalid; located at the culprit.
    """
    collection = host.value_of(node.args[0])
    if not is_list(collection):
        host.fail(f"builtin {node.name} takes only array (got {go_type(collection)})", node.args[0])
    # Trailing arguments belong to the enclosing scope, as expr's checker reads them.
    extra = [host.value_of(arg) for arg in node.args[2:]]
    loop = _Loop(host, node, list(collection))
    host.scopes.append(loop.scope)
    try:
        with host.located(node):
            return _RUNNERS[node.name](loop, extra)
    finally:
        host.scopes.pop()


def _indexes(loop: _Loop) -> range:
    return range(len(loop.scope.items))


def _all(loop: _Loop, _extra: list[Any]) -> bool:
    return all(loop.test(i) for i in _indexes(loop))


def _any(loop: _Loop, _extra: list[Any]) -> bool:
    return any(loop.test(i) for i in _indexes(loop))


def _none(loop: _Loop, _extra: list[Any]) -> bool:
    return not any(loop.test(i) for i in _indexes(loop))


def _one(loop: _Loop, _extra: list[Any]) -> bool:
    return sum(loop.test(i) for i in _indexes(loop)) == 1


def _filter(loop: _Loop, _extra: list[Any]) -> list[Any]:
    return [loop.scope.items[i] for i in _indexes(loop) if loop.test(i)]


def _map(loop: _Loop, _extra: list[Any]) -> list[Any]:
    return [loop.value(i) for i in _indexes(loop)]


def _find(loop: _Loop, indexes: Sequence[int], *, want_index: bool) -> Any:
    for i in indexes:
        if loop.test(i):
            return i if want_index else loop.scope.items[i]
    return None


def _count(loop: _Loop, _extra: list[Any]) -> int:
    return sum(loop.test(i) for i in _indexes(loop))


def _sum(loop: _Loop, _extra: list[Any]) -> Any:
    total: Any = 0
    for i in _indexes(loop):
        total = arithmetic("+", loop.value(i), total)
    return total


def _group_by(loop: _Loop, _extra: list[Any]) -> dict[Any, list[Any]]:
    groups: dict[Any, list[Any]] = {}
    for i in _indexes(loop):
        key = loop.value(i)
        try:
            groups.setdefault(key, []).append(loop.scope.items[i])
        except TypeError:
            raise ExpressionError(f"cannot group by a {go_type(key)}") from None
    return groups


def _sort_by(loop: _Loop, extra: list[Any]) -> list[Any]:
    order = extra[0] if extra else "asc"
    if not isinstance(order, str):
        raise ExpressionError(f"sortBy order argument must be a string (got {go_type(order)})")
    if order not in ("asc", "desc"):
        raise ExpressionError("unknown order, use asc or desc")
    keyed = [(loop.value(i), loop.scope.items[i]) for i in _indexes(loop)]

    def ordering(a: tuple[Any, Any], b: tuple[Any, Any]) -> int:
        return -1 if less(a[0], b[0]) else (1 if less(b[0], a[0]) else 0)

    ordered = sorted(keyed, key=functools.cmp_to_key(ordering), reverse=order == "desc")
    return [item for _, item in ordered]


def _reduce(loop: _Loop, extra: list[Any]) -> Any:
    items, start = loop.scope.items, 0
    if extra:
        loop.scope.acc = extra[0]
    elif not items:
        raise ExpressionError("reduce of empty array with no initial value")
    else:
        loop.scope.acc, start = items[0], 1
    for i in range(start, len(items)):
        loop.scope.acc = loop.value(i)
    return loop.scope.acc


_RUNNERS = {
    "all": _all,
    "any": _any,
    "none": _none,
    "one": _one,
    "filter": _filter,
    "map": _map,
    "find": lambda loop, _: _find(loop, _indexes(loop), want_index=False),
    "findIndex": lambda loop, _: _find(loop, _indexes(loop), want_index=True),
    "findLast": lambda loop, _: _find(loop, _indexes(loop)[::-1], want_index=False),
    "findLastIndex": lambda loop, _: _find(loop, _indexes(loop)[::-1], want_index=True),
    "count": _count,
    "sum": _sum,
    "groupBy": _group_by,
    "sortBy": _sort_by,
    "reduce": _reduce,
}
