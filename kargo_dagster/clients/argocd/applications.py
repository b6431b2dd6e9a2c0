"""What the Argo CD steps need from Argo CD, whatever carries it.

Kargo talks to Argo CD only through the Kubernetes API: it reads ``argoproj.io/v1alpha1``
Applications (by name, or by label selector), starts a sync by patching ``.operation`` into
one, and records an Event as Argo CD's API server would. :class:`ArgoCDApplications` is that
much and no more, so that any transport able to do those four things can carry it:
``KubernetesArgoCDApplications`` (:mod:`kargo_dagster.clients.argocd.kubernetes_api`) over the
Kubernetes API, or a client of Argo CD's REST API, whose ``PATCH /api/v1/applications/{name}``
takes the same merge patches.

Applications travel as plain JSON objects (``dict``), exactly as the API returns them, so
fields the steps do not know survive a read-modify-write (:func:`update_application`).

Errors are :class:`ArgoCDError`; ``retryable`` says whether asking again later may help
(unreachable API, 5xx, 429). :class:`ApplicationConflictError` is a write that lost against
a concurrent one (409), :class:`ApplicationNotFoundError` a write to an Application that is
gone; both are retryable. Messages name the Application and the API, never credentials.
"""

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from kargo_dagster.clients.kube.merge_patch import merge_patch
from kargo_dagster.errors import KargoDagsterError

__all__ = [
    "APPLICATION_API_VERSION",
    "DEFAULT_NAMESPACE",
    "ApplicationConflictError",
    "ApplicationNotFoundError",
    "ArgoCDApplications",
    "ArgoCDError",
    "label_selector",
    "update_application",
]

APPLICATION_API_VERSION = "argoproj.io/v1alpha1"
DEFAULT_NAMESPACE = "argocd"

# client-go's retry.DefaultRetry, which Kargo's optimistic-lock patch loop uses: five tries,
# 10ms apart.
CONFLICT_ATTEMPTS = 5
CONFLICT_DELAY = 0.01


class ArgoCDError(KargoDagsterError):
    """Argo CD (or the API in front of it) refused or failed a request.

    Attributes:
        status: The HTTP status, when the API answered.
        retryable: Whether asking again later may succeed (unreachable, 5xx, 429).
        retry_after: Seconds the API asked to wait, if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


class ApplicationConflictError(ArgoCDError):
    """A write carried a stale ``resourceVersion``: someone changed the Application since.

    Retryable: reading again and redoing the change may succeed.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, status=409, retryable=True)


