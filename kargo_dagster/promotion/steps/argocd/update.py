"""``argocd-update``: point Argo CD Applications at what was promoted, sync them, and wait.

As Kargo's step (``pkg/promotion/runner/builtin/argocd_updater.go``, v1.11), through the
connection in :attr:`~kargo_dagster.promotion.step.StepContext.argocd`:

1. **Find** each ``apps[]`` entry's Applications, by ``name`` or by label ``selector``, in
   ``namespace`` (default: the connection's, ``argocd``). A missing Application, or a
   selector matching none, is a retryable error (an ApplicationSet may yet create it).
2. **Authorize** (:mod:`~kargo_dagster.promotion.steps.argocd.authorization`). An Application
   must carry ``kargo.akuity.io/authorized-stage`` naming this Stage: a comma-separated list
   of ``<project>:<stage>``, parts trimmed, none empty, no ``*`` globs. Others are skipped;
   if none remain the step fails, saying which annotation value would allow it.
3. **Check** that, with a selector, every source update fits every matched Application
   before any is touched.
4. **Decide** (:mod:`~kargo_dagster.promotion.steps.argocd.sync_decision`) from
   ``status.operationState``: no operation, or a completed one that another initiator or
   another promotion started, means sync now; another's operation still in progress is
   waited out, never replaced; our own operation still running is waited for; ours
   completed without a ``syncResult``, or synced to revisions other than the desired ones
   (``desiredRevision``), means sync again; otherwise its phase stands. A sync this step
   wrote that Argo CD has not started yet is waited for, not written again (Kargo is woken
   only once the operation moves; this step polls).
5. **Sync**: the sources get their updates
   (:mod:`~kargo_dagster.promotion.steps.argocd.source_updates`; matched by ``repoURL`` and
   ``chart``, git URLs normalised): ``targetRevision`` when ``updateTargetRevision``,
   kustomize images (``repo[=newName]:tag`` or ``@digest``, the whole list), Helm parameters
   (upserted). Then :mod:`~kargo_dagster.promotion.steps.argocd.sync_operation` writes the
   annotation ``argocd.argoproj.io/refresh: hard``; ``.operation`` with Kargo's initiator
   and info entries (the promotion's name under ``kargo.akuity.io/promotion``) and the
   app's ``syncPolicy`` options and retry, but no revision, so Argo CD syncs the new
   target; ``status.operationState`` cleared (argo-cd#20875). The write is a JSON merge
   patch carrying the resourceVersion read, redone on conflict. An ``OperationStarted``
   Event records it, as Argo CD's API server would.
6. **Report**: any operation Failed or Error fails the step with Argo CD's message; any
   still Running (ours, or another's being waited out) keeps the step waiting
   (:class:`~kargo_dagster.errors.StepPendingError`, looking again after the connection's
   poll interval) until its timeout, five minutes by default; all Succeeded succeeds.

The operation's initiator is the promotion's actor, without ``automated``, so Argo CD
applies its sync windows to a promotion someone asked for; a promotion nobody asked for
(auto-promotion sensors, unknown actors) is ``kargo-controller`` with ``automated: true``.

Outputs: ``apps``, ``[{name, namespace}]`` of the Applications updated (as Kargo's later
releases report). The health criterion Kargo records on the Promotion is reported as the
step's ``healthCheck`` detail (:data:`HEALTH_CHECK_DETAIL`):
``{"kind": "argocd-update", "apps": [{name, namespace, desiredRevisions}]}``, for the
Stage's ``health`` check.
"""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, ClassVar

from kargo_dagster.clients.argocd.applications import ArgoCDApplications
from kargo_dagster.errors import RetryableStepError, StepPendingError, TerminalStepError
from kargo_dagster.promotion.results import HEALTH_CHECK_DETAIL
from kargo_dagster.promotion.step import StepCapability, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.argocd.authorization import (
    AUTHORIZED_STAGE_ANNOTATION,
    authorized_applications,
    authorized_stages,
)
from kargo_dagster.promotion.steps.argocd.connection import (
    OPERATION_COMPLETED,
    app_ref,
    argocd_connection,
)
from kargo_dagster.promotion.steps.argocd.messages import describe_application, go_list
from kargo_dagster.promotion.steps.argocd.source_updates import (
    build_desired_sources,
    check_applicable,
    desired_revisions,
)
from kargo_dagster.promotion.steps.argocd.sync_decision import decide_sync
from kargo_dagster.promotion.steps.argocd.sync_operation import (
    PROMOTION_INFO_KEY,
    REFRESH_ANNOTATION,
    start_sync,
)
from kargo_dagster.promotion.steps.argocd.update_config import AppUpdate, Config

