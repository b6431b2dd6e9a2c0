"""Checks one parsed expression: the functions it calls and the vars, outputs and ctx it reads."""

import dataclasses
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions.ast import (
    Binary,
    Call,
    Chain,
    Identifier,
    Let,
    Literal,
    Member,
    Node,
)
from kargo_dagster.expressions.parser import parse
from kargo_dagster.promotion.static_checks.function_arity import (
    NOT_PROVIDED,
    STEP_ONLY_FUNCTIONS,
    builtin_functions,
    describe_arity,
    step_functions,
)
from kargo_dagster.promotion.static_checks.scopes import Scope
from kargo_dagster.spec.diagnostics import did_you_mean

__all__ = ["Issue", "expression_issues", "located"]


@dataclass(frozen=True)
class Issue:
    """One mistake in one expression; ``contextual`` when it depends on the Stage using the
    task that holds it (an undefined var or output), so the Stage is where it is reported."""

    message: str
    contextual: bool = False


def located(expression: str, position: int | None, message: str) -> str:
    at = f" at position {position}" if position is not None else ""
    return f"in expression {expression!r}{at}: {message}"


def expression_issues(text: str, scope: Scope) -> list[Issue]:
    try:
        tree = parse(text.strip())
    except ExpressionError as error:
        return [Issue(located(text.strip(), error.position, error.message))]
    walker = _Walker(text.strip(), scope)
    walker.visit(tree)
    return walker.issues


def _children(node: Node) -> Iterator[Node]:
    for item in dataclasses.fields(node):
        yield from _nodes_in(getattr(node, item.name))


def _nodes_in(value: Any) -> Iterator[Node]:
    if isinstance(value, Node):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _nodes_in(item)


def _literal_key(node: Node) -> str | int | None:
    if isinstance(node, Literal) and isinstance(node.value, str | int):
        return None if isinstance(node.value, bool) else node.value
    return None


class _Walker:
    """Walks one parsed expression and collects what it calls or reads that is not there."""

    def __init__(self, text: str, scope: Scope) -> None:
        self.text = text
        self.scope = scope
        self.lets: list[str] = []
        self.issues: list[Issue] = []
        # Inside "x ?? default" or a "?." chain a missing value is expected, not a mistake.
        self.guarded = 0

    def report(self, message: str, node: Node, *, contextual: bool = False) -> None:
        self.issues.append(Issue(located(self.text, node.pos, message), contextual))

    def visit(self, node: Node) -> None:
        if isinstance(node, Member | Chain):
            self.reference(node)
        elif isinstance(node, Identifier):
            self.root(node, [])
        elif isinstance(node, Call):
            self.call(node)
        elif isinstance(node, Binary) and node.op == "??":
            self.guarded += 1
            self.visit(node.left)
            self.guarded -= 1
            self.visit(node.right)
        elif isinstance(node, Let):
            self.visit(node.value)
            self.lets.append(node.name)
            self.visit(node.body)
            self.lets.pop()
        else:
            for child in _children(node):
                self.visit(child)

    def reference(self, node: Member | Chain) -> None:
        """``a.b['c'][x]``: checks the part that names fields, then what computes keys."""
        keys: list[Node] = []
        base: Node = node
        optional = False
        while isinstance(base, Member | Chain):
            if isinstance(base, Member):
                keys.append(base.property)
            optional = optional or isinstance(base, Chain)
            base = base.node
        keys.reverse()
        static: list[str | int] = []
        for key in keys:
            value = _literal_key(key)
            if value is None:
                break
            static.append(value)
        for key in keys:
            if _literal_key(key) is None:
                self.visit(key)
        if isinstance(base, Identifier):
            self.root(base, static, optional=optional)
        else:
            self.visit(base)

    def root(self, node: Identifier, keys: list[str | int], *, optional: bool = False) -> None:
        name, scope = node.name, self.scope
        if name in self.lets or name == "$env" or self.guarded or optional:
            return
        if name not in scope.roots:
            if name in scope.absent:
                self.report(f"{name} is not available here: {scope.absent[name]}", node)
            elif name not in scope.functions:
                self.report(f"unknown variable {name!r}{self.suggestion(name)}", node)
            return
        first = str(keys[0]) if keys else None
        if name == "vars" and first is not None:
            self.var(first, node)
        elif name == "outputs" and first is not None:
            self.output(first, node)
        elif name == "task" and first is not None:
            self.task_output(keys, node)
        elif name == "ctx":
            self.ctx_field(keys, node)

    def suggestion(self, name: str) -> str:
        if "ctx" in self.scope.roots and name in self.scope.ctx:
            # ``stage`` for ``ctx.stage``: the most common slip.
            return f"; did you mean 'ctx.{name}'?"
        return did_you_mean(name, sorted(self.scope.roots))

    def var(self, name: str, node: Node) -> None:
        defined = self.scope.vars
        if defined is None or name in defined:
            return
        if name in self.scope.later_vars:
            message = f"vars.{name} is defined after this var, which sees only the vars before it"
        else:
            message = f"vars.{name} is not defined in {self.scope.vars_from}" + did_you_mean(
                name, defined
            )
        self.report(message, node, contextual=True)

    def output(self, alias: str, node: Node) -> None:
        known = self.scope.outputs
        if known is None or alias in known:
            return
        message = f"outputs.{alias}: no earlier step has the alias {alias!r}"
        if alias in self.scope.later_outputs:
            message += "; that step runs after this one"
        self.report(message + did_you_mean(alias, known), node, contextual=True)

    def task_output(self, keys: list[str | int], node: Node) -> None:
        if keys[0] != "outputs":
            self.report(f"task has no field {keys[0]!r}; it has only outputs", node)
            return
        known = self.scope.task_outputs
        if known is None or len(keys) < 2 or keys[1] in known:
            return
        alias = str(keys[1])
        self.report(
            f"task.outputs.{alias}: no earlier step of this task has the alias {alias!r}"
            + did_you_mean(alias, known),
            node,
        )

    def ctx_field(self, keys: list[str | int], node: Node) -> None:
        shape: Any = self.scope.ctx
        walked = "ctx"
        for key in keys:
            if not isinstance(shape, Mapping):
                return
            if key not in shape:
                fields = ", ".join(sorted(shape))
                self.report(
                    f"{walked} has no field {key!r} (it has {fields}{self.scope.ctx_note})"
                    + did_you_mean(str(key), shape),
                    node,
                )
                return
            shape, walked = shape[key], f"{walked}.{key}"

    def call(self, node: Call) -> None:
        callee = node.callee
        if isinstance(callee, Identifier) and callee.name not in self.lets:
            self.function(callee.name, len(node.args), node)
        else:
            self.visit(callee)
        for argument in node.args:
            self.visit(argument)

    def function(self, name: str, count: int, node: Call) -> None:
        functions = builtin_functions() if node.builtin_only else self.scope.functions
        arity = functions.get(name)
        if arity is None:
            if name in NOT_PROVIDED:
                self.report(
                    f"{name}() is {NOT_PROVIDED[name]} kargo-dagster does not provide", node
                )
            elif name in STEP_ONLY_FUNCTIONS and name in step_functions():
                self.report(f"{name}() exists only in promotion steps", node)
            else:
                self.report(f"unknown function {name}(){did_you_mean(name, functions)}", node)
            return
        fewest, most = arity
        if count < fewest or (most is not None and count > most):
            self.report(f"{name}() takes {describe_arity(arity)}, not {count}", node)
