"""Checks a step's kind and its config's literal parts: the same wherever the step runs."""

from collections.abc import Collection, Iterator

from kargo_dagster.errors import ManifestProblem
from kargo_dagster.promotion.registry import unknown_step_kind
from kargo_dagster.promotion.schema_validation import has_schema
from kargo_dagster.promotion.static_checks.config_schema import schema_issues
from kargo_dagster.spec.base import KargoObject
from kargo_dagster.spec.crosscheck import problem
from kargo_dagster.spec.locations import FieldPath
from kargo_dagster.spec.steps import PromotionStep

__all__ = ["step_shape_problems"]


def step_shape_problems(
    obj: KargoObject, path: FieldPath, step: PromotionStep, step_kinds: Collection[str]
) -> Iterator[ManifestProblem]:
    """The step's kind and its config's literal parts: the same wherever the step runs."""
    if step.uses is None:
        return
    if step.uses not in step_kinds:
        issue = unknown_step_kind(step.uses, step_kinds)
        yield problem(obj, (*path, "uses"), f"{issue}, so a promotion would stop at this step")
        return
    if has_schema(step.uses):
        for where, message in schema_issues(step.uses, step.config or {}):
            yield problem(obj, (*path, "config", *where), message)