__all__ = [
    "AUTHORIZED_STAGE_ANNOTATION",
    "PROMOTION_INFO_KEY",
    "REFRESH_ANNOTATION",
    "STEP",
    "ArgoCDUpdate",
    "Config",
    "authorized_stages",
]

# The key of the step detail holding the health criterion (Kargo's HealthCheckStep).

# Which phase speaks for several Applications: the first in this order (Kargo's
# ByOperationPhase); unknown phases come after these, alphabetically.
_PHASE_ORDER = {"Failed": 0, "Error": 1, "Running": 2, "Terminating": 3, "Succeeded": 4}


def _process(
    ctx: StepContext, apps: ArgoCDApplications, update: AppUpdate, app: dict[str, Any]
) -> tuple[str, str]:
    """Sync the app if it needs it; its phase, and what the step waits for if anything."""
    decision = decide_sync(ctx, update, app)
    if not decision.must_update:
        if decision.phase in ("Failed", "Error"):
            op_state = (app.get("status") or {}).get("operationState") or {}
            raise TerminalStepError(
                f"{describe_application(app)} failed with: {op_state.get('message', '')}"
            )
        return (
            decision.phase,
            f"{describe_application(app)}: {decision.reason or 'operation running'}",
        )
    if decision.reason:
        ctx.log.info(f"argocd-update: updating {describe_application(app)}: {decision.reason}")
    try:
        desired = build_desired_sources(update, app)
    except ValueError as error:
        raise TerminalStepError(
            f"error building desired sources for {describe_application(app)}: {error}"
        ) from None
    start_sync(ctx, apps, app, desired)
    return "Running", f"{describe_application(app)}: sync started"


def _aggregate(phases: Sequence[str]) -> str:
    """The step's status for the apps' phases (Kargo's operationPhaseToPromotionStepStatus)."""
    if not phases:
        return ""
    first = min(phases, key=lambda p: (_PHASE_ORDER.get(p, len(_PHASE_ORDER)), p))
    if first in ("Running", "Terminating"):
        return "Running"
    if first in ("Failed", "Error"):
        return "Errored"
    return "Succeeded" if first == "Succeeded" else ""


class ArgoCDUpdate(StepKind[Config]):
    """Update and sync Argo CD Applications, then wait for the sync to finish."""

    name = "argocd-update"
    config_model = Config
    default_timeout: ClassVar[timedelta | None] = timedelta(minutes=5)
    required_capabilities: ClassVar[frozenset[StepCapability]] = frozenset(
        {StepCapability.ACCESS_ARGOCD}
    )

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Look at every Application once: sync it, wait for it, or see it done."""
        apps = argocd_connection(ctx, self.name)
        phases: list[str] = []
        waiting: list[str] = []
        health_apps: list[dict[str, Any]] = []
        refs: list[dict[str, str]] = []
        for update in config.apps:
            matched = authorized_applications(ctx, apps, update)
            if update.sources:
                check_applicable(update, matched)
            for app in matched:
                ref = app_ref(app)
                health_apps.append({**ref, "desiredRevisions": desired_revisions(update, app)})
                refs.append(ref)
                phase, note = _process(ctx, apps, update, app)
                if phase:
                    phases.append(phase)
                    if phase not in OPERATION_COMPLETED:
                        waiting.append(note)
        status = _aggregate(phases)
        if status == "Running":
            raise StepPendingError(
                "waiting for Argo CD: " + "; ".join(waiting), retry_after=apps.poll_interval
            )
        if status != "Succeeded":
            raise RetryableStepError(
                "could not determine promotion step status from operation phases: "
                + go_list(phases)
            )
        ctx.report(HEALTH_CHECK_DETAIL, {"kind": self.name, "apps": health_apps})
        return {"apps": refs}


STEP = ArgoCDUpdate()
