"""Argo CD Applications through the Kubernetes API, as Kargo reaches them.

:class:`KubernetesArgoCDApplications` implements
:class:`~kargo_dagster.clients.argocd.applications.ArgoCDApplications` with the real
``kubernetes`` client: Applications through ``CustomObjectsApi`` (``argoproj.io/v1alpha1``),
Events through ``CoreV1Api``. Every request has a read timeout, since the client has none
by default, and a total deadline (:mod:`kargo_dagster.clients.kube.deadlines`).

Failures become :class:`~kargo_dagster.clients.argocd.applications.ArgoCDError` with a
message built from the status and the API's own ``Status.message``; the client's exception
text (response headers, raw bodies) is never passed on, and the API server's address is
shown with any credentials masked.
"""

import json
from collections.abc import Mapping
from typing import Any, Self, cast

import kubernetes
import urllib3

from kargo_dagster.clients.argocd.applications import (
    DEFAULT_NAMESPACE,
    ApplicationConflictError,
    ApplicationNotFoundError,
    ArgoCDError,
)
from kargo_dagster.clients.deadlines import DEFAULT_REQUEST_DEADLINE, RequestDeadlineExceeded
from kargo_dagster.clients.kube.deadlines import KubeAnswer, call_within
from kargo_dagster.clients.kube.errors import client_secrets, connection_cause, status_body
from kargo_dagster.redaction import ECHO_MASK, mask_secrets, redact_url

__all__ = ["KubernetesArgoCDApplications"]

_GROUP, _VERSION, _PLURAL = "argoproj.io", "v1alpha1", "applications"


