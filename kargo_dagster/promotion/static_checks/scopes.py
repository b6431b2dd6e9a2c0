"""What an expression may refer to where it stands: in a Stage, a verification or a task."""

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.promotion.expansion import PlannedStep
from kargo_dagster.promotion.static_checks.function_arity import (
    Arity,
    step_functions,
    verification_functions,
)
from kargo_dagster.promotion.step import PromotionInfo
from kargo_dagster.promotion.variables import context_map
from kargo_dagster.spec.stage import Stage

__all__ = ["Scope", "promotion_var_scope", "step_scope", "task_scope", "verification_scope"]


@dataclass(frozen=True)
class Scope:
    """What an expression may refer to where it is evaluated.

    Attributes:
        functions: The functions it may call, with their argument counts.
        roots: The variables it may use (``ctx``, ``vars``, ``outputs``, ``task``).
        absent: Why a known variable is missing here, by name.
        ctx: The shape of ``ctx``: field names, each mapping to its own fields (None: a leaf).
        ctx_note: Says when ``ctx`` has only these fields, for messages.
        vars: The vars defined before it; None when only the Stage using a task knows.
        later_vars: Vars defined after it, which it cannot see yet.
        vars_from: Where vars it may see are defined, for messages.
        outputs: Aliases whose outputs exist by then; None when only the Stage knows.
        later_outputs: Aliases of the steps after it.
        task_outputs: Short aliases of the earlier steps of its task; None outside a task.
    """

    functions: Mapping[str, Arity]
    roots: frozenset[str]
    absent: Mapping[str, str]
    ctx: Mapping[str, Any]
    ctx_note: str = ""
    vars: frozenset[str] | None = None
    later_vars: frozenset[str] = frozenset()
    vars_from: str = ""
    outputs: frozenset[str] | None = None
    later_outputs: frozenset[str] = frozenset()
    task_outputs: frozenset[str] | None = None


# What the verification layer puts in ctx for Stage vars and verification args.
_VERIFICATION_CTX: Mapping[str, Any] = {"project": None, "stage": None}


def _shape(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(key): _shape(item) for key, item in value.items()}
    return None


@functools.cache
def _promotion_ctx() -> Mapping[str, Any]:
    # Read off the engine's own ctx, so the fields checked here are the ones it provides.
    freight = Freight(origin=FreightOrigin(name="origin"), images=(Image(repo_url="r", tag="t"),))
    info = PromotionInfo(project="p", stage="s", name="n", freight=freight, collection={})
    return _shape(context_map(info, "alias"))


_BEFORE_STEPS = (
    "Stage and template vars are evaluated before any step runs, so they cannot read {}; "
    "read it in a step's vars or config instead"
)
_TASK_ONLY = "task.outputs exists only in a PromotionTask's steps; use outputs.<alias> here"


def promotion_var_scope(
    stage: Stage, defined: Sequence[str], later: Iterable[str], *, stage_var: bool
) -> Scope:
    # Verification evaluates the Stage's vars too, with fewer functions and a smaller ctx.
    verified = stage_var and _has_verification(stage)
    return Scope(
        functions=verification_functions() if verified else step_functions(),
        roots=frozenset({"ctx", "vars"}),
        absent={"outputs": _BEFORE_STEPS.format("outputs"), "task": _BEFORE_STEPS.format("task")},
        ctx=_VERIFICATION_CTX if verified else _promotion_ctx(),
        ctx_note=" when verification evaluates the Stage's vars" if verified else "",
        vars=frozenset(defined),
        later_vars=frozenset(later) - set(defined),
        vars_from="the vars before this one",
    )


def verification_scope(stage: Stage) -> Scope:
    why = "verification args see only ctx, the Stage's vars and Kargo's functions"
    return Scope(
        functions=verification_functions(),
        roots=frozenset({"ctx", "vars"} if stage.spec.vars else {"ctx"}),
        absent={"outputs": why, "task": why, "vars": "the Stage has no vars (spec.vars)"},
        ctx=_VERIFICATION_CTX,
        vars=frozenset(v.name for v in stage.spec.vars),
        vars_from="the Stage's vars (spec.vars)",
    )


def _has_verification(stage: Stage) -> bool:
    verification = stage.spec.verification
    return verification is not None and bool(verification.analysis_templates)


def task_scope(earlier: Iterable[str]) -> Scope:
    # Which vars and outputs exist depends on the Stage using the task: checked there.
    return Scope(
        functions=step_functions(),
        roots=frozenset({"ctx", "vars", "outputs", "task"}),
        absent={},
        ctx=_promotion_ctx(),
        task_outputs=frozenset(earlier),
    )


_IN_TEMPLATE = "the Stage's vars, the template's vars or the step's vars"
_IN_TASK = (
    "the Stage's vars, the template's vars, the task: step's vars, the task's vars or the "
    "step's vars"
)


def step_scope(
    planned: Sequence[PlannedStep], index: int, defined: Sequence[str], later: Iterable[str]
) -> Scope:
    step = planned[index]
    before, after = planned[:index], planned[index + 1 :]
    outputs = {p.alias for p in before} | {p.task_alias for p in before if p.task_alias}
    task_outputs = None
    if step.task_alias is not None:
        task_outputs = frozenset(p.short_alias for p in before if p.task_alias == step.task_alias)
    roots = {"ctx", "vars", "outputs"}
    if task_outputs is not None:
        roots.add("task")
    return Scope(
        functions=step_functions(),
        roots=frozenset(roots),
        absent={"task": _TASK_ONLY},
        ctx=_promotion_ctx(),
        vars=frozenset(defined),
        later_vars=frozenset(later) - set(defined),
        vars_from=_IN_TASK if task_outputs is not None else _IN_TEMPLATE,
        outputs=frozenset(outputs),
        later_outputs=frozenset(p.alias for p in after),
        task_outputs=task_outputs,
    )
