"""Custom objects through the Kubernetes API: one client for every kind kargo-dagster reads.

Argo CD Applications, AnalysisTemplates and AnalysisRuns are all custom resources
(``argoproj.io/v1alpha1``) reached through ``CustomObjectsApi``. :class:`CustomObjects` is
what their clients share:

* every request has a read timeout, since the ``kubernetes`` client has none by default,
  and a total deadline (:mod:`kargo_dagster.clients.kube.deadlines`);
* answers are decoded to a JSON object, or None when the API server sent anything else;
* failures are told without the client's exception text (response headers, raw bodies):
  :class:`Unanswered` when no answer came (connection refused, TLS failure, deadline), with
  a complete message, and :class:`Refused` when the API server refused, with its status and
  its own ``Status.message``. Whatever the client sends that a server may echo (its token,
  API keys, a basic-auth password) is masked, and the API server's address is shown with
  any credentials masked.

Each kind's client (a :class:`CustomObjectsClient`) words its errors from these, as its
callers expect them.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self, cast

import kubernetes
import urllib3

from kargo_dagster.clients.deadlines import DEFAULT_REQUEST_DEADLINE, RequestDeadlineExceeded
from kargo_dagster.clients.kube.deadlines import KubeAnswer, call_within
from kargo_dagster.clients.kube.errors import client_secrets, connection_cause, status_body
from kargo_dagster.redaction import ECHO_MASK, mask_secrets, redact_url

__all__ = [
    "CustomObjects",
    "CustomObjectsClient",
    "CustomResource",
    "KubeRequestError",
    "Refused",
    "Unanswered",
]


@dataclass(frozen=True)
class CustomResource:
    """A kind of custom object as the API addresses it: ``/apis/{group}/{version}/.../{plural}``."""

    group: str
    version: str
    plural: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"

    def in_namespace(self, namespace: str) -> tuple[str, str, str, str]:
        """What ``CustomObjectsApi``'s namespaced methods take ahead of an object's name."""
        return (self.group, self.version, namespace, self.plural)

    def cluster_scoped(self) -> tuple[str, str, str]:
        """What ``CustomObjectsApi``'s cluster-scoped methods take ahead of an object's name."""
        return (self.group, self.version, self.plural)


class KubeRequestError(Exception):
    """A request to the Kubernetes API failed; the message is safe to show."""


class Unanswered(KubeRequestError):
    """No answer came: the API server could not be reached, TLS failed, or the request ran
    out of time. The message says which, and what was being done."""


class Refused(KubeRequestError):
    """The API server answered with an error status.

    Attributes:
        status: The HTTP status.
        reason: The status line (``404 Not Found``), or the status alone.
        message: The API's own ``Status.message`` (or the reason phrase), secrets masked.
        named: The object a ``404`` names (``details.name``); empty when it names none, as
            when the API server does not serve the resource at all.
        retry_after: Seconds the API server asked to wait, if it said.
    """

    def __init__(
        self, *, status: int, reason: str, message: str, named: str, retry_after: float | None
    ) -> None:
        super().__init__(f"{reason}: {message}" if message else reason)
        self.status = status
        self.reason = reason
        self.message = message
        self.named = named
        self.retry_after = retry_after


class CustomObjects:
    """Custom objects in one Kubernetes cluster.

    Args:
        api_client: A configured ``kubernetes`` client (kubeconfig, in-cluster or explicit
            host and token). It is closed by :meth:`close`.
        request_timeout: Seconds allowed for each read of a request.
        request_deadline: Seconds each request may take in all.

    Attributes:
        api: The ``CustomObjectsApi`` requests go through.
        where: The API server, as messages name it (credentials masked).
    """

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        *,
        request_timeout: float,
        request_deadline: float,
    ) -> None:
        self.api_client = api_client
        self.api = kubernetes.client.CustomObjectsApi(api_client)
        self.request_timeout = request_timeout
        self.request_deadline = request_deadline
        self._host = str(api_client.configuration.host)
        self._secrets = client_secrets(api_client)
        self.where = f"the Kubernetes API at {redact_url(self._host)}"

    def close(self) -> None:
        """Release the client's connections."""
        self.api_client.close()

    def call(self, method: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> KubeAnswer:
        """``call(*args, **kwargs)`` (any API's method on this client) within the deadline.

        Raises:
            RequestDeadlineExceeded: The request ran out of time.
            kubernetes.client.ApiException: The API server refused.
            urllib3.exceptions.HTTPError: The API server could not be reached.
        """
        return call_within(
            call,
            *args,
            method=method,
            host=self._host,
            timeout=self.request_timeout,
            deadline=self.request_deadline,
            **kwargs,
        )

    def request(
        self, method: str, call: Callable[..., Any], *args: Any, doing: str, **kwargs: Any
    ) -> dict[str, Any] | None:
        """The JSON object ``call`` answers (None when it is not one), failures told safely.

        Args:
            doing: What the request does (``get Argo CD Application 'a' in namespace 'b'``),
                for messages: ``cannot reach ... to {doing}``.

        Raises:
            Unanswered: No answer came.
            Refused: The API server answered with an error status.
        """
        try:
            answer = self.call(method, call, *args, **kwargs)
        except kubernetes.client.ApiException as error:
            raise self._refused(error, doing) from None
        except (urllib3.exceptions.HTTPError, RequestDeadlineExceeded) as error:
            raise self._unanswered(error, doing) from None
        try:
            found = json.loads(answer.data)
        except ValueError:
            return None
        return cast(dict[str, Any], found) if isinstance(found, dict) else None

    def get(
        self, resource: CustomResource, namespace: str, name: str, *, doing: str
    ) -> dict[str, Any] | None:
        """Object ``name`` in ``namespace`` (see :meth:`request`)."""
        return self.request(
            "GET",
            self.api.get_namespaced_custom_object,
            *resource.in_namespace(namespace),
            name,
            doing=doing,
        )

    def get_cluster_scoped(
        self, resource: CustomResource, name: str, *, doing: str
    ) -> dict[str, Any] | None:
        """Cluster-scoped object ``name`` (see :meth:`request`)."""
        return self.request(
            "GET",
            self.api.get_cluster_custom_object,
            *resource.cluster_scoped(),
            name,
            doing=doing,
        )

    def list(
        self, resource: CustomResource, namespace: str, *, label_selector: str | None, doing: str
    ) -> dict[str, Any] | None:
        """Objects in ``namespace`` matching ``label_selector``, as a list (see :meth:`request`)."""
        return self.request(
            "GET",
            self.api.list_namespaced_custom_object,
            *resource.in_namespace(namespace),
            label_selector=label_selector,
            doing=doing,
        )

    def patch(
        self,
        resource: CustomResource,
        namespace: str,
        name: str,
        patch: Mapping[str, Any],
        *,
        doing: str,
    ) -> dict[str, Any] | None:
        """Object ``name`` after a JSON merge patch, as the client sends a ``dict`` to
        custom objects (see :meth:`request`)."""
        return self.request(
            "PATCH",
            self.api.patch_namespaced_custom_object,
            *resource.in_namespace(namespace),
            name,
            dict(patch),
            doing=doing,
        )

    # Failures --------------------------------------------------------------------------------

    def _refused(self, error: kubernetes.client.ApiException, doing: str) -> KubeRequestError:
        status = int(error.status or 0)
        if status == 0:
            # The client reports TLS failures as status 0 with the cause in ``reason``.
            reason = mask_secrets(str(error.reason), self._secrets, mask=ECHO_MASK)
            return Unanswered(f"cannot reach {self.where} to {doing}: {reason}")
        body = status_body(error)
        message = mask_secrets(
            str(body.get("message") or error.reason or ""), self._secrets, mask=ECHO_MASK
        )
        details = body.get("details")
        named = details.get("name") if isinstance(details, dict) else None
        return Refused(
            status=status,
            reason=f"{status} {error.reason}".strip() if error.reason else str(status),
            message=message.strip(),
            named=named if isinstance(named, str) else "",
            retry_after=_retry_after(error, body),
        )

    def _unanswered(
        self, error: urllib3.exceptions.HTTPError | RequestDeadlineExceeded, doing: str
    ) -> Unanswered:
        if isinstance(error, RequestDeadlineExceeded):
            return Unanswered(f"{self.where} was too slow to {doing}: {error}")
        return Unanswered(f"cannot reach {self.where} to {doing}: {connection_cause(error)}")


class CustomObjectsClient:
    """What every kind's client starts from: its :class:`CustomObjects`, made from the same
    arguments (the client's default timeout and deadline) and closed with it."""

    def __init__(
        self,
        api_client: kubernetes.client.ApiClient,
        *,
        request_timeout: float = 10.0,
        request_deadline: float = DEFAULT_REQUEST_DEADLINE,
    ) -> None:
        self._objects = CustomObjects(
            api_client, request_timeout=request_timeout, request_deadline=request_deadline
        )
        self.where = self._objects.where

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the client's connections."""
        self._objects.close()


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
