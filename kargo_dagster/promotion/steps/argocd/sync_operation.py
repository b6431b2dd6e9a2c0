"""Starting an Argo CD sync the way Kargo's ``argocd-update`` does.

The Application gets its updated sources, the annotation ``argocd.argoproj.io/refresh:
hard`` and an ``.operation`` with Kargo's initiator and info entries (the promotion's name
under ``kargo.akuity.io/promotion``) and the app's ``syncPolicy`` options and retry, but no
revision, so Argo CD syncs the new target; ``status.operationState`` is cleared
(argo-cd#20875). Only the fields Kargo's Application model has are merged into the live
object (Kargo's ``recursiveMerge``), so fields it does not know are kept. The write is a
JSON merge patch carrying the resourceVersion read, redone on conflict. An
``OperationStarted`` Event records it, as Argo CD's API server would.

The operation's initiator is the promotion's actor, without ``automated``, so Argo CD
applies its sync windows to a promotion someone asked for; a promotion nobody asked for
(auto-promotion sensors, unknown actors) is ``kargo-controller`` with ``automated: true``.
"""

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from time import time_ns
from typing import Any

from kargo_dagster.clients.argocd.applications import (
    APPLICATION_API_VERSION,
    ArgoCDApplications,
    ArgoCDError,
    update_application,
)
from kargo_dagster.promotion.step import StepContext
from kargo_dagster.promotion.steps.argocd.connection import go_quote, step_error
from kargo_dagster.promotion.steps.argocd.messages import describe_application

__all__ = [
    "OPERATION_INITIATOR",
    "PROMOTION_INFO_KEY",
    "REFRESH_ANNOTATION",
    "SYNC_REASON",
    "start_sync",
]

REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
PROMOTION_INFO_KEY = "kargo.akuity.io/promotion"
OPERATION_INITIATOR = "kargo-controller"
SYNC_REASON = "Promotion triggered a sync of this Application resource."

# Actors that stand for no one in particular: their promotions sync as Kargo's controller.
_NOBODY = ("", "unknown")
_AUTOMATIC_ACTOR_PREFIXES = ("sensor:",)


