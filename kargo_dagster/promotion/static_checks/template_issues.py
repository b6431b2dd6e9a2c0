"""Splits ``${{ }}`` templates into their expressions, and checks each of them."""

from kargo_dagster.errors import ExpressionError
from kargo_dagster.promotion.static_checks.expression_refs import (
    Issue,
    expression_issues,
    located,
)
from kargo_dagster.promotion.static_checks.scopes import Scope

__all__ = ["split_template", "template_issues"]

# The delimiters kargo_dagster.expressions.templates evaluates.
_DELIMITERS = (("${{", "}}"), ("${%", "%}"))


def split_template(text: str) -> tuple[list[str], list[str]]:
    """The expressions in ``text`` and the literal text around them, as Kargo reads them.

    Raises:
        ExpressionError: A delimiter is not closed.
    """
    expressions: list[str] = []
    literals: list[str] = []
    rest = text
    while found := [(rest.find(start), start, end) for start, end in _DELIMITERS if start in rest]:
        index, start, end = min(found)
        close = rest.find(end, index + len(start))
        if close < 0:
            raise ExpressionError(
                f"unclosed expression: expected {end!r} but reached end of template",
                expression=text,
            )
        literals.append(rest[:index])
        expressions.append(rest[index + len(start) : close])
        rest = rest[close + len(end) :]
    literals.append(rest)
    return expressions, literals


def template_issues(text: str, scope: Scope) -> list[Issue]:
    try:
        expressions, _ = split_template(text)
    except ExpressionError as error:
        return [Issue(located(text, None, error.message))]
    return [issue for expression in expressions for issue in expression_issues(expression, scope)]
