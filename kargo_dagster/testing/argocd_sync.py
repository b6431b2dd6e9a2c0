"""The operation loop of the Argo CD simulator: running a sync operation to its end.

As Argo CD's ``controller/sync.go`` does, an operation requested in ``.operation`` goes
``Running`` (:func:`start_operation`), gets its ``syncResult`` with the synced
revision(s) and resources, stays Running for any extra steps the test asked for
(:func:`run_operation`), then ends ``Succeeded`` with ``finishedAt``, ``.operation``
removed and a ``status.history`` entry, or ``Failed``/``Error`` when a failure is
injected; with the operation's ``retry.limit`` a failed attempt stays ``Running`` with
``finishedAt`` and ``Retrying attempt #n`` and is re-run on the next step, and the last
one says ``(retried n times).`` (:func:`complete_operation`).
"""

import copy
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from kargo_dagster.testing.argocd_app_state import (
    SUCCESS_MESSAGE,
    AppState,
    Behaviour,
    Outcome,
    Plan,
    Transition,
)
from kargo_dagster.testing.argocd_application import app_sources, managed_resources
from kargo_dagster.testing.argocd_revisions import UnresolvableRevision
from kargo_dagster.testing.kube_store import timestamp

__all__ = ["complete_operation", "next_plan", "run_operation", "start_operation"]


def next_plan(state: AppState, behaviour: Behaviour, knobs: threading.Lock) -> Plan:
    """Fix how the operation starting now goes: the next injected failure, or success.

    ``knobs`` guards ``behaviour``, which tests change from other threads.
    """
    with knobs:
        outcome = (
            behaviour.failures.pop(0)
            if behaviour.failures
            else Outcome("Succeeded", SUCCESS_MESSAGE)
        )
        state.plan, state.op_steps = Plan(behaviour.sync_steps, outcome), 0
    return state.plan


def start_operation(
    app: dict[str, Any],
    state: AppState,
    behaviour: Behaviour,
    *,
    clock: Callable[[], datetime],
    knobs: threading.Lock,
) -> Transition:
    """Start the operation requested in ``.operation``: ``operationState`` Running.

    An operation that is not a sync ends at once in Error, as Argo CD refuses it.
    """
    operation = copy.deepcopy(app["operation"])
    next_plan(state, behaviour, knobs)
    app["status"]["operationState"] = {
        "operation": operation,
        "phase": "Running",
        "startedAt": timestamp(clock()),
    }
    if "sync" not in operation:
        return complete_operation(
            app,
            state,
            Outcome("Error", "Invalid operation request: no operation specified"),
            clock=clock,
            retry=False,
        )
    return Transition("operation Running")


def run_operation(
    app: dict[str, Any],
    state: AppState,
    behaviour: Behaviour,
    *,
    clock: Callable[[], datetime],
    knobs: threading.Lock,
    resolve: Callable[[Mapping[str, Any]], str],
) -> Transition | None:
    """Move a Running operation one step; None when the step only counts time.

    Retries a failed attempt whose backoff is over, applies, stays Running for the
    planned extra steps, then completes with the planned outcome.
    """
    op_state = app["status"]["operationState"]
    # An operation already Running when the simulator first saw it gets a plan now.
    plan = state.plan or next_plan(state, behaviour, knobs)
    if op_state.get("finishedAt"):
        # A failed attempt waiting out its retry backoff: run it again.
        for key in ("finishedAt", "syncResult"):
            op_state.pop(key, None)
        op_state["message"] = ""
        next_plan(state, behaviour, knobs)
        return Transition("operation retrying")
    if "syncResult" not in op_state:
        try:
            _apply(app, resolve)
        except UnresolvableRevision as error:
            return complete_operation(
                app, state, Outcome("Error", f"ComparisonError: {error}"), clock=clock
            )
        return Transition("operation applied")
    if state.op_steps < plan.extra_steps:
        state.op_steps += 1
        return None
    return complete_operation(app, state, plan.outcome, clock=clock)


