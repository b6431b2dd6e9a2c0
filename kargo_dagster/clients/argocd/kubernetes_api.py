"""Argo CD Applications through the Kubernetes API, as Kargo reaches them.

:class:`KubernetesArgoCDApplications` implements
:class:`~kargo_dagster.clients.argocd.applications.ArgoCDApplications` with the real
``kubernetes`` client: Applications as custom objects (``argoproj.io/v1alpha1``, through
:class:`~kargo_dagster.clients.kube.custom_objects.CustomObjects`, which gives every request
a read timeout and a total deadline), Events through ``CoreV1Api``.

Failures become :class:`~kargo_dagster.clients.argocd.applications.ArgoCDError` with a
message built from the status and the API's own ``Status.message``; the client's exception
text (response headers, raw bodies) is never passed on, and the API server's address is
shown with any credentials masked.
"""

from collections.abc import Mapping
from typing import Any, cast

import kubernetes

from kargo_dagster.clients.argocd.applications import (
    DEFAULT_NAMESPACE,
    ApplicationConflictError,
    ApplicationNotFoundError,
    ArgoCDError,
)
from kargo_dagster.clients.deadlines import DEFAULT_REQUEST_DEADLINE
from kargo_dagster.clients.kube.custom_objects import (
    CustomObjectsClient,
    CustomResource,
    Refused,
    Unanswered,
)

__all__ = ["KubernetesArgoCDApplications"]

_APPLICATIONS = CustomResource("argoproj.io", "v1alpha1", "applications")


class KubernetesArgoCDApplications(CustomObjectsClient):
    """Argo CD Applications in a Kubernetes cluster.

    Args:
        api_client: A configured ``kubernetes`` client (kubeconfig, in-cluster or explicit
            host and token). It is closed by :meth:`close`.
        default_namespace: Where Applications are when a step names no namespace.
        poll_interval: Seconds a waiting step lets pass before it looks again.
        request_timeout: Seconds allowed for each read of a request.
        request_deadline: Seconds each request may take in all.
    """

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        *,
        default_namespace: str = DEFAULT_NAMESPACE,
        poll_interval: float = 5.0,
        request_timeout: float = 10.0,
        request_deadline: float = DEFAULT_REQUEST_DEADLINE,
    ) -> None:
        super().__init__(
            api_client, request_timeout=request_timeout, request_deadline=request_deadline
        )
        self.default_namespace = default_namespace
        self.poll_interval = poll_interval
        self._api_client = api_client
        self._core = kubernetes.client.CoreV1Api(api_client)

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Application, or None when there is none by that name."""
        doing = f"get Argo CD Application {name!r} in namespace {namespace!r}"
        try:
            found = self._objects.get(_APPLICATIONS, namespace, name, doing=doing)
        except Refused as refused:
            if refused.status == 404 and refused.named == name:
                return None
            raise self._refused(refused, doing) from None
        except Unanswered as error:
            raise ArgoCDError(str(error), retryable=True) from None
        return self._object(found, doing)

    def list(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The Applications in ``namespace`` matching the label selector, sorted by name."""
        doing = f"list Argo CD Applications in namespace {namespace!r}"
        try:
            found = self._objects.list(
                _APPLICATIONS, namespace, label_selector=selector or None, doing=doing
            )
        except Refused as refused:
            raise self._refused(refused, doing) from None
        except Unanswered as error:
            raise ArgoCDError(str(error), retryable=True) from None
        items = cast(list[dict[str, Any]], self._object(found, doing).get("items") or [])
        return sorted(items, key=lambda item: str(item.get("metadata", {}).get("name", "")))

    def patch(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a JSON merge patch; conditional on the ``resourceVersion`` it carries."""
        doing = f"patch Argo CD Application {name!r} in namespace {namespace!r}"
        try:
            written = self._objects.patch(_APPLICATIONS, namespace, name, patch, doing=doing)
        except Refused as refused:
            if refused.status == 409:
                raise ApplicationConflictError(
                    f"cannot {doing}: it was changed concurrently (409 Conflict)"
                ) from None
            if refused.status == 404 and refused.named == name:
                raise ApplicationNotFoundError(f"cannot {doing}: it does not exist") from None
            raise self._refused(refused, doing) from None
        except Unanswered as error:
            raise ArgoCDError(str(error), retryable=True) from None
        return self._object(written, doing)

    def create_event(self, namespace: str, event: Mapping[str, Any]) -> None:
        """Create a ``v1/Event`` in ``namespace``."""
        doing = f"create an Event in namespace {namespace!r}"
        try:
            self._objects.request(
                "POST", self._core.create_namespaced_event, namespace, dict(event), doing=doing
            )
        except Refused as refused:
            raise self._refused(refused, doing) from None
        except Unanswered as error:
            raise ArgoCDError(str(error), retryable=True) from None

    def _object(self, found: dict[str, Any] | None, doing: str) -> dict[str, Any]:
        if found is None:
            raise ArgoCDError(f"cannot {doing}: {self.where} answered with no JSON object")
        return found

    def _refused(self, refused: Refused, doing: str) -> ArgoCDError:
        status = refused.status
        if status == 404 and not refused.named:
            # A 404 naming no object is about the resource itself: the CRD is not installed.
            return ArgoCDError(
                f"cannot {doing}: {self.where} does not serve Argo CD Applications "
                f"({_APPLICATIONS.api_version}); is Argo CD installed there? "
                f"({refused.message})",
                status=404,
            )
        retryable = status == 429 or status >= 500
        return ArgoCDError(
            f"{self.where} refused to {doing} ({refused.reason}): {refused.message}",
            status=status,
            retryable=retryable,
            retry_after=refused.retry_after if retryable else None,
        )