class KubernetesArgoCDApplications:
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
        self.default_namespace = default_namespace
        self.poll_interval = poll_interval
        self._api_client = api_client
        self._custom = kubernetes.client.CustomObjectsApi(api_client)
        self._secrets = client_secrets(api_client)
        self._core = kubernetes.client.CoreV1Api(api_client)
        self._timeout = request_timeout
        self._deadline = request_deadline
        self._host = str(api_client.configuration.host)
        self.where = f"the Kubernetes API at {redact_url(str(api_client.configuration.host))}"

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the client's connections."""
        self._api_client.close()

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Application, or None when there is none by that name."""
        doing = f"get Argo CD Application {name!r} in namespace {namespace!r}"
        try:
            found = self._call(
                "GET",
                self._custom.get_namespaced_custom_object,
                _GROUP, _VERSION, namespace, _PLURAL, name,
            )  # fmt: skip
        except kubernetes.client.ApiException as error:
            if error.status == 404 and _names_object(error, name):
                return None
            raise self._api_error(error, doing) from None
        except (urllib3.exceptions.HTTPError, RequestDeadlineExceeded) as error:
            raise self._unreachable(error, doing) from None
        return self._object(found, doing)

    def list(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The Applications in ``namespace`` matching the label selector, sorted by name."""
        doing = f"list Argo CD Applications in namespace {namespace!r}"
        try:
            found = self._call(
                "GET",
                self._custom.list_namespaced_custom_object,
                _GROUP, _VERSION, namespace, _PLURAL,
                label_selector=selector or None,
            )  # fmt: skip
        except kubernetes.client.ApiException as error:
            raise self._api_error(error, doing) from None
        except (urllib3.exceptions.HTTPError, RequestDeadlineExceeded) as error:
            raise self._unreachable(error, doing) from None
        items = cast(list[dict[str, Any]], self._object(found, doing).get("items") or [])
        return sorted(items, key=lambda item: str(item.get("metadata", {}).get("name", "")))

    def patch(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Apply a JSON merge patch; conditional on the ``resourceVersion`` it carries."""
        doing = f"patch Argo CD Application {name!r} in namespace {namespace!r}"
        try:
            written = self._call(
                "PATCH",
                self._custom.patch_namespaced_custom_object,
                _GROUP, _VERSION, namespace, _PLURAL, name, dict(patch),
            )  # fmt: skip
        except kubernetes.client.ApiException as error:
            if error.status == 409:
                raise ApplicationConflictError(
                    f"cannot {doing}: it was changed concurrently (409 Conflict)"
                ) from None
            if error.status == 404 and _names_object(error, name):
                raise ApplicationNotFoundError(f"cannot {doing}: it does not exist") from None
            raise self._api_error(error, doing) from None
        except (urllib3.exceptions.HTTPError, RequestDeadlineExceeded) as error:
            raise self._unreachable(error, doing) from None
        return self._object(written, doing)

    def create_event(self, namespace: str, event: Mapping[str, Any]) -> None:
        """Create a ``v1/Event`` in ``namespace``."""
        doing = f"create an Event in namespace {namespace!r}"
        try:
            self._call("POST", self._core.create_namespaced_event, namespace, dict(event))
        except kubernetes.client.ApiException as error:
            raise self._api_error(error, doing) from None
        except (urllib3.exceptions.HTTPError, RequestDeadlineExceeded) as error:
            raise self._unreachable(error, doing) from None

    def _call(self, method: str, call: Any, *args: Any, **kwargs: Any) -> KubeAnswer:
        return call_within(
            call,
            *args,
            method=method,
            host=self._host,
            timeout=self._timeout,
            deadline=self._deadline,
            **kwargs,
        )

    def _object(self, answer: KubeAnswer, doing: str) -> dict[str, Any]:
        try:
            found = json.loads(answer.data)
        except ValueError:
            found = None
        if not isinstance(found, dict):
            raise ArgoCDError(f"cannot {doing}: {self.where} answered with no JSON object")
        return cast(dict[str, Any], found)

    # Errors ----------------------------------------------------------------------------------

    def _api_error(self, error: kubernetes.client.ApiException, doing: str) -> ArgoCDError:
        status = int(error.status or 0)
        if status == 0:
            # The client reports TLS failures as status 0 with the cause in ``reason``.
            reason = mask_secrets(str(error.reason), self._secrets, mask=ECHO_MASK)
            return ArgoCDError(
                f"cannot reach {self.where} to {doing}: {reason}",
                retryable=True,
            )
        body = status_body(error)
        message = mask_secrets(
            str(body.get("message") or error.reason or ""), self._secrets, mask=ECHO_MASK
        )
        message = message.strip()
        if status == 404 and not _names_object(error, ""):
            return ArgoCDError(
                f"cannot {doing}: {self.where} does not serve Argo CD Applications "
                f"({_GROUP}/{_VERSION}); is Argo CD installed there? ({message})",
                status=404,
            )
        retryable = status == 429 or status >= 500
        retry_after = _retry_after(error, body) if retryable else None
        reason = f"{status} {error.reason}".strip() if error.reason else str(status)
        return ArgoCDError(
            f"{self.where} refused to {doing} ({reason}): {message}",
            status=status,
            retryable=retryable,
            retry_after=retry_after,
        )

    def _unreachable(
        self, error: urllib3.exceptions.HTTPError | RequestDeadlineExceeded, doing: str
    ) -> ArgoCDError:
        if isinstance(error, RequestDeadlineExceeded):
            return ArgoCDError(f"{self.where} was too slow to {doing}: {error}", retryable=True)
        return ArgoCDError(
            f"cannot reach {self.where} to {doing}: {connection_cause(error)}", retryable=True
        )


def _names_object(error: kubernetes.client.ApiException, name: str) -> bool:
    """Whether a 404 is about a missing object (``name``; any object when empty), rather
    than a resource the API server does not serve at all."""
    details = status_body(error).get("details") or {}
    found = details.get("name") if isinstance(details, dict) else None
    return bool(found) and (not name or found == name)


def _retry_after(error: kubernetes.client.ApiException, body: Mapping[str, Any]) -> float | None:
    details = body.get("details")
    if isinstance(details, Mapping):
        seconds = cast(Mapping[str, Any], details).get("retryAfterSeconds")
        if isinstance(seconds, int | float) and seconds > 0:
            return float(seconds)
    header = (error.headers or {}).get("Retry-After")
    try:
        return float(header) if header else None
    except ValueError:
        return None
