"""Evaluation of a parsed expression against variables, with expr-lang's runtime rules.

Values are Python's: ``None`` (nil), ``bool``, ``int``, ``float``, ``str``, lists, dicts,
``datetime`` and the Go-like objects of :mod:`kargo_dagster.expressions.objects`. As in
expr, ``bool`` is not a number, ``/`` and ``**`` give floats, ``==`` compares ints and
floats by value and other mismatched types as unequal, and ``&&``/``||`` short-circuit.

One deliberate difference: an unknown variable is an error here, where expr (compiled, as
Kargo does, without a typed environment) quietly yields nil; a typo then fails at the
name instead of later. Under ``??`` a missing variable still counts as nil.
"""

import math
import operator
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, NoReturn

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.ast import (
    Array,
    Binary,
    Call,
    Chain,
    Conditional,
    Identifier,
    Literal,
    Map,
    Member,
    Node,
    Slice,
    Unary,
)
from kargo_dagster.expressions.expr_builtins import BUILTINS, go_type
from kargo_dagster.expressions.objects import GoStruct

__all__ = ["Evaluator", "equal", "evaluate_node"]


class _NilChain(Exception):
    """A ``?.`` met nil: the enclosing chain evaluates to nil."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def equal(left: Any, right: Any) -> bool:
    """expr's ``==``: numbers by value, lists and maps deeply, other type mixes unequal."""
    if _is_number(left) and _is_number(right):
        return left == right
    if _is_list(left) and _is_list(right):
        return len(left) == len(right) and all(map(equal, left, right))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(equal(left[k], right[k]) for k in left)
    if type(left) is not type(right) and not (
        isinstance(left, datetime) and isinstance(right, datetime)
    ):
        return False
    return left == right


_ORDER = {"<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}
_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "contains": lambda a, b: b in a,
    "startsWith": str.startswith,
    "endsWith": str.endswith,
}


