"""Stage health from Argo CD Applications, by Kargo's rules.

After a successful promotion, ``argocd-update`` registers a health criterion: the
Applications it synced and, per source, the revision each should now be at
(``{"kind": "argocd-update", "apps": [{name, namespace, desiredRevisions}]}``). Kargo
(``pkg/health/checker/builtin/argocd.go``, v1.11) re-checks it on every Stage reconcile;
:func:`check_stage` is one such check and :func:`settle` repeats it until the answer stops
moving. Per Application, the first rule that applies decides:

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

The Stage's health is the worst of its Applications' (:class:`HealthState` order), Healthy
when nothing was registered. Each result carries Kargo's issue messages and a status summary
fit for check metadata (:meth:`StageHealth.to_json`): stable across refreshes (no
``reconciledAt``, no condition transition times) and with credentials in URLs masked.

Applications are read through :class:`ApplicationReader`, a one-method protocol that any
Argo CD connection offering ``get(namespace, name)`` satisfies. Refreshes are the caller's to
make (:func:`hard_refresh_patch`), since this module never writes.
"""

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from pydantic.alias_generators import to_camel

from kargo_dagster.errors import KargoDagsterError
from kargo_dagster.redaction import redact_text

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

ARGOCD_HEALTH_CHECK_KIND = "argocd-update"
DEFAULT_ARGOCD_NAMESPACE = "argocd"
REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"

# Conditions that make Argo CD's own health and sync assessment unreliable.
_ERROR_CONDITIONS = ("ComparisonError", "InvalidSpecError")


class HealthState(StrEnum):
    """Kargo's Stage health states, from best to worst."""

    HEALTHY = "Healthy"
    NOT_APPLICABLE = "NotApplicable"
    PROGRESSING = "Progressing"
    UNKNOWN = "Unknown"
    UNHEALTHY = "Unhealthy"

    @property
    def severity(self) -> int:
        """Position in the order Healthy < NotApplicable < Progressing < Unknown < Unhealthy."""
        return _SEVERITY[self]

    def merge(self, other: "HealthState") -> "HealthState":
        """The worse of the two states."""
        return self if self.severity > other.severity else other

    @property
    def settled(self) -> bool:
        """Whether waiting longer is pointless: neither Progressing nor Unknown."""
        return self not in (HealthState.PROGRESSING, HealthState.UNKNOWN)


_SEVERITY = {state: rank for rank, state in enumerate(HealthState)}


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


class AppHealthCheck(BaseModel):
    """One Application of a health criterion.

    Attributes:
        name: The Application's name.
        namespace: Its namespace; empty means the default Argo CD namespace.
        desired_revisions: Per source of the Application (``spec.sources``, or the single
            ``spec.source``), the revision it should be synced to; empty entries mean "any".
    """

    # Unknown keys are ignored, as Kargo's JSON decoding ignores them.
    model_config = ConfigDict(
        frozen=True, extra="ignore", populate_by_name=True, alias_generator=to_camel
    )

    name: str
    namespace: str = ""
    desired_revisions: tuple[str, ...] = ()

    @field_validator("desired_revisions", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        # The criterion is JSON written by Kargo or by argocd-update: null means none.
        return () if value is None else value


class HealthCriterion(BaseModel):
    """The health check a promotion step registered (Kargo's ``HealthCheckStep``).

    Attributes:
        kind: Which checker evaluates it; only ``argocd-update`` is known.
        apps: The Applications to check.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: str = ARGOCD_HEALTH_CHECK_KIND
    apps: tuple[AppHealthCheck, ...] = ()

    @field_validator("apps", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return () if value is None else value


@dataclass(frozen=True)
class AppHealth:
    """The health of one Application, as it affects the Stage.

    Attributes:
        namespace: The Application's namespace.
        name: The Application's name.
        status: Its health by Kargo's rules.
        issues: Why it is not Healthy, in Kargo's words (empty when Healthy).
        refresh_requested: Argo CD's health predates the last operation; the caller should
            ask Argo CD for a hard refresh (:func:`hard_refresh_patch`), as Kargo does.
        summary: The Application's status, reduced to what describes it (health, sync,
            operation, conditions), credentials masked; JSON-compatible.
    """

    namespace: str
    name: str
    status: HealthState
    issues: tuple[str, ...] = ()
    refresh_requested: bool = False
    summary: Mapping[str, Any] = field(default_factory=dict[str, Any])

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-compatible dict (for check metadata)."""
        return {
            "namespace": self.namespace,
            "name": self.name,
            "status": self.status.value,
            "issues": list(self.issues),
            "applicationStatus": dict(self.summary),
        }


