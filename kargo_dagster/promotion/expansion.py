"""A Stage's promotion steps, with PromotionTasks inflated in place, as Kargo does.

Kargo inflates tasks when a Promotion is created (``pkg/api`` ``InflateSteps``):

* every step gets an alias: its ``as``, or ``step-N`` (``task-N`` for a task reference),
  N being its 1-based position in the template;
* a task reference is replaced by the task's steps, aliased ``<task alias>::<step alias>``
  (the inner default is ``step-N`` by position in the task);
* each inflated step's vars are, in this order: the task's default values for vars the
  Stage and template do not set, then the task reference's ``vars``, then the inner step's
  own ``vars``. Later entries win, and Stage/template vars are evaluated before all of
  them, so the precedence is task default < Stage < template < task reference < step.

A task var without a default that neither the Stage, the template nor the reference sets is
an error, as in Kargo.
"""

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from kargo_dagster.errors import KargoDagsterError, ManifestError, ManifestProblem
from kargo_dagster.spec.catalog import Catalog, ProjectManifests
from kargo_dagster.spec.stage import Stage
from kargo_dagster.spec.steps import ExpressionVariable, PromotionStep, PromotionTaskReference
from kargo_dagster.spec.tasks import PromotionTaskSpec

__all__ = ["ALIAS_SEPARATOR", "PlannedStep", "expand_steps", "expand_template_steps"]

# Between a task's alias and its step's alias in an inflated step's alias.
ALIAS_SEPARATOR = "::"

# Finds the spec of the task a step refers to.
TaskLookup = Callable[[PromotionTaskReference], PromotionTaskSpec]


@dataclass(frozen=True)
class PlannedStep:
    """One step as the engine runs it: aliased, tasks inflated, vars merged.

    Attributes:
        alias: Unique in the promotion (``update-image``, ``task-1::step-2``).
        uses: The step kind (``git-clone``).
        if_: The ``if`` expression, if any.
        continue_on_error: Failures of this step do not stop the promotion.
        error_threshold: ``retry.errorThreshold`` (None or 0: the step's default).
        timeout: ``retry.timeout`` (None: the step's default; zero: no limit).
        vars: Step-level vars in evaluation order (later ones win).
        config: The unevaluated configuration.
    """

    alias: str
    uses: str
    if_: str | None = None
    continue_on_error: bool = False
    error_threshold: int | None = None
    timeout: timedelta | None = None
    vars: tuple[ExpressionVariable, ...] = ()
    config: Mapping[str, Any] | None = None

    @property
    def task_alias(self) -> str | None:
        """The alias of the task this step was inflated from, or None for a template step.

        Like Kargo, this reads the alias: exactly one ``::`` marks a task step.
        """
        parts = self.alias.split(ALIAS_SEPARATOR)
        return parts[0] if len(parts) == 2 else None

    @property
    def short_alias(self) -> str:
        """The alias inside its task (``step-2`` for ``task-1::step-2``)."""
        parts = self.alias.split(ALIAS_SEPARATOR)
        return parts[1] if len(parts) == 2 else self.alias

    @classmethod
    def from_spec(
        cls, step: PromotionStep, alias: str, leading_vars: Sequence[ExpressionVariable] = ()
    ) -> "PlannedStep":
        """The planned form of a ``uses`` step.

        Args:
            step: The manifest's step (must have ``uses``).
            alias: Its alias in the promotion.
            leading_vars: Vars placed before the step's own (a task's inputs).
        """
        if step.uses is None:
            raise KargoDagsterError(f"step {alias!r} refers to a task: inflate it first")
        retry = step.retry
        return cls(
            alias=alias,
            uses=step.uses,
            if_=step.if_ or None,
            continue_on_error=step.continue_on_error,
            error_threshold=retry.error_threshold if retry is not None else None,
            timeout=retry.timeout if retry is not None else None,
            vars=(*leading_vars, *step.vars),
            config=copy.deepcopy(step.config) if step.config is not None else None,
        )


def _default_alias(step: PromotionStep, index: int) -> str:
    if step.as_:
        return step.as_
    return f"task-{index + 1}" if step.task is not None else f"step-{index + 1}"


def _is_set(var: ExpressionVariable) -> bool:
    return bool(var.value)


