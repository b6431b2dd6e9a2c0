"""What a step's expressions see: ``ctx``, ``vars``, ``outputs``, ``task`` and the functions.

Mirrors Kargo's ``StepEvaluator`` (``pkg/promotion/evaluator.go``):

* the promotion's vars (the Stage's, then the template's) are evaluated first, in order,
  each seeing ``ctx``, the functions and the vars before it, but not ``outputs``;
* the step's vars (for a task step: the task's inputs, then the step's own) come next and
  also see ``outputs`` and, inside a task, ``task.outputs``;
* a later var of the same name replaces an earlier one;
* ``task.outputs`` holds the outputs of the steps of the same task, by their short alias;
* ``status(alias)`` looks in the current step's task (or among template steps), while
  ``success()``/``failure()`` consider every earlier step without ``continueOnError``.

Var values are templates (``${{ }}``) coerced like YAML, as config values are.
"""

from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

from kargo_dagster.errors import ExpressionError
from kargo_dagster.expressions import evaluate_template, kargo_functions
from kargo_dagster.expressions.functions import MetadataSource
from kargo_dagster.expressions.resource_functions import ResourceLookups
from kargo_dagster.promotion.expansion import ALIAS_SEPARATOR, PlannedStep
from kargo_dagster.promotion.step import PromotionInfo
from kargo_dagster.spec.steps import ExpressionVariable

__all__ = ["context_map", "scoped_statuses", "step_environment", "task_outputs"]


def context_map(promotion: PromotionInfo, alias: str) -> dict[str, Any]:
    """The ``ctx`` variable for the step ``alias``."""
    freight = promotion.freight
    return {
        "uiBaseUrl": promotion.ui_base_url,
        "project": promotion.project,
        "promotion": promotion.name,
        "stage": promotion.stage,
        "targetFreight": {
            "name": freight.id,
            "alias": promotion.freight_alias or freight.alias,
            "origin": {"name": freight.origin.name},
        },
        "meta": {
            "promotion": {"actor": promotion.actor, "rollback": promotion.rollback},
            "step": {"alias": alias},
        },
    }


def _namespace(alias: str) -> str:
    parts = alias.split(ALIAS_SEPARATOR)
    return parts[0] if len(parts) == 2 else ""


def _short(alias: str) -> str:
    parts = alias.split(ALIAS_SEPARATOR)
    return parts[1] if len(parts) == 2 else alias


def task_outputs(alias: str, outputs: Mapping[str, Any]) -> dict[str, Any] | None:
    """``task.outputs`` for the step ``alias``: None unless the step came from a task."""
    namespace = _namespace(alias)
    if not namespace:
        return None
    return {_short(key): value for key, value in outputs.items() if _namespace(key) == namespace}


def scoped_statuses(alias: str, statuses: Mapping[str, str]) -> dict[str, str]:
    """The statuses ``status()`` can see from ``alias``: its own task's (or the template's)."""
    namespace = _namespace(alias)
    return {_short(key): value for key, value in statuses.items() if _namespace(key) == namespace}


def _evaluate_var(var: ExpressionVariable, env: Mapping[str, Any], alias: str) -> Any:
    try:
        return evaluate_template(var.value or "", env)
    except ExpressionError as error:
        raise error.located(f"step {alias!r} vars.{var.name}") from error


def step_environment(
    *,
    step: PlannedStep,
    promotion: PromotionInfo,
    promotion_vars: Sequence[ExpressionVariable],
    outputs: Mapping[str, Any],
    statuses: Mapping[str, str],
    continue_on_error: Collection[str],
    metadata: MetadataSource | None,
    now: Callable[[], datetime],
    resources: ResourceLookups | None = None,
) -> dict[str, Any]:
    """Every variable and function the step's ``if`` and config may use.

    Args:
        step: The step about to run.
        promotion: Who promotes what, where.
        promotion_vars: The Stage's vars followed by the template's.
        outputs: Earlier steps' outputs by alias (and tasks' composed outputs).
        statuses: Earlier steps' statuses by alias.
        continue_on_error: Aliases of earlier steps with ``continueOnError``.
        metadata: Where ``stageMetadata()``/``freightMetadata()`` read.
        now: The clock for ``now()``.
        resources: Where ``configMap()``, ``secret()`` and their shared forms read (one
            per promotion, so each object is read once).

    Raises:
        ExpressionError: A var's value does not evaluate; ``where`` names the step and var.
    """
    common: dict[str, Any] = {
        "collection": promotion.collection,
        "target_origin": promotion.freight.origin.name,
        "metadata": metadata,
        "project": promotion.project,
        "now": now,
        "resources": resources,
    }
    functions = kargo_functions(**common, statuses=statuses, continue_on_error=continue_on_error)
    # status() resolves short aliases within the step's own task, so it gets its own view.
    scoped_functions = kargo_functions(**common, statuses=scoped_statuses(step.alias, statuses))
    functions["status"] = scoped_functions["status"]
    base = {**functions, "ctx": context_map(promotion, step.alias)}

    values: dict[str, Any] = {}
    for var in promotion_vars:
        values[var.name] = _evaluate_var(var, {**base, "vars": dict(values)}, step.alias)

    env = {**base, "outputs": outputs}
    scoped = task_outputs(step.alias, outputs)
    if scoped is not None:
        env["task"] = {"outputs": scoped}
    for var in step.vars:
        values[var.name] = _evaluate_var(var, {**env, "vars": dict(values)}, step.alias)
    env["vars"] = values
    return env