@dataclass(frozen=True)
class StageHealth:
    """A Stage's health from the criteria its last promotion registered.

    Attributes:
        status: The worst of the Applications' states; Healthy when nothing was registered.
        issues: Every Application's issues, plus those of criteria that could not be read.
        apps: Each Application's result, in the order the criteria list them.
    """

    status: HealthState = HealthState.HEALTHY
    issues: tuple[str, ...] = ()
    apps: tuple[AppHealth, ...] = ()

    @property
    def settled(self) -> bool:
        """Whether this is a final answer: neither Progressing nor Unknown."""
        return self.status.settled

    @property
    def refresh_requests(self) -> tuple[tuple[str, str], ...]:
        """``(namespace, name)`` of each Application Argo CD should refresh."""
        return tuple((a.namespace, a.name) for a in self.apps if a.refresh_requested)

    @property
    def description(self) -> str:
        """One line for people: the state, then the issues."""
        if not self.issues:
            return self.status.value
        return f"{self.status.value}: {'; '.join(self.issues)}"

    def to_json(self) -> dict[str, Any]:
        """The result as a JSON-compatible dict, shaped like Kargo's Stage ``status.health``.

        ``applicationStatuses`` holds each Application's status summary. Nothing in it
        changes when Argo CD merely re-reconciles an unchanged Application.
        """
        return {
            "status": self.status.value,
            "issues": list(self.issues),
            "applicationStatuses": [dict(a.summary) for a in self.apps],
        }


class _Malformed(Exception):
    """The Application's JSON does not have the shape Argo CD gives it."""


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
    for raw in _as_list(criteria):
        criterion, problem = _parse_criterion(raw)
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
                f"error finding Argo CD Application {_q(name)} in namespace {_q(namespace)}: "
                f"{redact_text(str(error))}",
            ),
            summary=unknown_summary,
        )
    if app is None:
        return AppHealth(
            namespace,
            name,
            HealthState.UNKNOWN,
            (f"unable to find Argo CD Application {_q(name)} in namespace {_q(namespace)}",),
            summary=unknown_summary,
        )
    try:
        summary = _summary(namespace, name, app)
        state, issues, refresh = _assess(namespace, name, app, check.desired_revisions)
    except _Malformed as problem:
        # Kargo could not even decode such an object; its read would fail the same way.
        return AppHealth(
            namespace,
            name,
            HealthState.UNKNOWN,
            (
                f"error finding Argo CD Application {_q(name)} in namespace {_q(namespace)}: "
                f"{problem}",
            ),
            summary=unknown_summary,
        )
    return AppHealth(namespace, name, state, issues, refresh, summary)