def _source_view(source: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a source Kargo's Application model has, as it would serialise them."""
    view: dict[str, Any] = {"repoURL": source.get("repoURL", "")}
    if source.get("targetRevision"):
        view["targetRevision"] = source["targetRevision"]
    if source.get("helm") is not None:
        parameters = [
            {k: p[k] for k in ("name", "value") if p.get(k)}
            for p in source["helm"].get("parameters") or []
        ]
        view["helm"] = {"parameters": parameters} if parameters else {}
    if source.get("kustomize") is not None:
        images = list(source["kustomize"].get("images") or [])
        view["kustomize"] = {"images": images} if images else {}
    if source.get("chart"):
        view["chart"] = source["chart"]
    return view


def _retry_view(retry: Mapping[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {}
    if retry.get("limit"):
        view["limit"] = retry["limit"]
    backoff = retry.get("backoff")
    if backoff is not None:
        view["backoff"] = {
            k: backoff[k] for k in ("duration", "factor", "maxDuration") if backoff.get(k)
        }
    return view


def _spec_view(spec: Mapping[str, Any], desired: list[dict[str, Any]]) -> dict[str, Any]:
    """The spec Kargo merges into the live Application: its model's fields only."""
    view: dict[str, Any] = {}
    multi = bool(spec.get("sources"))
    if spec.get("source"):
        view["source"] = _source_view(spec["source"] if multi else desired[0])
    if multi:
        view["sources"] = [_source_view(s) for s in desired]
    policy = spec.get("syncPolicy")
    if policy is not None:
        policy_view: dict[str, Any] = {}
        if policy.get("syncOptions"):
            policy_view["syncOptions"] = list(policy["syncOptions"])
        if policy.get("retry") is not None:
            policy_view["retry"] = _retry_view(policy["retry"])
        view["syncPolicy"] = policy_view
    return view


def _merge(source: Any, target: Any) -> Any:
    """Kargo's ``recursiveMerge``: maps merge key by key, lists item by item (the result has
    the source's length), anything else is the source's value."""
    if isinstance(source, Mapping):
        if not isinstance(target, dict):
            return copy.deepcopy(source)
        for key, value in source.items():
            target[key] = _merge(value, target[key]) if key in target else copy.deepcopy(value)
        return target
    if isinstance(source, list):
        if not isinstance(target, list):
            return copy.deepcopy(source)
        return [
            _merge(value, target[i]) if i < len(target) else copy.deepcopy(value)
            for i, value in enumerate(source)
        ]
    return source


def _initiator(actor: str) -> dict[str, Any]:
    if actor in _NOBODY or actor.startswith(_AUTOMATIC_ACTOR_PREFIXES):
        return {"username": OPERATION_INITIATOR, "automated": True}
    # Someone asked for this promotion: a manual sync, so Argo CD's sync windows apply.
    return {"username": actor}


def _operation(ctx: StepContext, spec: Mapping[str, Any]) -> dict[str, Any]:
    policy = spec.get("syncPolicy") or {}
    sync: dict[str, Any] = {}
    if policy.get("syncOptions"):
        sync["syncOptions"] = list(policy["syncOptions"])
    return {
        "initiatedBy": _initiator(ctx.promotion.actor),
        "info": [
            {"name": "Reason", "value": SYNC_REASON},
            {"name": PROMOTION_INFO_KEY, "value": ctx.promotion.name},
        ],
        "sync": sync,
        "retry": _retry_view(policy["retry"]) if policy.get("retry") is not None else {},
    }


def _sync_message(app: Mapping[str, Any], desired: list[dict[str, Any]]) -> str:
    spec = app.get("spec") or {}
    if spec.get("sources"):
        if len(desired) == 1:
            return f"initiated sync to {desired[0].get('targetRevision', '')}"
        return f"initiated sync to {len(desired)} sources"
    if spec.get("source"):
        return f"initiated sync to {desired[0].get('targetRevision', '')}"
    return "initiated sync"


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _record_event(
    ctx: StepContext, apps: ArgoCDApplications, app: Mapping[str, Any], message: str
) -> None:
    """An ``OperationStarted`` Event, as Argo CD's API server records when a sync starts."""
    meta = app.get("metadata") or {}
    name, namespace = str(meta.get("name", "")), str(meta.get("namespace", ""))
    now = _timestamp()
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{name}.{time_ns():x}",
            "namespace": namespace,
            "annotations": {"user": OPERATION_INITIATOR},
        },
        "source": {"component": OPERATION_INITIATOR},
        "involvedObject": {
            "apiVersion": APPLICATION_API_VERSION,
            "kind": "Application",
            "namespace": namespace,
            "name": name,
            "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        },
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "message": f"{OPERATION_INITIATOR} {message}",
        "type": "Normal",
        "reason": "OperationStarted",
    }
    try:
        apps.create_event(namespace, event)
    except ArgoCDError as error:
        # As in Kargo, the sync has started; a missing Event is only worth a log line.
        ctx.log.warning(f"unable to create event for {describe_application(app)}: {error}")


def start_sync(
    ctx: StepContext,
    apps: ArgoCDApplications,
    app: Mapping[str, Any],
    desired: list[dict[str, Any]],
) -> None:
    """Write the new sources, the hard refresh and the operation; record the Event.

    Args:
        ctx: The step's context (the promotion's name and actor go into the operation).
        apps: The Argo CD connection.
        app: The Application as read.
        desired: Its sources with the step's updates applied.

    Raises:
        StepError: The Application could not be written; retryable when asking again may
            help.
    """
    meta = app.get("metadata") or {}
    name, namespace = str(meta.get("name", "")), str(meta.get("namespace", ""))
    annotations = dict(meta.get("annotations") or {})
    annotations[REFRESH_ANNOTATION] = "hard"
    spec_view = _spec_view(app.get("spec") or {}, desired)
    operation = _operation(ctx, app.get("spec") or {})

    def modify(live: dict[str, Any]) -> None:
        # What was read first decides the annotations, sources and operation; the live
        # object keeps every field Kargo's model does not know.
        live.setdefault("metadata", {})["annotations"] = dict(annotations)
        live["spec"] = _merge(spec_view, live.get("spec"))
        live["operation"] = copy.deepcopy(operation)
        if isinstance(live.get("status"), dict):
            # Argo CD's API server clears it when it starts an operation; writing
            # .operation directly bypasses it (argo-cd#20875).
            live["status"]["operationState"] = None

    try:
        written = update_application(apps, namespace, name, modify)
    except ArgoCDError as error:
        raise step_error(
            error,
            f"error syncing {describe_application(app)}: "
            f"error patching Argo CD Application {go_quote(name)}",
        ) from None
    ctx.log.info(f"argocd-update: started a sync of {describe_application(app)}")
    _record_event(ctx, apps, written, _sync_message(app, desired))
