"""``argocd-wait``: wait until Argo CD Applications are healthy, synced, or idle.

As Kargo's step (``pkg/promotion/runner/builtin/argocd_waiter.go``, v1.11), through the
connection in :attr:`~kargo_dagster.promotion.step.StepContext.argocd`. Each ``apps[]``
entry names Applications by ``name`` or label ``selector`` (in ``namespace``, default the
connection's) and what to wait for, ``waitFor`` (default ``[health, sync, operation]``, as
``argocd app wait``). Unlike ``argocd-update`` it needs no authorization annotation, since
it changes nothing but a refresh request. For each Application, in this order:

* a ``ComparisonError`` or ``InvalidSpecError`` condition fails the step with its message;
* ``operation``: an operation requested (``.operation``) or not finished (no
  ``finishedAt``) is waited for;
* ``health``, ``suspended``, ``degraded`` (any one suffices): health assessed before the
  last operation finished (``reconciledAt`` earlier than ``finishedAt``) is not trusted; a
  hard refresh is requested and the step waits. With ``health``, an app that turns
  Degraded after being seen in another known state fails the step (the health seen last is
  kept in the promotion's shared state, under the step's alias); otherwise the health must
  be Healthy, Suspended or Degraded respectively;
* ``sync``: the sync status must be ``Synced``.

While any Application is not ready the step waits
(:class:`~kargo_dagster.errors.StepPendingError`, looking again after the connection's poll
interval) until its timeout, five minutes by default. Outputs: ``apps``
(``[{name, namespace}]`` of every Application resolved) and ``healthStatus``
(``namespace/name`` → the health last seen).
"""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from kargo_dagster.clients.api_timestamps import api_timestamp
from kargo_dagster.clients.argocd.applications import ArgoCDApplications, ArgoCDError
from kargo_dagster.errors import RetryableStepError, StepPendingError, TerminalStepError
from kargo_dagster.promotion.step import (
    StepCapability,
    StepConfig,
    StepContext,
    StepKind,
    StepOutput,
)
from kargo_dagster.promotion.steps.argocd.connection import (
    AppSelector,
    app_key,
    app_ref,
    argocd_connection,
    check_name_or_selector,
    find_application,
    go_quote,
    list_applications,
)

__all__ = ["DEFAULT_WAIT_FOR", "SHARED_KEY", "STEP", "ArgoCDWait", "Config"]

WaitFor = Literal["health", "sync", "operation", "suspended", "degraded"]

DEFAULT_WAIT_FOR: tuple[WaitFor, ...] = ("health", "sync", "operation")
# The shared state's key under which the step keeps the health it saw, by step alias.
SHARED_KEY = "argocd-wait"
HEALTH_STATUS_KEY = "healthStatus"
_ERROR_CONDITIONS = ("ComparisonError", "InvalidSpecError")
_REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"


class AppWait(StepConfig):
    """The Applications to wait for (by name or selector) and what for."""

    name: str | None = Field(default=None, min_length=1)
    namespace: str | None = Field(default=None, min_length=1)
    selector: AppSelector | None = None
    wait_for: list[WaitFor] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_way_each(self) -> "AppWait":
        check_name_or_selector(self.name, self.selector)
        if self.wait_for is not None and len(set(self.wait_for)) < len(self.wait_for):
            raise ValueError("waitFor lists a condition more than once")
        return self


class Config(StepConfig):
    """``argocd-wait``'s configuration."""

    apps: list[AppWait] = Field(min_length=1)


def _describe(app: Mapping[str, Any]) -> str:
    ref = app_ref(dict(app))
    return f"Argo CD Application {go_quote(ref['name'])} in namespace {go_quote(ref['namespace'])}"


def _operation_in_progress(app: Mapping[str, Any]) -> bool:
    if app.get("operation") is not None:
        return True
    op_state = (app.get("status") or {}).get("operationState")
    if op_state is None:
        return False
    return not op_state.get("finishedAt")


def _health_untrusted(app: Mapping[str, Any]) -> bool:
    """Whether health was last assessed before the last operation finished."""
    status = app.get("status") or {}
    finished = api_timestamp((status.get("operationState") or {}).get("finishedAt"))
    if finished is None:
        return False
    reconciled = api_timestamp(status.get("reconciledAt"))
    return reconciled is None or reconciled < finished