def _assess(
    namespace: str, name: str, app: Mapping[str, Any], desired: Sequence[str]
) -> tuple[HealthState, tuple[str, ...], bool]:
    """The rules after the Application was found: (state, issues, refresh requested)."""
    what = f"Argo CD Application {_q(name)} in namespace {_q(namespace)}"
    status = _object(app, "status")
    operation_state = _object(status, "operationState", "status.")
    finished_at = _time(operation_state, "finishedAt", "status.operationState.")
    reconciled_at = _time(status, "reconciledAt", "status.")
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
        for condition in _objects(status, "conditions", "status.")
        if condition.get("type") in _ERROR_CONDITIONS
    ]
    if conditions:
        return (
            HealthState.UNHEALTHY,
            tuple(
                f"{what} has {_q(_text(c.get('type')))} condition: "
                f"{redact_text(_text(c.get('message')))}"
                for c in conditions
            ),
            False,
        )

    # The operation moves the sync revision at once while health may lag, so a wrong
    # revision is reported before whatever health Argo CD shows.
    sync_state, sync_issue = _sync_health(what, app, status, operation_state, desired)
    if sync_issue:
        return sync_state, (sync_issue,), False

    health = _text(_object(status, "health", "status.").get("status"))
    if health in ("Progressing", ""):
        return HealthState.PROGRESSING, (f"{what} is progressing",), False
    if health == "Suspended":
        return HealthState.PROGRESSING, (f"{what} is suspended",), False
    if health == "Healthy":
        return HealthState.HEALTHY, (), False
    return HealthState.UNHEALTHY, (f"{what} has health state {_q(health)}",), False


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
    operation = _object(app, "operation")
    if (
        operation.get("sync") is not None
        or not operation_state
        or _time(operation_state, "finishedAt", "status.operationState.") is None
    ):
        return HealthState.UNKNOWN, f"{what} is being synced"
    spec = _object(app, "spec")
    sources = _objects(spec, "sources", "spec.")
    if not sources and spec.get("source") is not None:
        sources = [_object(spec, "source", "spec.")]
    if len(sources) != len(desired):
        return (
            HealthState.UNKNOWN,
            f"{what} has {len(sources)} sources but {len(desired)} desired revisions",
        )
    sync = _object(status, "sync", "status.")
    observed = [_text(r) for r in _list(sync, "revisions", "status.sync.")]
    if not observed:
        observed = [_text(sync.get("revision"))]
    if len(observed) != len(desired):
        return (
            HealthState.UNKNOWN,
            f"{what} has {len(observed)} observed revisions but {len(desired)} desired revisions",
        )
    mismatches = [
        f"Source {i} with RepoURL {redact_text(_text(sources[i].get('repoURL')))} of "
        f"{what.removeprefix('Argo CD ')} does not match the desired revision {_q(want)}."
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


def _summary(namespace: str, name: str, app: Mapping[str, Any]) -> dict[str, Any]:
    """The Application's status reduced for metadata: what it is, never when it was looked at.

    Kargo keeps the whole status minus ``reconciledAt`` and the conditions' transition
    times; resources, history and comparison details are left out here as well, since they
    can be large and add nothing to a health verdict.
    """
    status = _object(app, "status")
    summary: dict[str, Any] = {"namespace": namespace, "name": name}
    health = _object(status, "health", "status.")
    summary["health"] = _pick(health, ("status", "message"))
    sync = _object(status, "sync", "status.")
    summary["sync"] = _pick(sync, ("status", "revision", "revisions"))
    operation_state = _object(status, "operationState", "status.")
    if operation_state:
        picked = _pick(
            operation_state, ("phase", "message", "startedAt", "finishedAt", "retryCount")
        )
        result = _object(operation_state, "syncResult", "status.operationState.")
        if result:
            picked["syncResult"] = _pick(result, ("revision", "revisions"))
        summary["operationState"] = picked
    conditions = _objects(status, "conditions", "status.")
    if conditions:
        summary["conditions"] = [_pick(c, ("type", "message")) for c in conditions]
    return summary


def _pick(source: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """The present ``keys`` of ``source``, strings with credentials masked."""
    picked: dict[str, Any] = {}
    for key in keys:
        value = source.get(key)
        if value is None:
            continue
        if isinstance(value, str):
            picked[key] = redact_text(value)
        elif isinstance(value, list):
            picked[key] = [redact_text(v) if isinstance(v, str) else v for v in value]
        else:
            picked[key] = value
    return picked


def _parse_criterion(
    raw: HealthCriterion | Mapping[str, Any],
) -> tuple[HealthCriterion | None, str]:
    """The criterion, or None and the issue explaining why it cannot be checked."""
    if isinstance(raw, HealthCriterion):
        criterion = raw
    else:
        if "uses" in raw:
            kind, data = raw.get("uses"), raw.get("config") or {}
        else:
            kind = raw.get("kind", ARGOCD_HEALTH_CHECK_KIND)
            data = {k: v for k, v in raw.items() if k != "kind"}
        if kind != ARGOCD_HEALTH_CHECK_KIND:
            return None, f"no health checker registered for health check kind {_q(str(kind))}"
        try:
            criterion = HealthCriterion.model_validate({**data, "kind": kind})
        except ValidationError as error:
            return None, (
                f"could not convert opaque input into {ARGOCD_HEALTH_CHECK_KIND} health check "
                f"input: {_validation_message(error)}"
            )
    if criterion.kind != ARGOCD_HEALTH_CHECK_KIND:
        return None, f"no health checker registered for health check kind {_q(criterion.kind)}"
    return criterion, ""


def _validation_message(error: ValidationError) -> str:
    """Pydantic's errors on one line, each with the field path (values are not repeated)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in e['loc']) or '(input)'}: {e['msg']}"
        for e in error.errors(include_url=False, include_input=False)
    )


def _as_list(
    criteria: HealthCriterion | Mapping[str, Any] | Sequence[HealthCriterion | Mapping[str, Any]],
) -> list[HealthCriterion | Mapping[str, Any]]:
    if isinstance(criteria, HealthCriterion | Mapping):
        return [criteria]
    return list(criteria)


def _q(text: str) -> str:
    """``text`` in double quotes with escapes, as Go's ``%q`` shows names in Kargo's messages."""
    return json.dumps(text, ensure_ascii=False)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _object(parent: Mapping[str, Any], key: str, where: str = "") -> Mapping[str, Any]:
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _Malformed(f"{where}{key}: expected an object, got {type(value).__name__}")
    return value


def _list(parent: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = parent.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Malformed(f"{where}{key}: expected a list, got {type(value).__name__}")
    return value


def _objects(parent: Mapping[str, Any], key: str, where: str) -> list[Mapping[str, Any]]:
    items = _list(parent, key, where)
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise _Malformed(f"{where}{key}[{i}]: expected an object, got {type(item).__name__}")
    return items


def _time(parent: Mapping[str, Any], key: str, where: str) -> datetime | None:
    """A Kubernetes timestamp (RFC 3339), None when absent."""
    value = parent.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Malformed(f"{where}{key}: expected a timestamp, got {type(value).__name__}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _Malformed(f"{where}{key}: {_q(value)} is not an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise _Malformed(f"{where}{key}: {_q(value)} has no time zone")
    return moment
