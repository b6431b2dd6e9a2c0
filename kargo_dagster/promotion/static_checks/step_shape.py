"""Checks a step's kind and its config's literal parts: the same wherever the step runs."""

from collections.abc import Iterator

from kargo_dagster.errors import ManifestProblem, TerminalStepError
from kargo_dagster.promotion.registry import StepRegistry
from kargo_dagster.promotion.schema_validation import has_schema
from kargo_dagster.promotion.static_checks.config_schema import schema_issues
from kargo_dagster.spec.base import KargoObject
from kargo_dagster.spec.crosscheck import problem
from kargo_dagster.spec.locations import FieldPath
from kargo_dagster.spec.steps import PromotionStep

__all__ = ["step_shape_problems"]


def _kind_issue(uses: str, registry: StepRegistry) -> str | None:
    try:
        registry.get(uses)
    except TerminalStepError as error:
        return f"{error}, so a promotion would stop at this step"
    return None


def step_shape_problems(
    obj: KargoObject, path: FieldPath, step: PromotionStep, registry: StepRegistry
) -> Iterator[ManifestProblem]:
    """The step's kind and its config's literal parts: the same wherever the step runs."""
    if step.uses is None:
        return
    issue = _kind_issue(step.uses, registry)
    if issue is not None:
        yield problem(obj, (*path, "uses"), issue)
        return
    if has_schema(step.uses):
        for where, message in schema_issues(step.uses, step.config or {}):
            yield problem(obj, (*path, "config", *where), message)
