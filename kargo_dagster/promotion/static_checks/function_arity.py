"""The functions expressions may call, with the argument counts each takes."""

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from kargo_dagster.expressions import kargo_functions
from kargo_dagster.expressions.expr_builtins import BUILTINS
from kargo_dagster.expressions.resource_functions import DATA_FUNCTIONS

__all__ = [
    "NOT_PROVIDED",
    "STEP_ONLY_FUNCTIONS",
    "Arity",
    "builtin_functions",
    "describe_arity",
    "step_functions",
    "verification_functions",
]

Arity = tuple[int, int | None]
"""Fewest and most arguments a function takes (None: no limit)."""

# Functions with a variable argument list, which their signatures cannot tell.
_VARIADIC: dict[str, Arity] = {
    "imageFrom": (1, 2),
    "commitFrom": (1, 2),
    "chartFrom": (1, 3),
    "artifactFrom": (1, 2),
    **dict.fromkeys(DATA_FUNCTIONS, (1, 1)),
    "now": (0, 1),
    "date": (1, 3),
    "max": (1, None),
    "min": (1, None),
    "concat": (1, None),
}
# The verification layer removes these from the functions its args may call.
STEP_ONLY_FUNCTIONS = frozenset({"success", "failure", "always", "status"})
# Functions Kargo or expr have that kargo-dagster does not: a clearer word than "unknown".
_EXPR_NOT_PROVIDED = "type mean median bitnot bitand bitor bitxor bitnand bitshl bitshr bitushr"
# artifactFrom() is provided to steps and verification, not to freightCreationCriteria:
# kargo-dagster discovers no generic subscriptions.
NOT_PROVIDED = {
    "artifactFrom": "a Kargo function",
    **dict.fromkeys(_EXPR_NOT_PROVIDED.split(), "an expr built-in"),
}


def _arity(name: str, function: Callable[..., Any]) -> Arity:
    if name in _VARIADIC:
        return _VARIADIC[name]
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return 0, None
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = sum(1 for p in positional if p.default is p.empty)
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return required, None
    return required, len(positional)


@functools.cache
def step_functions() -> Mapping[str, Arity]:
    functions = {**BUILTINS, **kargo_functions(collection={})}
    return {name: _arity(name, function) for name, function in functions.items()}


@functools.cache
def builtin_functions() -> Mapping[str, Arity]:
    return {name: _arity(name, function) for name, function in BUILTINS.items()}


def verification_functions() -> Mapping[str, Arity]:
    return {k: v for k, v in step_functions().items() if k not in STEP_ONLY_FUNCTIONS}


def describe_arity(arity: Arity) -> str:
    fewest, most = arity
    if most is None:
        return f"at least {fewest} argument{'s' if fewest != 1 else ''}"
    if fewest == most:
        return f"{fewest} argument{'s' if fewest != 1 else ''}"
    return f"{fewest} to {most} arguments"
