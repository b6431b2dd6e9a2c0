"""Whether ``argocd-update`` must start a sync of an Application, from its last operation.

Kargo's ``mustPerformUpdate``, read from ``status.operationState``: no operation, or a
completed one that another initiator or another promotion started, means sync now; another's
operation still in progress is waited out, never replaced; our own operation still running
is waited for; ours completed without a ``syncResult``, or synced to revisions other than the
desired ones, means sync again; otherwise its phase stands. A sync this step wrote that Argo
CD has not started yet is waited for, not written again.
"""

from collections.abc import Mapping
from typing import Any, NamedTuple, cast

from kargo_dagster.promotion.step import StepContext
from kargo_dagster.promotion.steps.argocd.connection import OPERATION_COMPLETED, go_quote
from kargo_dagster.promotion.steps.argocd.messages import go_list
from kargo_dagster.promotion.steps.argocd.source_updates import desired_revisions
from kargo_dagster.promotion.steps.argocd.sync_operation import PROMOTION_INFO_KEY
from kargo_dagster.promotion.steps.argocd.update_config import AppUpdate

__all__ = ["SyncDecision", "decide_sync"]


class SyncDecision(NamedTuple):
    """Whether to start a sync, and otherwise the phase that stands.

    Attributes:
        phase: The operation phase that stands (empty when a sync is to start).
        must_update: Whether to start a sync.
        reason: Why, for the log or for what the step is waiting on.
    """

    phase: str
    must_update: bool
    reason: str = ""


def _promotion_of(operation: Any) -> str | None:
    """The promotion an operation was started for, None when Kargo did not start it."""
    if not isinstance(operation, Mapping):
        return None
    infos = cast(Mapping[str, Any], operation).get("info") or []
    for info in cast(list[Any], infos):
        if isinstance(info, Mapping):
            entry = cast(Mapping[str, Any], info)
            if entry.get("name") == PROMOTION_INFO_KEY:
                return str(entry.get("value", ""))
    return None


def decide_sync(ctx: StepContext, update: AppUpdate, app: Mapping[str, Any]) -> SyncDecision:
    """Kargo's ``mustPerformUpdate``: what the app's last operation means for this step."""
    op_state = (app.get("status") or {}).get("operationState")
    if not op_state:
        if _promotion_of(app.get("operation")) == ctx.promotion.name:
            # Our sync is written but Argo CD has not started it yet. Kargo is not woken
            # before the operation moves; a poll may be, and must not write it again.
            return SyncDecision("Running", False, "sync requested, waiting for Argo CD to start it")
        return SyncDecision("", True)
    phase = str(op_state.get("phase") or "")
    completed = phase in OPERATION_COMPLETED
    operation = op_state.get("operation") or {}
    promotion = _promotion_of(operation)
    if promotion is None:
        if not completed:
            username = (operation.get("initiatedBy") or {}).get("username", "")
            return SyncDecision(
                phase,
                False,
                f"current operation was initiated by {go_quote(str(username))}: waiting for "
                "operation to complete",
            )
        return SyncDecision("", True, "the last operation, not Kargo's, has completed")
    if promotion != ctx.promotion.name:
        if not completed:
            return SyncDecision(
                phase,
                False,
                f"current operation was not initiated for Promotion {ctx.promotion.name}: "
                "waiting for operation to complete",
            )
        return SyncDecision("", True, "the last operation, another promotion's, has completed")
    if not completed:
        return SyncDecision(phase, False, f"operation {phase or 'pending'}")
    result = op_state.get("syncResult")
    if result is None:
        return SyncDecision("", True, "operation completed without a sync result")
    desired = desired_revisions(update, app)
    if not desired:
        return SyncDecision(phase, False)
    observed = [str(r) for r in result.get("revisions") or [result.get("revision") or ""]]
    for i, revision in enumerate(observed):
        wanted = desired[i] if i < len(desired) else ""
        if wanted and revision != wanted:
            return SyncDecision(
                "",
                True,
                f"sync result revisions {go_list(observed)} do not match desired revisions "
                f"{go_list(desired)}",
            )
    return SyncDecision(phase, False)
