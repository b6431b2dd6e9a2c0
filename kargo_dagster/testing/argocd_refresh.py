"""The refresh loop of the Argo CD simulator: comparing an Application with its sources.

As Argo CD's ``controller/state.go`` does, a refresh resolves each source's
``targetRevision``, compares the result with what is deployed and writes
``status.sync`` (``Synced``, ``OutOfSync``, or ``Unknown`` with a ``ComparisonError``
condition when a revision does not resolve), ``status.resources``,
``status.reconciledAt`` and health, and removes the ``argocd.argoproj.io/refresh``
annotation. An app with ``spec.syncPolicy.automated`` that is OutOfSync at a revision not
yet attempted gets an automated operation.
"""

import copy
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from kargo_dagster.testing.argocd_app_state import (
    COMPLETED,
    AppState,
    Behaviour,
    Transition,
    health,
)
from kargo_dagster.testing.argocd_application import (
    REFRESH_ANNOTATION,
    app_sources,
    compared_to,
    managed_resources,
)
from kargo_dagster.testing.argocd_revisions import UnresolvableRevision
from kargo_dagster.testing.kube_store import timestamp

__all__ = ["needs_refresh", "refresh"]


def needs_refresh(app: Mapping[str, Any], state: AppState) -> bool:
    """Whether the app is due a refresh (annotation, operation ended, spec changed, new)."""
    annotations = app["metadata"].get("annotations") or {}
    status = app.get("status") or {}
    if REFRESH_ANNOTATION in annotations or state.refresh_after_op:
        return True
    if not status.get("reconciledAt"):
        return True
    return (status.get("sync") or {}).get("comparedTo") != compared_to(app["spec"])


def refresh(
    app: dict[str, Any],
    state: AppState,
    behaviour: Behaviour,
    *,
    resolve: Callable[[Mapping[str, Any]], str],
    clock: Callable[[], datetime],
) -> Transition:
    """Compare the app with its resolved sources and write the result into its status.

    Sets ``status.sync``, ``status.resources``, ``status.reconciledAt`` and health,
    removes the refresh annotation, and starts an automated sync when the policy asks.
    """
    spec, status = app["spec"], app["status"]
    sources, multi = app_sources(spec)
    now = timestamp(clock())
    compared = compared_to(spec)
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != "ComparisonError"]
    try:
        revisions = [resolve(source) for source in sources]
    except UnresolvableRevision as error:
        revisions = []
        sync: dict[str, Any] = {"status": "Unknown", "comparedTo": compared}
        conditions.append(
            {
                "type": "ComparisonError",
                "message": f"Failed to load target state: failed to generate manifest for "
                f"source 1 of {len(sources)}: {error}",
                "lastTransitionTime": now,
            }
        )
        summary = "ComparisonError"
    else:
        synced = state.live == (revisions, sources)
        sync = {"status": "Synced" if synced else "OutOfSync", "comparedTo": compared}
        if multi:
            sync["revisions"] = revisions
        elif revisions:
            sync["revision"] = revisions[0]
        summary = f"{sync['status']} {' '.join(r[:7] for r in revisions)}"
    status["sync"] = sync
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)
    status["reconciledAt"] = now
    if state.progressing_pending:
        state.progressing_pending = False
        status["health"] = health("Progressing", "", clock)
        state.health_wait = max(behaviour.progressing_steps, 1)
    elif "health" not in status:
        status["health"] = health("Missing" if state.live is None else behaviour.health, "", clock)
    status["resources"] = [
        {
            **resource,
            "status": "Synced" if sync["status"] == "Synced" else "OutOfSync",
            "health": {"status": status["health"]["status"]},
        }
        for resource in managed_resources(app)
    ]
    annotations = app["metadata"].get("annotations") or {}
    annotations.pop(REFRESH_ANNOTATION, None)
    app["metadata"]["annotations"] = annotations
    state.refresh_after_op = False
    if sync["status"] == "OutOfSync":
        _auto_sync(app, revisions, multi)
    return Transition(f"refresh {summary}")


def _auto_sync(app: dict[str, Any], revisions: list[str], multi: bool) -> None:
    policy = app["spec"].get("syncPolicy") or {}
    automated = policy.get("automated")
    if automated is None or automated.get("enabled") is False or app.get("operation"):
        return
    op_state = app["status"].get("operationState") or {}
    if op_state and op_state.get("phase") not in COMPLETED:
        return
    result = op_state.get("syncResult") or {}
    attempted = result.get("revisions") if multi else [result.get("revision")]
    if result and attempted == revisions:
        return  # Argo CD does not auto-sync a revision it already tried
    sync: dict[str, Any] = {"prune": bool(automated.get("prune", False))}
    if multi:
        sync["revisions"] = revisions
    else:
        sync["revision"] = revisions[0]
    if policy.get("syncOptions"):
        sync["syncOptions"] = list(policy["syncOptions"])
    operation: dict[str, Any] = {"sync": sync, "initiatedBy": {"automated": True}}
    if policy.get("retry"):
        operation["retry"] = copy.deepcopy(policy["retry"])
    app["operation"] = operation
