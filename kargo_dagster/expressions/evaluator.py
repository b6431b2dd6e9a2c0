"""Evaluation of a parsed expression against variables, with expr-lang's runtime rules.

Values are Python's: ``None`` (nil), ``bool``, ``int``, ``float``, ``str``, lists, dicts,
``datetime`` (Go's ``time.Time``) and the Go-like objects of
:mod:`kargo_dagster.expressions.objects` and :mod:`kargo_dagster.expressions.goduration`.
Operators follow :mod:`kargo_dagster.expressions.operators`; ``&&``/``||`` short-circuit.

Names resolve as in expr compiled the way Kargo compiles it (no typed environment): a
``let`` variable first, then ``$env`` (all variables), then the variables; an unknown
variable is nil, so ``?.`` and ``??`` work on it. An unknown *function* is an error.
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NoReturn

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.ast import (
    Array,
    Binary,
    Builtin,
    Call,
    Chain,
    Conditional,
    Identifier,
    Let,
    Literal,
    Map,
    Member,
    Node,
    Pointer,
    Predicate,
    Sequence,
    Slice,
    Unary,
)
from kargo_dagster.expressions.expr_builtins import BUILTINS
from kargo_dagster.expressions.gotime import time_method
from kargo_dagster.expressions.gotype import go_type
from kargo_dagster.expressions.objects import GoStruct
from kargo_dagster.expressions.operators import (
    arithmetic,
    compare,
    contains,
    equal,
    is_list,
    is_number,
    string_test,
)
from kargo_dagster.expressions.predicates import Scope, run_predicate

__all__ = ["Evaluator", "equal", "evaluate_node"]


class _NilChain(Exception):
    """A ``?.`` met nil: the enclosing chain evaluates to nil."""


_COMPARISONS = frozenset({"<", ">", "<=", ">="})
_STRING_OPERATORS = frozenset({"contains", "startsWith", "endsWith", "matches"})


class Evaluator:
    """Evaluates nodes of one expression; ``text`` is kept to locate errors."""

    def __init__(self, text: str, variables: Mapping[str, Any]) -> None:
        self.text = text
        self.variables = variables
        # let bindings, innermost last, and the predicate loops running, innermost last.
        self.locals: list[tuple[str, Any]] = []
        self.scopes: list[Scope] = []

    def fail(self, message: str, node: Node) -> NoReturn:
        """Raise an ExpressionError located at ``node``."""
        raise ExpressionError(message, expression=self.text, position=node.pos)

    @contextmanager
    def located(self, node: Node) -> Iterator[None]:
        """Place errors raised without a position (by operators, functions) at ``node``."""
        try:
            yield
        except ExpressionError as error:
            if error.position is not None:
                raise
            self.fail(error.message, node)

    def value_of(self, node: Node) -> Any:
        """The value of ``node``.

        Raises:
            ExpressionError: The evaluation fails; ``position`` points at the culprit.
        """
        match node:
            case Literal(value=value):
                return value
            case Identifier(name=name):
                return self.variable(name)
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
            case Builtin():
                return run_predicate(self, node)
            case Predicate(node=inner):
                return self.value_of(inner)
            case Pointer(name=name):
                return self.pointer(name, node)
            case Let():
                return self.let(node)
            case Sequence(nodes=nodes):
                for inner in nodes[:-1]:
                    self.value_of(inner)
                return self.value_of(nodes[-1])
            case _:
                self.fail(f"unsupported syntax {type(node).__name__}", node)

    # --- names ---------------------------------------------------------------------------

    def variable(self, name: str) -> Any:
        """A name's value: a let binding, ``$env``, a variable, or nil when unknown."""
        for bound, value in reversed(self.locals):
            if bound == name:
                return value
        if name == "$env":
            return {k: v for k, v in self.variables.items() if not callable(v)}
        return self.variables.get(name)

    def pointer(self, name: str, node: Node) -> Any:
        if not self.scopes:
            self.fail(f"cannot use pointer #{name} outside predicate", node)
        scope = self.scopes[-1]
        if name == "index":
            return scope.index
        if name == "acc":
            return scope.acc
        return scope.items[scope.index]

    def let(self, node: Let) -> Any:
        if callable(self.variables.get(node.name)):
            # Kargo's functions are expr functions, which a let may not redeclare.
            self.fail(f"cannot redeclare function {node.name}", node)
        value = self.value_of(node.value)
        self.locals.append((node.name, value))
        try:
            return self.value_of(node.body)
        finally:
            self.locals.pop()

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
                self.fail(f"cannot fetch {key} from {base.go_type_name()}", node)
            try:
                return base.go_member(key)
            except KeyError:
                self.fail(f"type {base.go_type_name()} has no field {key}", node)
        if isinstance(base, datetime):
            try:
                return time_method(base, key)
            except (KeyError, TypeError):
                self.fail(f"type time.Time has no field or method {key}", node)
        if is_list(base) or isinstance(base, str):
            if not isinstance(key, int) or isinstance(key, bool):
                self.fail(f"cannot fetch {key} from {go_type(base)}: index must be an int", node)
            index = key + len(base) if key < 0 else key
            if not 0 <= index < len(base):
                self.fail(f"index out of range: {index} (array length is {len(base)})", node)
            return base[index]
        self.fail(f"cannot fetch {key} from {go_type(base)}", node)

    def slice(self, node: Slice) -> Any:
        base = self.value_of(node.node)
        if not (is_list(base) or isinstance(base, str)):
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
        function = self.callee(node)
        args = [self.value_of(arg) for arg in node.args]
        with self.located(node):
            try:
                return function(*args)
            except (TypeError, ValueError, OverflowError) as error:
                # Our own functions reject bad arguments with these; say which call it was.
                name = node.callee.name if isinstance(node.callee, Identifier) else "method"
                self.fail(f"{name}(): {error}", node)

    def callee(self, node: Call) -> Callable[..., Any]:
        callee = node.callee
        function: Any
        if isinstance(callee, Identifier):
            if node.builtin_only:
                function = BUILTINS.get(callee.name)
            else:
                function = self.variable(callee.name)
                if function is None:
                    function = BUILTINS.get(callee.name)
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
        if not is_number(value):
            self.fail(f"invalid operation: {node.op} {go_type(value)}", node)
        return -value if node.op == "-" else value

    def binary(self, node: Binary) -> Any:
        op = node.op
        if op in ("&&", "and", "||", "or"):
            return self.logical(node)
        if op == "??":
            left = self.value_of(node.left)
            return self.value_of(node.right) if left is None else left
        left, right = self.value_of(node.left), self.value_of(node.right)
        with self.located(node):
            if op == "==":
                return equal(left, right)
            if op == "!=":
                return not equal(left, right)
            if op in _COMPARISONS:
                return compare(op, left, right)
            if op == "in":
                return contains(left, right)
            if op in _STRING_OPERATORS:
                return string_test(op, left, right)
            if op == "..":
                if not (isinstance(left, int) and isinstance(right, int)):
                    self.fail(f"invalid operation: {go_type(left)} .. {go_type(right)}", node)
                return list(range(left, right + 1))
            return arithmetic(op, left, right)

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


def evaluate_node(text: str, node: Node, variables: Mapping[str, Any]) -> Any:
    """Evaluate a parsed expression; ``text`` is the source, for error positions."""
    return Evaluator(text, variables).value_of(node)
