"""The expressions in a step's ``if``, config and vars, checked against their scope."""

from collections.abc import Iterator, Mapping
from typing import Any

from kargo_dagster.expressions import has_expression
from kargo_dagster.promotion.static_checks.expression_refs import Issue
from kargo_dagster.promotion.static_checks.scopes import Scope
from kargo_dagster.promotion.static_checks.template_issues import template_issues
from kargo_dagster.spec.locations import FieldPath
from kargo_dagster.spec.steps import ExpressionVariable, PromotionStep

__all__ = ["step_field_issues", "var_issues"]


def _strings(value: Any, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    """Every string in a config that Kargo would evaluate, with its path."""
    if isinstance(value, str):
        if has_expression(value):
            yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, index))


def _if_issues(text: str, scope: Scope) -> list[Issue]:
    if has_expression(text):
        return template_issues(text, scope)
    # Text without an expression stays a string, and if needs a boolean.
    return [Issue(f"{text!r} is text, not a boolean; write it as an expression: ${{{{ {text} }}}}")]


def step_field_issues(step: PromotionStep, scope: Scope) -> Iterator[tuple[FieldPath, Issue]]:
    """Issues in the step's ``if`` and config (its vars are checked one by one)."""
    if step.if_:
        for issue in _if_issues(step.if_, scope):
            yield ("if",), issue
    for path, text in _strings(step.config or {}, ("config",)):
        for issue in template_issues(text, scope):
            yield path, issue


def var_issues(var: ExpressionVariable, scope: Scope) -> list[Issue]:
    return template_issues(var.value, scope) if var.value else []
