"""Checks a PromotionTask on its own, whatever Stage uses it."""

from collections.abc import Collection, Iterator

from kargo_dagster.errors import ManifestProblem
from kargo_dagster.promotion.static_checks.field_paths import TASK_STEPS
from kargo_dagster.promotion.static_checks.scopes import task_scope
from kargo_dagster.promotion.static_checks.step_expressions import step_field_issues, var_issues
from kargo_dagster.promotion.static_checks.step_shape import step_shape_problems
from kargo_dagster.spec.crosscheck import problem
from kargo_dagster.spec.steps import PromotionStep
from kargo_dagster.spec.tasks import ClusterPromotionTask, PromotionTask

__all__ = ["Task", "check_task"]

Task = PromotionTask | ClusterPromotionTask


def _short_alias(step: PromotionStep, index: int) -> str:
    # expansion's default aliases: a task's steps cannot reference tasks, so always step-N.
    return step.as_ or f"step-{index + 1}"


def check_task(task: Task, step_kinds: Collection[str]) -> Iterator[ManifestProblem]:
    for index, var in enumerate(task.spec.vars):
        for issue in var_issues(var, task_scope(())):
            yield problem(task, ("spec", "vars", index, "value"), issue.message)
    aliases: list[str] = []
    for index, step in enumerate(task.spec.steps):
        path = (*TASK_STEPS, index)
        yield from step_shape_problems(task, path, step, step_kinds)
        scope = task_scope(aliases)
        for var_index, var in enumerate(step.vars):
            for issue in var_issues(var, scope):
                yield problem(task, (*path, "vars", var_index, "value"), issue.message)
        for where, issue in step_field_issues(step, scope):
            yield problem(task, (*path, *where), issue.message)
        aliases.append(_short_alias(step, index))
