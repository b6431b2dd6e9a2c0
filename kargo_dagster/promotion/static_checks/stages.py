"""Checks a Stage: its vars, its verification args and every step its promotion plans."""

import dataclasses
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass

from kargo_dagster.errors import ManifestError, ManifestProblem
from kargo_dagster.promotion.expansion import PlannedStep, expand_steps
from kargo_dagster.promotion.static_checks.expression_refs import Issue
from kargo_dagster.promotion.static_checks.field_paths import TEMPLATE
from kargo_dagster.promotion.static_checks.promotion_tasks import Task
from kargo_dagster.promotion.static_checks.scopes import (
    promotion_var_scope,
    step_scope,
    verification_scope,
)
from kargo_dagster.promotion.static_checks.step_expressions import step_field_issues, var_issues
from kargo_dagster.promotion.static_checks.step_shape import step_shape_problems
from kargo_dagster.promotion.static_checks.step_sources import (
    Source,
    planned_sources,
    var_sources,
)
from kargo_dagster.promotion.static_checks.task_uses import TaskUses
from kargo_dagster.promotion.static_checks.template_issues import template_issues
from kargo_dagster.spec.catalog import Catalog
from kargo_dagster.spec.crosscheck import problem
from kargo_dagster.spec.locations import FieldPath
from kargo_dagster.spec.stage import Stage
from kargo_dagster.spec.steps import ExpressionVariable

__all__ = ["check_stage"]


@dataclass
class _StageReport:
    """Turns issues found in a Stage's promotion into problems, each where it can be fixed.

    An issue in a task's own text is the task's whatever Stage uses it, and the task's own
    check reports it; only what depends on the Stage (a var or output it lacks) is handed
    to ``task_uses``.
    """

    stage: Stage
    task_uses: TaskUses
    problems: list[ManifestProblem] = dataclasses.field(default_factory=list)

    def add(self, source: Source, owner: Stage | Task, path: FieldPath, issue: Issue) -> None:
        if isinstance(owner, Stage):
            self.problems.append(problem(self.stage, path, issue.message))
        elif issue.contextual and source.reference is not None:
            self.task_uses.lacks(owner, path, issue.message, (self.stage, source.reference))


def _promotion_vars(stage: Stage) -> list[tuple[ExpressionVariable, FieldPath]]:
    template = stage.spec.promotion_template
    found: list[tuple[ExpressionVariable, FieldPath]] = [
        (var, ("spec", "vars", i, "value")) for i, var in enumerate(stage.spec.vars)
    ]
    if template is not None:
        found.extend(
            (var, (*TEMPLATE, "vars", i, "value")) for i, var in enumerate(template.spec.vars)
        )
    return found


def check_stage(
    catalog: Catalog, stage: Stage, step_kinds: Collection[str], task_uses: TaskUses
) -> Iterator[ManifestProblem]:
    promotion_vars = _promotion_vars(stage)
    names = [var.name for var, _ in promotion_vars]
    for index, (var, path) in enumerate(promotion_vars):
        stage_var = index < len(stage.spec.vars)
        scope = promotion_var_scope(stage, names[:index], names[index + 1 :], stage_var=stage_var)
        for issue in var_issues(var, scope):
            yield problem(stage, path, issue.message)
    yield from _check_verification(stage)
    try:
        planned = expand_steps(stage, catalog=catalog)
    except ManifestError as error:
        # Only a hand-built catalog gets here: the loader refuses missing tasks and task vars.
        yield from error.problems
        return
    sources = planned_sources(catalog, stage)
    report = _StageReport(stage, task_uses)
    _check_planned(stage, planned, sources, names, report)
    for source in sources:
        if isinstance(source.owner, Stage):
            yield from step_shape_problems(stage, source.path, source.step, step_kinds)
        elif source.reference is not None:
            task_uses.use(source.owner, (stage, source.reference))
    yield from report.problems


def _check_verification(stage: Stage) -> Iterator[ManifestProblem]:
    verification = stage.spec.verification
    if verification is None:
        return
    scope = verification_scope(stage)
    for index, arg in enumerate(verification.args):
        for issue in template_issues(arg.value, scope):
            yield problem(stage, ("spec", "verification", "args", index, "value"), issue.message)


def _check_planned(
    stage: Stage,
    planned: Sequence[PlannedStep],
    sources: Sequence[Source],
    promotion_names: Sequence[str],
    report: _StageReport,
) -> None:
    """Checks each planned step's vars, ``if`` and config with what is visible to it."""
    checked: set[int] = set()
    for index, (step, source) in enumerate(zip(planned, sources, strict=True)):
        written_at = var_sources(source, stage)
        names = [*promotion_names, *(var.name for var in step.vars)]
        for var_index, var in enumerate(step.vars):
            if id(var) in checked or id(var) not in written_at:
                # A task's inputs lead each of its steps: check them once, at the first.
                continue
            checked.add(id(var))
            cut = len(promotion_names) + var_index
            scope = step_scope(planned, index, names[:cut], names[cut + 1 :])
            owner, path = written_at[id(var)]
            for issue in var_issues(var, scope):
                report.add(source, owner, path, issue)
        scope = step_scope(planned, index, names, ())
        for where, issue in step_field_issues(source.step, scope):
            report.add(source, source.owner, (*source.path, *where), issue)
