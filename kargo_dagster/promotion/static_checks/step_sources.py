"""Where each step a Stage's promotion plans, and each var it carries, is written."""

from dataclasses import dataclass

from kargo_dagster.promotion.static_checks.field_paths import TASK_STEPS, TEMPLATE
from kargo_dagster.promotion.static_checks.promotion_tasks import Task
from kargo_dagster.spec.catalog import Catalog
from kargo_dagster.spec.locations import FieldPath
from kargo_dagster.spec.stage import Stage
from kargo_dagster.spec.steps import PromotionStep

__all__ = ["Source", "planned_sources", "var_sources"]


@dataclass(frozen=True)
class Source:
    """Where one planned step is written.

    Attributes:
        step: The step as written.
        owner: The Stage, or the task whose step it is.
        path: The step's path in ``owner``.
        reference: The Stage's ``task:`` step that inflated it, for a task's step.
    """

    step: PromotionStep
    owner: Stage | Task
    path: FieldPath
    reference: FieldPath | None = None


def planned_sources(catalog: Catalog, stage: Stage) -> list[Source]:
    """One source per step :func:`~kargo_dagster.promotion.expansion.expand_steps` plans,
    in the same order."""
    project = stage.metadata.namespace or ""
    sources: list[Source] = []
    for index, step in enumerate(stage.steps):
        path = (*TEMPLATE, "steps", index)
        if step.task is None:
            sources.append(Source(step, stage, path))
            continue
        task = catalog.find_task(project, step.task)
        sources.extend(
            Source(inner, task, (*TASK_STEPS, k), path) for k, inner in enumerate(task.spec.steps)
        )
    return sources


def var_sources(source: Source, stage: Stage) -> dict[int, tuple[Stage | Task, FieldPath]]:
    """Where each var a planned step may carry is written, by the var's identity.

    A task's step carries the task's defaults, the ``task:`` step's vars and its own, as
    the very objects of the manifests, so identity tells them apart.
    """
    found: dict[int, tuple[Stage | Task, FieldPath]] = {}
    owner = source.owner
    for index, var in enumerate(source.step.vars):
        found[id(var)] = (owner, (*source.path, "vars", index, "value"))
    if isinstance(owner, Stage) or source.reference is None:
        return found
    for index, var in enumerate(owner.spec.vars):
        found[id(var)] = (owner, ("spec", "vars", index, "value"))
    reference_index = source.reference[-1]
    if isinstance(reference_index, int):
        for index, var in enumerate(stage.steps[reference_index].vars):
            found[id(var)] = (stage, (*source.reference, "vars", index, "value"))
    return found