def _task_inputs(
    task: PromotionTaskSpec,
    promotion_vars: Sequence[ExpressionVariable],
    reference_vars: Sequence[ExpressionVariable],
) -> tuple[list[ExpressionVariable], list[str]]:
    """The vars leading each inflated step, and the names of required vars nobody sets."""
    set_by_promotion = {v.name for v in promotion_vars if _is_set(v)}
    set_by_reference = {v.name for v in reference_vars if _is_set(v)}
    inputs: list[ExpressionVariable] = []
    missing: list[str] = []
    for var in task.vars:
        if var.name in set_by_promotion:
            # A default here would override the Stage's value, which is evaluated first.
            continue
        if _is_set(var):
            inputs.append(var)
        elif var.name not in set_by_reference:
            missing.append(var.name)
    return [*inputs, *reference_vars], missing


def expand_template_steps(
    steps: Sequence[PromotionStep],
    *,
    promotion_vars: Sequence[ExpressionVariable],
    find_task: TaskLookup,
) -> list[PlannedStep]:
    """Alias ``steps`` and inflate their task references.

    Args:
        steps: A promotion template's steps.
        promotion_vars: The Stage's vars followed by the template's.
        find_task: Returns the spec of a referenced task; raises when there is none.

    Returns:
        The steps to run, in order.

    Raises:
        ManifestError: A task var without a default is set nowhere (field
            ``steps.<index>.vars``), or ``find_task`` found no task.
    """
    planned: list[PlannedStep] = []
    for index, step in enumerate(steps):
        alias = _default_alias(step, index)
        if step.task is None:
            planned.append(PlannedStep.from_spec(step, alias))
            continue
        task = find_task(step.task)
        inputs, missing = _task_inputs(task, promotion_vars, step.vars)
        if missing:
            names = ", ".join(repr(name) for name in missing)
            raise ManifestError(
                [
                    ManifestProblem(
                        file="<promotion>",
                        line=0,
                        kind=step.task.kind,
                        name=step.task.name,
                        field=f"steps.{index}.vars",
                        message=f"missing value for task variable {names}; set it in this "
                        "step's vars, the template's vars or the Stage's vars",
                    )
                ]
            )
        for inner_index, inner in enumerate(task.steps):
            inner_alias = f"{alias}{ALIAS_SEPARATOR}{_default_alias(inner, inner_index)}"
            planned.append(PlannedStep.from_spec(inner, inner_alias, inputs))
    return planned


def expand_steps(
    stage: Stage, *, catalog: Catalog | None = None, project: ProjectManifests | None = None
) -> list[PlannedStep]:
    """``stage``'s promotion steps with PromotionTasks inflated in place.

    Args:
        stage: The Stage; a control-flow Stage (no template) has no steps.
        catalog: Where tasks are looked up (PromotionTasks in the Stage's Project and
            ClusterPromotionTasks). Takes precedence over ``project``.
        project: The Stage's Project, when no catalog is at hand (no ClusterPromotionTasks).

    Returns:
        The steps to run, in order.

    Raises:
        ManifestError: A referenced task does not exist, or one of its required vars is
            set nowhere.
    """
    template = stage.spec.promotion_template
    if template is None:
        return []
    project_name = stage.metadata.namespace or (project.name if project is not None else "")

    def find_task(ref: PromotionTaskReference) -> PromotionTaskSpec:
        if catalog is not None:
            return catalog.find_task(project_name, ref).spec
        if project is not None and ref.kind == "PromotionTask":
            task = project.promotion_tasks.get(ref.name)
            if task is not None:
                return task.spec
        raise ManifestError(
            [
                ManifestProblem(
                    file=stage.source.file,
                    line=stage.source.line,
                    kind="Stage",
                    name=stage.metadata.name,
                    field="spec.promotionTemplate.spec.steps",
                    message=f"no {ref.kind} {ref.name!r} in Project {project_name!r}",
                )
            ]
        )

    try:
        return expand_template_steps(
            template.spec.steps,
            promotion_vars=[*stage.spec.vars, *template.spec.vars],
            find_task=find_task,
        )
    except ManifestError as error:
        raise ManifestError([_in_stage(stage, p) for p in error.problems]) from error


def _in_stage(stage: Stage, problem: ManifestProblem) -> ManifestProblem:
    if problem.file != "<promotion>":
        return problem
    field = f"spec.promotionTemplate.spec.{problem.field}"
    return ManifestProblem(
        file=stage.source.file,
        line=stage.line_of(field),
        kind="Stage",
        name=stage.metadata.name,
        field=field,
        message=f"{problem.kind} {problem.name!r}: {problem.message}",
    )