def _request_refresh(ctx: StepContext, apps: ArgoCDApplications, app: Mapping[str, Any]) -> None:
    ref = app_ref(dict(app))
    patch = {"metadata": {"annotations": {_REFRESH_ANNOTATION: "hard"}}}
    try:
        apps.patch(ref["namespace"], ref["name"], patch)
    except ArgoCDError as error:
        # As in Kargo: the step looks again anyway; a failed request is only logged.
        ctx.log.warning(f"failed to request hard refresh for {_describe(app)}: {error}")


def _readiness(
    ctx: StepContext,
    apps: ArgoCDApplications,
    app: Mapping[str, Any],
    wait_for: tuple[WaitFor, ...],
    previous_health: str,
) -> str:
    """What the app is still waiting for; empty when it is ready.

    Raises:
        TerminalStepError: The app has an error condition, or turned Degraded.
    """
    status = app.get("status") or {}
    health = str((status.get("health") or {}).get("status") or "")
    errors = [
        f"{_describe(app)} has {go_quote(str(c.get('type')))} condition: {c.get('message', '')}"
        for c in status.get("conditions") or []
        if isinstance(c, Mapping) and c.get("type") in _ERROR_CONDITIONS
    ]
    if errors:
        raise TerminalStepError("\n".join(errors))
    if "operation" in wait_for and _operation_in_progress(app):
        return "operation is in progress"
    health_checked = any(w in wait_for for w in ("health", "suspended", "degraded"))
    if health_checked and _health_untrusted(app):
        _request_refresh(ctx, apps, app)
        return "not yet reconciled after its last operation, health status not trusted"
    if health_checked:
        passed = (
            ("health" in wait_for and health == "Healthy")
            or ("suspended" in wait_for and health == "Suspended")
            or ("degraded" in wait_for and health == "Degraded")
        )
        if (
            "health" in wait_for
            and health == "Degraded"
            and previous_health not in ("", "Degraded", "Unknown")
        ):
            raise TerminalStepError(
                f"{_describe(app)} health has regressed from {previous_health} to {health}"
            )
        if not passed:
            return f"health is {health or 'unknown'}"
    sync = str((status.get("sync") or {}).get("status") or "")
    if "sync" in wait_for and sync != "Synced":
        return f"sync status is {sync or 'unknown'}"
    return ""


class ArgoCDWait(StepKind[Config]):
    """Wait for Argo CD Applications to reach the states asked for."""

    name = "argocd-wait"
    config_model = Config
    default_timeout: ClassVar[timedelta | None] = timedelta(minutes=5)
    required_capabilities: ClassVar[frozenset[StepCapability]] = frozenset(
        {StepCapability.ACCESS_ARGOCD}
    )

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Look at every Application once; succeed when all are ready, else keep waiting."""
        apps = argocd_connection(ctx, self.name)
        memory = ctx.shared.setdefault(SHARED_KEY, {}).setdefault(ctx.alias, {})
        previous: dict[str, str] = dict(memory.get(HEALTH_STATUS_KEY) or {})
        # Apps not looked at this time (a failure stopped the step) keep the health seen last.
        seen = dict(previous)
        refs: list[dict[str, str]] = []
        waiting: list[str] = []
        try:
            for entry in config.apps:
                wait_for = tuple(entry.wait_for or DEFAULT_WAIT_FOR)
                namespace = entry.namespace or apps.default_namespace
                if entry.selector is not None:
                    matched = list_applications(apps, namespace, entry.selector)
                    if not matched:
                        raise RetryableStepError(
                            "no Argo CD Applications found matching selector in namespace "
                            f"{go_quote(namespace)}"
                        )
                else:
                    matched = [find_application(apps, namespace, entry.name or "")]
                for app in matched:
                    refs.append(app_ref(app))
                    key = app_key(app)
                    health = str(((app.get("status") or {}).get("health") or {}).get("status", ""))
                    if health:
                        seen[key] = health
                    reason = _readiness(ctx, apps, app, wait_for, previous.get(key, ""))
                    if reason:
                        waiting.append(f"{_describe(app)}: {reason}")
        finally:
            memory[HEALTH_STATUS_KEY] = seen
        if waiting:
            raise StepPendingError(
                "waiting for Argo CD: " + "; ".join(waiting), retry_after=apps.poll_interval
            )
        return {"apps": refs, HEALTH_STATUS_KEY: dict(seen)}


STEP = ArgoCDWait()