class ApplicationNotFoundError(ArgoCDError):
    """A write to an Application that does not exist (any more).

    Retryable: it may be (re)created, as an ApplicationSet does.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message, status=404, retryable=True)


class ArgoCDApplications(Protocol):
    """Argo CD Applications as the promotion steps and health checks see them.

    Attributes:
        default_namespace: Where Applications are looked up when a step names no namespace
            (Kargo's ``$ARGOCD_NAMESPACE``, default ``argocd``).
        poll_interval: Seconds a waiting step lets pass before it looks again. Kargo is
            woken by watch events; a poll stands in for them.
    """

    default_namespace: str
    poll_interval: float

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Application, or None when there is none by that name.

        Raises:
            ArgoCDError: The API could not be asked, or refused.
        """
        ...

    def list(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The Applications in ``namespace`` matching a label selector (see
        :func:`label_selector`), sorted by name.

        Raises:
            ArgoCDError: The API could not be asked, or refused.
        """
        ...

    def patch(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a JSON merge patch (RFC 7386) and return the Application as written.

        A ``metadata.resourceVersion`` in the patch makes the write conditional on it.

        Raises:
            ApplicationConflictError: The resourceVersion is stale (409).
            ApplicationNotFoundError: The Application does not exist.
            ArgoCDError: Any other failure.
        """
        ...

    def create_event(self, namespace: str, event: Mapping[str, Any]) -> None:
        """Record a ``v1/Event`` about an Application (a transport without Events may drop it).

        Raises:
            ArgoCDError: The API could not be asked, or refused.
        """
        ...


def update_application(
    applications: ArgoCDApplications,
    namespace: str,
    name: str,
    modify: Callable[[dict[str, Any]], None],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Read the Application, let ``modify`` change a copy, and write the difference back.

    The write is a JSON merge patch carrying the ``resourceVersion`` that was read, so it
    cannot undo a concurrent change; on a conflict the whole read-modify-write is done again,
    up to five times (Kargo's ``PatchUnstructured`` with client-go's default retry).

    Args:
        applications: Where the Application lives.
        namespace: Its namespace.
        name: Its name.
        modify: Changes the live object in place; called once per attempt.
        sleep: Waits between attempts.

    Returns:
        The Application as written.

    Raises:
        ApplicationNotFoundError: It does not exist.
        ApplicationConflictError: Every attempt lost against a concurrent write.
        ArgoCDError: The API failed otherwise.
    """
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        live = applications.get(namespace, name)
        if live is None:
            raise ApplicationNotFoundError(
                f"Argo CD Application {name!r} in namespace {namespace!r} does not exist"
            )
        modified = copy.deepcopy(live)
        modify(modified)
        patch = merge_patch(live, modified)
        patch.setdefault("metadata", {})["resourceVersion"] = live["metadata"]["resourceVersion"]
        try:
            return applications.patch(namespace, name, patch)
        except ApplicationConflictError:
            if attempt == CONFLICT_ATTEMPTS:
                raise
            sleep(CONFLICT_DELAY)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


# Label selectors ------------------------------------------------------------------------------


_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
_SUBDOMAIN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-.")


def _label_name_problem(name: str, what: str, *, max_length: int = 63) -> str:
    if len(name) > max_length:
        return f"{what} {name!r} must be no more than {max_length} characters"
    if name and (not set(name) <= _NAME_CHARS or not name[0].isalnum() or not name[-1].isalnum()):
        return (
            f"{what} {name!r} must consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        )
    return ""


def _label_key_problem(key: str) -> str:
    prefix, slash, name = key.rpartition("/")
    if not name:
        return f"label key {key!r}: name part must be non-empty"
    if slash and (
        not prefix
        or len(prefix) > 253
        or not set(prefix) <= _SUBDOMAIN_CHARS
        or not prefix[0].isalnum()
        or not prefix[-1].isalnum()
    ):
        return f"label key {key!r}: prefix part must be a lowercase DNS subdomain"
    return _label_name_problem(name, f"label key {key!r}: name part")


def label_selector(
    match_labels: Mapping[str, str] | None,
    match_expressions: Sequence[tuple[str, str, Sequence[str]]] = (),
) -> str:
    """A label selector in the API's string form, checked as Kubernetes checks one.

    Requirements are sorted by key, as ``labels.Selector.String`` writes them:
    ``app=guestbook,env in (dev,test),!legacy``.

    Args:
        match_labels: ``matchLabels``: key equals value.
        match_expressions: ``matchExpressions`` as ``(key, operator, values)``; operators
            ``In``, ``NotIn``, ``Exists`` and ``DoesNotExist``.

    Raises:
        ValueError: No criterion, an invalid key or value, or values where the operator
            takes none (and none where it needs some).
    """
    requirements: list[tuple[str, str]] = []
    for key, value in (match_labels or {}).items():
        problem = _label_key_problem(key) or _label_name_problem(value, "label value")
        if problem:
            raise ValueError(f"invalid matchLabel {key}={value}: {problem}")
        requirements.append((key, f"{key}={value}"))
    for key, operator, listed in match_expressions:
        values = list(listed)
        problem = _label_key_problem(key)
        if not problem and operator in ("In", "NotIn") and not values:
            problem = "for 'in', 'notin' operators, values set can't be empty"
        if not problem and operator in ("Exists", "DoesNotExist") and values:
            problem = "values set must be empty for exists and does not exist"
        if not problem:
            problem = next((p for v in values if (p := _label_name_problem(v, "label value"))), "")
        if problem:
            raise ValueError(f"invalid matchExpression: {problem}")
        if operator == "In":
            requirements.append((key, f"{key} in ({','.join(sorted(set(values)))})"))
        elif operator == "NotIn":
            requirements.append((key, f"{key} notin ({','.join(sorted(set(values)))})"))
        elif operator == "Exists":
            requirements.append((key, key))
        elif operator == "DoesNotExist":
            requirements.append((key, f"!{key}"))
        else:
            raise ValueError(f"invalid operator: {operator}")
    if not requirements:
        raise ValueError("selector must have at least one match criterion")
    return ",".join(text for _, text in sorted(requirements, key=lambda r: r[0]))