class Evaluator:
    """Evaluates nodes of one expression; ``text`` is kept to locate errors."""

    def __init__(self, text: str, variables: Mapping[str, Any]) -> None:
        self.text = text
        self.variables = variables

    def fail(self, message: str, node: Node) -> NoReturn:
        raise ExpressionError(message, expression=self.text, position=node.pos)

    def value_of(self, node: Node) -> Any:
        """The value of ``node``.

        Raises:
            ExpressionError: The evaluation fails; ``position`` points at the culprit.
        """
        match node:
            case Literal(value=value):
                return value
            case Identifier(name=name):
                if name not in self.variables:
                    self.fail(f"unknown name {name}", node)
                return self.variables[name]
            case Chain(node=inner):
                try:
                    return self.value_of(inner)
                except _NilChain:
                    return None
            case Member():
                return self.member(node)
            case Slice():
                return self.slice(node)
            case Call():
                return self.call(node)
            case Unary():
                return self.unary(node)
            case Binary():
                return self.binary(node)
            case Conditional(cond=cond, then=then, otherwise=otherwise):
                test = self.value_of(cond)
                if not isinstance(test, bool):
                    self.fail(f"non-bool expression (type {go_type(test)}) used as condition", cond)
                return self.value_of(then if test else otherwise)
            case Array(items=items):
                return [self.value_of(item) for item in items]
            case Map(pairs=pairs):
                return {self.value_of(k): self.value_of(v) for k, v in pairs}
            case _:
                self.fail(f"unsupported syntax {type(node).__name__}", node)

    # --- members -------------------------------------------------------------------------

    def member(self, node: Member) -> Any:
        base = self.value_of(node.node)
        key = self.value_of(node.property)
        if base is None:
            if node.optional:
                raise _NilChain
            self.fail(f"cannot fetch {key} from <nil>", node)
        return self.fetch(base, key, node)

    def fetch(self, base: Any, key: Any, node: Node) -> Any:
        """``base[key]`` / ``base.key`` by expr's rules (a missing map key is nil)."""
        if isinstance(base, Mapping):
            try:
                return base.get(key)
            except TypeError:
                self.fail(f"cannot fetch {key} from map: the key is a {go_type(key)}", node)
        if isinstance(base, GoStruct):
            if not isinstance(key, str):
                self.fail(f"cannot fetch {key} from {type(base).__name__}", node)
            try:
                return base.go_member(key)
            except KeyError:
                self.fail(f"type {type(base).__name__} has no field {key}", node)
        if _is_list(base) or isinstance(base, str):
            if not isinstance(key, int) or isinstance(key, bool):
                self.fail(f"cannot fetch {key} from {go_type(base)}: index must be an int", node)
            index = key + len(base) if key < 0 else key
            if not 0 <= index < len(base):
                self.fail(f"index out of range: {index} (array length is {len(base)})", node)
            return base[index]
        self.fail(f"cannot fetch {key} from {go_type(base)}", node)

    def slice(self, node: Slice) -> Any:
        base = self.value_of(node.node)
        if not (_is_list(base) or isinstance(base, str)):
            self.fail(f"cannot slice {go_type(base)}", node)
        bounds = []
        for bound, default in ((node.start, 0), (node.end, len(base))):
            value = default if bound is None else self.value_of(bound)
            if not isinstance(value, int) or isinstance(value, bool):
                self.fail(f"slice bounds must be ints, not {go_type(value)}", node)
            # As expr: negative counts from the end, and bounds are clamped to the length.
            value = value + len(base) if value < 0 else value
            bounds.append(min(max(value, 0), len(base)))
        start, end = bounds
        return base[start:end] if start <= end else base[0:0]

    # --- calls ---------------------------------------------------------------------------

    def call(self, node: Call) -> Any:
        function = self.callee(node.callee)
        args = [self.value_of(arg) for arg in node.args]
        try:
            return function(*args)
        except ExpressionError as error:
            if error.position is not None:
                raise
            self.fail(error.message, node)
        except (TypeError, ValueError, OverflowError) as error:
            # Our own functions reject bad arguments with these; say which call it was.
            name = node.callee.name if isinstance(node.callee, Identifier) else "method"
            self.fail(f"{name}(): {error}", node)

    def callee(self, callee: Node) -> Callable[..., Any]:
        if isinstance(callee, Identifier):
            function = self.variables.get(callee.name, BUILTINS.get(callee.name))
            if function is None:
                self.fail(f"unknown function {callee.name}()", callee)
        else:
            function = self.value_of(callee)
            if function is None:
                self.fail("cannot call nil", callee)
        if not callable(function):
            self.fail(f"{go_type(function)} is not a function", callee)
        return function

    # --- operators -----------------------------------------------------------------------

    def unary(self, node: Unary) -> Any:
        value = self.value_of(node.node)
        if node.op in ("!", "not"):
            if not isinstance(value, bool):
                self.fail(f"invalid operation: {node.op} {go_type(value)}", node)
            return not value
        if not _is_number(value):
            self.fail(f"invalid operation: {node.op} {go_type(value)}", node)
        return -value if node.op == "-" else value

    def binary(self, node: Binary) -> Any:
        op = node.op
        if op in ("&&", "and", "||", "or"):
            return self.logical(node)
        if op == "??":
            left = self.lenient(node.left)
            return self.value_of(node.right) if left is None else left
        left, right = self.value_of(node.left), self.value_of(node.right)
        if op == "==":
            return equal(left, right)
        if op == "!=":
            return not equal(left, right)
        if op in _ORDER:
            return self.compare(op, left, right, node)
        if op == "in":
            return self.contains(left, right, node)
        if op in _STRING_TESTS or op == "matches":
            if not (isinstance(left, str) and isinstance(right, str)):
                self.fail(f"invalid operation: {go_type(left)} {op} {go_type(right)}", node)
            if op != "matches":
                return _STRING_TESTS[op](left, right)
            try:
                return re.search(right, left) is not None
            except re.error as error:
                self.fail(f"invalid regular expression {right!r}: {error}", node)
        if op == "..":
            if not (isinstance(left, int) and isinstance(right, int)):
                self.fail(f"invalid operation: {go_type(left)} .. {go_type(right)}", node)
            return list(range(left, right + 1))
        if op == "+" and isinstance(left, str) and isinstance(right, str):
            return left + right
        return self.arithmetic(op, left, right, node)

    def lenient(self, node: Node) -> Any:
        if isinstance(node, Identifier):
            return self.variables.get(node.name)
        return self.value_of(node)

    def logical(self, node: Binary) -> bool:
        is_and = node.op in ("&&", "and")
        left = self.value_of(node.left)
        if not isinstance(left, bool):
            self.fail(f"invalid operation: {go_type(left)} {node.op} bool", node)
        if left is not is_and:
            return left
        right = self.value_of(node.right)
        if not isinstance(right, bool):
            self.fail(f"invalid operation: bool {node.op} {go_type(right)}", node)
        return right

    def compare(self, op: str, left: Any, right: Any, node: Node) -> bool:
        comparable = (
            (_is_number(left) and _is_number(right))
            or (isinstance(left, str) and isinstance(right, str))
            or (isinstance(left, datetime) and isinstance(right, datetime))
        )
        if not comparable:
            self.fail(f"invalid operation: {go_type(left)} {op} {go_type(right)}", node)
        return _ORDER[op](left, right)

    def contains(self, item: Any, collection: Any, node: Node) -> bool:
        if _is_list(collection):
            return any(equal(item, element) for element in collection)
        if isinstance(collection, Mapping):
            try:
                return item in collection
            except TypeError:
                return False
        if isinstance(collection, GoStruct):
            return item in collection.go_field_names()
        self.fail(f'operator "in" not defined on {go_type(collection)}', node)

    def arithmetic(self, op: str, left: Any, right: Any, node: Node) -> Any:
        if not (_is_number(left) and _is_number(right)):
            self.fail(f"invalid operation: {go_type(left)} {op} {go_type(right)}", node)
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
                self.fail(f"invalid operation: {go_type(left)} % {go_type(right)}", node)
            if right == 0:
                self.fail("integer divide by zero", node)
            # Go's remainder takes the sign of the dividend.
            remainder = abs(left) % abs(right)
            return -remainder if left < 0 else remainder
        try:
            return math.pow(left, right)
        except (OverflowError, ValueError):
            return math.inf if left > 0 else math.nan


def evaluate_node(text: str, node: Node, variables: Mapping[str, Any]) -> Any:
    """Evaluate a parsed expression; ``text`` is the source, for error positions."""
    return Evaluator(text, variables).value_of(node)
