"""Stage health from Argo CD Applications, by Kargo's rules.

After a successful promotion, ``argocd-update`` registers a health criterion: the
Applications it synced and, per source, the revision each should now be at
(``{"kind": "argocd-update", "apps": [{name, namespace, desiredRevisions}]}``, read by
:mod:`kargo_dagster.verification.argocd_health_criteria`). Kargo
(``pkg/health/checker/builtin/argocd.go``, v1.11) re-checks it on every Stage reconcile;
:func:`check_stage` is one such check and :func:`settle` repeats it until the answer stops
moving. Per Application, the first rule that applies decides
(:mod:`kargo_dagster.verification.argocd_app_health` lists them): not found, or health
that predates the last sync, is ``Unknown``; an error condition is ``Unhealthy``; sources
not at their desired revisions are ``Unhealthy`` (``Unknown`` while a sync runs); otherwise
Argo CD's health decides (``Progressing`` and ``Suspended`` are Progressing).

The Stage's health is the worst of its Applications' (:class:`HealthState` order), Healthy
when nothing was registered. Each result carries Kargo's issue messages and a status summary
fit for check metadata (:meth:`StageHealth.to_json`): stable across refreshes (no
``reconciledAt``, no condition transition times) and with credentials in URLs masked.

Applications are read through :class:`ApplicationReader`, a one-method protocol that any
Argo CD connection offering ``get(namespace, name)`` satisfies. Refreshes are the caller's to
make (:func:`hard_refresh_patch`), since this module never writes.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kargo_dagster.errors import KargoDagsterError
from kargo_dagster.verification.argocd_app_health import (
    DEFAULT_ARGOCD_NAMESPACE,
    ApplicationReader,
    check_application,
)
from kargo_dagster.verification.argocd_health_criteria import (
    ARGOCD_HEALTH_CHECK_KIND,
    AppHealthCheck,
    HealthCriterion,
    criteria_list,
    parse_criterion,
)
from kargo_dagster.verification.health_results import AppHealth, HealthState, StageHealth

__all__ = [
    "ARGOCD_HEALTH_CHECK_KIND",
    "DEFAULT_ARGOCD_NAMESPACE",
    "REFRESH_ANNOTATION",
    "AppHealth",
    "AppHealthCheck",
    "ApplicationReader",
    "HealthCriterion",
    "HealthState",
    "StageHealth",
    "check_application",
    "check_stage",
    "hard_refresh_patch",
    "settle",
]

REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"


def hard_refresh_patch() -> dict[str, Any]:
    """The JSON merge patch that asks Argo CD for a hard refresh of an Application.

    Argo CD removes the annotation once it has refreshed, writing ``reconciledAt`` even when
    the health and sync status did not change.
    """
    return {"metadata": {"annotations": {REFRESH_ANNOTATION: "hard"}}}


def check_stage(
    fetch: ApplicationReader | None,
    criteria: HealthCriterion | Mapping[str, Any] | Sequence[HealthCriterion | Mapping[str, Any]],
    *,
    default_namespace: str = DEFAULT_ARGOCD_NAMESPACE,
) -> StageHealth:
    """Assess a Stage's health from the health criteria its last promotion registered.

    Args:
        fetch: Where Applications are read; None when no Argo CD connection is configured,
            which makes any Argo CD criterion Unknown.
        criteria: One criterion or several (a promotion with several ``argocd-update`` steps
            registers one each), as :class:`HealthCriterion` or as the JSON the step
            recorded (``{"kind", "apps"}``, or Kargo's ``{"uses", "config"}``).
        default_namespace: The namespace of Applications whose criterion names none.

    Returns:
        The worst state among all Applications, every issue, and each Application's result.
        A criterion that cannot be read, or of a kind other than ``argocd-update``, is
        Unknown with an issue saying why.
    """
    status = HealthState.HEALTHY
    issues: list[str] = []
    apps: list[AppHealth] = []
    for raw in criteria_list(criteria):
        criterion, problem = parse_criterion(raw)
        if criterion is None:
            status = status.merge(HealthState.UNKNOWN)
            issues.append(problem)
            continue
        if fetch is None:
            status = status.merge(HealthState.UNKNOWN)
            issues.append(
                "no Argo CD connection is configured; cannot assess the health or sync "
                "status of Argo CD Applications"
            )
            continue
        for check in criterion.apps:
            result = check_application(fetch, check, default_namespace=default_namespace)
            status = status.merge(result.status)
            issues.extend(result.issues)
            apps.append(result)
    return StageHealth(status=status, issues=tuple(issues), apps=tuple(apps))


def settle(
    fetch: ApplicationReader | None,
    criteria: HealthCriterion | Mapping[str, Any] | Sequence[HealthCriterion | Mapping[str, Any]],
    *,
    timeout: float,
    interval: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    refresh: Callable[[str, str], None] | None = None,
    default_namespace: str = DEFAULT_ARGOCD_NAMESPACE,
) -> StageHealth:
    """Check the Stage's health until it is settled or ``timeout`` seconds have passed.

    Kargo re-checks on every Stage reconcile and starts verification only once the Stage is
    Healthy; this is the same wait, polling every ``interval`` seconds. Between checks, each
    Application whose health predates its last operation gets a refresh request through
    ``refresh``, as Kargo patches one on every check that finds it stale. A refresh request
    that fails (:class:`~kargo_dagster.errors.KargoDagsterError`) is not fatal, as Kargo only
    logs it: the Application stays Unknown and the next check asks again.

    Args:
        fetch: Where Applications are read; None when no Argo CD connection is configured
            (the answer is then Unknown at once, since waiting cannot change it).
        criteria: As for :func:`check_stage`.
        timeout: Seconds to keep checking; the last check happens at the deadline.
        interval: Seconds between checks.
        clock: Monotonic seconds.
        sleep: Waits the given seconds.
        refresh: Asks Argo CD to refresh the Application ``(namespace, name)``, typically by
            patching :func:`hard_refresh_patch` into it; None makes no requests.
        default_namespace: As for :func:`check_stage`.

    Returns:
        The first settled result (Healthy, Unhealthy), or the last one (Progressing,
        Unknown) when the timeout passed first.

    Raises:
        ValueError: ``timeout`` is negative or ``interval`` is not positive.
    """
    if timeout < 0:
        raise ValueError(f"the health wait timeout must not be negative, got {timeout}")
    if interval <= 0:
        raise ValueError(f"the health poll interval must be positive, got {interval}")
    deadline = clock() + timeout
    while True:
        result = check_stage(fetch, criteria, default_namespace=default_namespace)
        if refresh is not None:
            for namespace, name in result.refresh_requests:
                try:
                    refresh(namespace, name)
                except KargoDagsterError:
                    # Kargo only logs a failed refresh request; the next check asks again.
                    pass
        remaining = deadline - clock()
        if result.settled or fetch is None or remaining <= 0:
            return result
        sleep(min(interval, remaining))
