"""Checks a Warehouse's ``freightCreationCriteria`` expression."""

from collections.abc import Iterator

from kargo_dagster.errors import ManifestProblem
from kargo_dagster.expressions import has_expression
from kargo_dagster.promotion.static_checks.expression_refs import expression_issues
from kargo_dagster.promotion.static_checks.function_arity import Arity, builtin_functions
from kargo_dagster.promotion.static_checks.scopes import Scope
from kargo_dagster.spec.crosscheck import problem
from kargo_dagster.spec.locations import FieldPath
from kargo_dagster.spec.warehouse import Warehouse

__all__ = ["check_criteria"]

_CRITERIA: FieldPath = ("spec", "freightCreationCriteria", "expression")
# What discovery provides to freightCreationCriteria (discovery.creation_criteria), besides
# expr's built-ins; artifactFrom() is there but always fails, so it is listed as missing.
_CRITERIA_FUNCTIONS: dict[str, Arity] = {
    "imageFrom": (1, 1),
    "commitFrom": (1, 1),
    "chartFrom": (1, 2),
}


def _criteria_scope() -> Scope:
    why = (
        "freightCreationCriteria has no variables, only imageFrom(), commitFrom(), "
        "chartFrom() and expr's built-in functions"
    )
    return Scope(
        functions={**builtin_functions(), **_CRITERIA_FUNCTIONS},
        roots=frozenset(),
        absent=dict.fromkeys(("ctx", "vars", "outputs", "task"), why),
        ctx={},
    )


def check_criteria(warehouse: Warehouse) -> Iterator[ManifestProblem]:
    criteria = warehouse.spec.freight_creation_criteria
    expression = criteria.expression if criteria is not None else None
    if not expression or not expression.strip():
        return
    if has_expression(expression):
        yield problem(
            warehouse,
            _CRITERIA,
            "freightCreationCriteria.expression is plain expr, evaluated as it is: write it "
            "without ${{ }}",
        )
        return
    for issue in expression_issues(expression, _criteria_scope()):
        yield problem(warehouse, _CRITERIA, issue.message)