def complete_operation(
    app: dict[str, Any],
    state: AppState,
    outcome: Outcome,
    *,
    clock: Callable[[], datetime],
    retry: bool = True,
) -> Transition:
    """End the operation with ``outcome``, or schedule a retry when its policy allows.

    A success records ``status.history`` (not for dry runs or partial syncs) and what is
    now deployed; either way the next step refreshes and an Event is recorded.
    """
    status = app["status"]
    op_state = status["operationState"]
    operation = op_state["operation"]
    now = timestamp(clock())
    result = op_state.get("syncResult") or {}
    revision = result.get("revision") or ",".join(result.get("revisions") or [])
    if outcome.phase != "Succeeded":
        limit = int((operation.get("retry") or {}).get("limit", 0) or 0)
        count = int(op_state.get("retryCount", 0) or 0)
        for resource in result.get("resources") or []:
            resource["status"] = "SyncFailed"
            resource["message"] = outcome.message
        if retry and limit != 0 and (limit < 0 or count < limit):
            op_state.update(
                phase="Running",
                finishedAt=now,
                retryCount=count + 1,
                message=f"{outcome.message}. Retrying attempt #{count + 1} at {_kitchen(clock())}.",
            )
            return Transition(f"operation {outcome.phase}, retry #{count + 1}")
        message = outcome.message + (f" (retried {count} times)." if count else "")
        op_state.update(phase=outcome.phase, message=message, finishedAt=now)
        app.pop("operation", None)
        state.refresh_after_op = True
        return Transition(
            f"operation {outcome.phase}",
            ("Warning", f"Sync operation to {revision} failed: {message}"),
        )
    op_state.update(phase="Succeeded", message=outcome.message, finishedAt=now)
    app.pop("operation", None)
    sync = operation.get("sync") or {}
    if not sync.get("dryRun") and not sync.get("resources"):
        _record_history(app, op_state, result)
        sources = result.get("sources") or ([result["source"]] if result.get("source") else [])
        revisions = result.get("revisions") or [result["revision"]]
        state.live = (list(revisions), [dict(s) for s in sources])
    state.refresh_after_op = True
    state.progressing_pending = True
    return Transition("operation Succeeded", ("Normal", f"Sync operation to {revision} succeeded"))


def _apply(app: dict[str, Any], resolve: Callable[[Mapping[str, Any]], str]) -> None:
    op_state = app["status"]["operationState"]
    sync = op_state["operation"].get("sync") or {}
    spec_sources, multi = app_sources(app["spec"])
    if multi:
        sources = [dict(s) for s in sync.get("sources") or spec_sources]
        wanted = list(sync.get("revisions") or [])
        revisions = [
            wanted[i] if i < len(wanted) and wanted[i] else resolve(source)
            for i, source in enumerate(sources)
        ]
        result: dict[str, Any] = {"revision": "", "revisions": revisions, "sources": sources}
    else:
        source = dict(sync.get("source") or (spec_sources[0] if spec_sources else {}))
        revision = sync.get("revision") or resolve(source)
        result = {"revision": revision, "source": source}
    result["resources"] = [
        {
            **resource,
            "status": "Synced",
            "message": f"{resource['kind'].lower()}.{resource['group']}/{resource['name']} "
            "configured",
            "hookPhase": "Running",
            "syncPhase": "Sync",
        }
        for resource in managed_resources(app)
    ]
    op_state["syncResult"] = result
    first = result["resources"][0]
    op_state["message"] = (
        f"waiting for healthy state of {first['group']}/{first['kind']}/{first['name']}"
    )


def _record_history(
    app: dict[str, Any], op_state: Mapping[str, Any], result: Mapping[str, Any]
) -> None:
    history = list(app["status"].get("history") or [])
    entry: dict[str, Any] = {
        "id": max((int(h.get("id", 0)) for h in history), default=-1) + 1,
        "deployStartedAt": op_state["startedAt"],
        "deployedAt": op_state["finishedAt"],
        "initiatedBy": copy.deepcopy(op_state["operation"].get("initiatedBy") or {}),
    }
    if result.get("revisions"):
        entry["revisions"] = list(result["revisions"])
        entry["sources"] = copy.deepcopy(result.get("sources") or [])
    else:
        entry["revision"] = result.get("revision", "")
        entry["source"] = copy.deepcopy(result.get("source") or {})
    history.append(entry)
    limit = app["spec"].get("revisionHistoryLimit")
    keep = 10 if limit is None else int(limit)
    app["status"]["history"] = history[-keep:] if keep > 0 else []


def _kitchen(when: datetime) -> str:
    # Go's time.Kitchen layout, "3:04PM", which Argo CD uses in retry messages.
    return f"{when.hour % 12 or 12}:{when:%M%p}"
