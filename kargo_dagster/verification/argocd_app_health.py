"""One Argo CD Application's health, by Kargo's rules.

As Kargo's checker (``pkg/health/checker/builtin/argocd.go``, v1.11), per Application the
first rule that applies decides:

1. **Not found** (or the lookup failed): ``Unknown``.
2. **Stale**: an operation finished (``status.operationState.finishedAt``) and
   ``status.reconciledAt`` is missing or earlier, so the health Argo CD reports may predate
   the sync: ``Unknown``, and a hard refresh is requested (:attr:`AppHealth.refresh_requested`)
   so that Argo CD records a fresh ``reconciledAt`` even when nothing else changed.
3. **Error conditions** ``ComparisonError`` or ``InvalidSpecError``: ``Unhealthy``, one issue
   per condition.
4. **Sync**, only when some desired revision is non-empty: an operation in progress
   (``.operation.sync`` set, no ``operationState``, or no ``finishedAt``) is ``Unknown``;
   ``status.sync.revisions`` (or ``[status.sync.revision]``) differing from a non-empty
   desired revision at the same index is ``Unhealthy``. A source count or revision count
   that does not line up with the desired revisions is ``Unknown``. ``status.sync.status``
   itself is not consulted.
5. **Health**: ``Healthy`` is Healthy; ``Progressing``, empty and ``Suspended`` are
   Progressing (a suspended Application is waiting to be resumed); anything else
   (``Degraded``, ``Missing``, ``Unknown``) is Unhealthy.

Applications are read through :class:`ApplicationReader`, a one-method protocol that any
Argo CD connection offering ``get(namespace, name)`` satisfies.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from kargo_dagster.errors import KargoDagsterError
from kargo_dagster.redaction import redact_text
from kargo_dagster.verification.argocd_app_status import (
    MalformedApplication,
    as_text,
    go_quote,
    list_field,
    object_field,
    object_list_field,
    status_summary,
    time_field,
)
from kargo_dagster.verification.argocd_health_criteria import AppHealthCheck
from kargo_dagster.verification.health_results import AppHealth, HealthState

__all__ = ["DEFAULT_ARGOCD_NAMESPACE", "ApplicationReader", "check_application"]

DEFAULT_ARGOCD_NAMESPACE = "argocd"

# Conditions that make Argo CD's own health and sync assessment unreliable.
_ERROR_CONDITIONS = ("ComparisonError", "InvalidSpecError")


class ApplicationReader(Protocol):
    """Where Argo CD Applications are read from.

    Only reading is needed, so any Argo CD connection with this method fits, whatever its
    transport (the Kubernetes API, Argo CD's REST API, a test double).
    """

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Application as a JSON object, or None when there is none by that name.

        Raises:
            KargoDagsterError: The Application could not be read (the check reports it as
                an Unknown health with the error's message).
        """
        ...


def check_application(
    fetch: ApplicationReader,
    check: AppHealthCheck,
    *,
    default_namespace: str = DEFAULT_ARGOCD_NAMESPACE,
) -> AppHealth:
    """Assess one Application by Kargo's rules (see the module documentation).

    Args:
        fetch: Where the Application is read.
        check: The Application and its desired revisions.
        default_namespace: The namespace when ``check`` names none.

    Returns:
        Its state, issues, whether Argo CD should refresh it, and its status summary.
    """
    namespace = check.namespace or default_namespace
    name = check.name
    unknown_summary = {
        "namespace": namespace,
        "name": name,
        "health": {"status": "Unknown"},
        "sync": {"status": "Unknown"},
    }
    try:
        app = fetch.get(namespace, name)
    except KargoDagsterError as error:
        return AppHealth(
            namespace,
            name,
            HealthState.UNKNOWN,
            (
                f"error finding Argo CD Application {go_quote(name)} in namespace "
                f"{go_quote(namespace)}: {redact_text(str(error))}",
            ),
            summary=unknown_summary,
        )
    if app is None:
        return AppHealth(
            namespace,
            name,
            HealthState.UNKNOWN,
            (
                f"unable to find Argo CD Application {go_quote(name)} in namespace "
                f"{go_quote(namespace)}",
            ),
            summary=unknown_summary,
        )
    try:
        summary = status_summary(namespace, name, app)
        state, issues, refresh = _assess(namespace, name, app, check.desired_revisions)
    except MalformedApplication as problem:
        # Kargo could not even decode such an object; its read would fail the same way.
        return AppHealth(
            namespace,
            name,
            HealthState.UNKNOWN,
            (
                f"error finding Argo CD Application {go_quote(name)} in namespace "
                f"{go_quote(namespace)}: {problem}",
            ),
            summary=unknown_summary,
        )
    return AppHealth(namespace, name, state, issues, refresh, summary)


def _assess(
    namespace: str, name: str, app: Mapping[str, Any], desired: Sequence[str]
) -> tuple[HealthState, tuple[str, ...], bool]:
    """The rules after the Application was found: (state, issues, refresh requested)."""
    what = f"Argo CD Application {go_quote(name)} in namespace {go_quote(namespace)}"
    status = object_field(app, "status")
    operation_state = object_field(status, "operationState", "status.")
    finished_at = time_field(operation_state, "finishedAt", "status.operationState.")
    reconciled_at = time_field(status, "reconciledAt", "status.")
    # Argo CD reassesses health in a loop separate from the one running operations, so
    # right after a sync the health can still describe the previous revision. Only a
    # reconcile at or after the operation's end is known to have seen its result.
    if finished_at is not None and (reconciled_at is None or reconciled_at < finished_at):
        return (
            HealthState.UNKNOWN,
            (
                f"{what} was not reconciled after its most recent operation completed; "
                "Application health status not trusted",
            ),
            True,
        )

    conditions = [
        condition
        for condition in object_list_field(status, "conditions", "status.")
        if condition.get("type") in _ERROR_CONDITIONS
    ]
    if conditions:
        return (
            HealthState.UNHEALTHY,
            tuple(
                f"{what} has {go_quote(as_text(c.get('type')))} condition: "
                f"{redact_text(as_text(c.get('message')))}"
                for c in conditions
            ),
            False,
        )

    # The operation moves the sync revision at once while health may lag, so a wrong
    # revision is reported before whatever health Argo CD shows.
    sync_state, sync_issue = _sync_health(what, app, status, operation_state, desired)
    if sync_issue:
        return sync_state, (sync_issue,), False

    health = as_text(object_field(status, "health", "status.").get("status"))
    if health in ("Progressing", ""):
        return HealthState.PROGRESSING, (f"{what} is progressing",), False
    if health == "Suspended":
        return HealthState.PROGRESSING, (f"{what} is suspended",), False
    if health == "Healthy":
        return HealthState.HEALTHY, (), False
    return HealthState.UNHEALTHY, (f"{what} has health state {go_quote(health)}",), False


def _sync_health(
    what: str,
    app: Mapping[str, Any],
    status: Mapping[str, Any],
    operation_state: Mapping[str, Any],
    desired: Sequence[str],
) -> tuple[HealthState, str]:
    """How the sync revisions affect health: (state, issue), the issue empty when fine."""
    if not any(desired):
        # Nothing says what this Application should be at, so any revision will do.
        return HealthState.HEALTHY, ""
    operation = object_field(app, "operation")
    if (
        operation.get("sync") is not None
        or not operation_state
        or time_field(operation_state, "finishedAt", "status.operationState.") is None
    ):
        return HealthState.UNKNOWN, f"{what} is being synced"
    spec = object_field(app, "spec")
    sources = object_list_field(spec, "sources", "spec.")
    if not sources and spec.get("source") is not None:
        sources = [object_field(spec, "source", "spec.")]
    if len(sources) != len(desired):
        return (
            HealthState.UNKNOWN,
            f"{what} has {len(sources)} sources but {len(desired)} desired revisions",
        )
    sync = object_field(status, "sync", "status.")
    observed = [as_text(r) for r in list_field(sync, "revisions", "status.sync.")]
    if not observed:
        observed = [as_text(sync.get("revision"))]
    if len(observed) != len(desired):
        return (
            HealthState.UNKNOWN,
            f"{what} has {len(observed)} observed revisions but {len(desired)} desired revisions",
        )
    mismatches = [
        f"Source {i} with RepoURL {redact_text(as_text(sources[i].get('repoURL')))} of "
        f"{what.removeprefix('Argo CD ')} does not match the desired revision {go_quote(want)}."
        for i, (seen, want) in enumerate(zip(observed, desired, strict=True))
        if want and seen != want
    ]
    if mismatches:
        return (
            HealthState.UNHEALTHY,
            f"Not all sources of {what.removeprefix('Argo CD ')} are synced to the desired "
            f"revisions. Issues: {'; '.join(mismatches)}",
        )
    return HealthState.HEALTHY, ""
