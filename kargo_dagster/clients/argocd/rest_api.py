"""Argo CD's Applications through Argo CD's own REST API, for teams without Kubernetes access.

The same :class:`~kargo_dagster.clients.argocd.applications.ArgoCDApplications` as the
Kubernetes transport, over ``/api/v1/applications`` with a bearer token (an Argo CD account
or project token). What Kargo writes into an Application becomes the API's own calls:

* labels, annotations and ``spec`` go through ``PATCH /applications/{name}`` as a merge
  patch (Argo CD's server takes exactly those from a patch);
* ``operation`` becomes ``POST /applications/{name}/sync`` with the operation's revisions,
  sync options, retry strategy and info entries, and Argo CD clears the last
  ``status.operationState`` itself, as Kargo's patch does;
* ``status`` is Argo CD's to write, so the rest of a patch is dropped, and so are Events
  (Argo CD records its own when a sync starts).

Differences that follow from the API: a sync is initiated by the token's account (Argo CD
ignores ``initiatedBy`` in requests), so sync windows apply to it as to a person; a write
is not conditional on the ``resourceVersion`` read (Argo CD re-reads the Application), and a
sync that finds another operation in progress is reported as a conflict, to be tried again.
Argo CD answers 403 for an Application that does not exist unless the project is named, so
reads pass no project and a 403 is reported as "missing or not permitted".
"""

import json
from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import quote

import httpx

from kargo_dagster.clients.argocd.applications import (
    DEFAULT_NAMESPACE,
    ApplicationConflictError,
    ApplicationNotFoundError,
    ArgoCDError,
)
from kargo_dagster.clients.deadlines import (
    DEFAULT_REQUEST_DEADLINE,
    DeadlineClient,
    RequestDeadlineExceeded,
)
from kargo_dagster.clients.retry_after import parse_retry_after
from kargo_dagster.redaction import ECHO_MASK, mask_secrets, redact_url

__all__ = ["RestArgoCDApplications"]

_IN_PROGRESS = "another operation is already in progress"


class RestArgoCDApplications:
    """Argo CD Applications through Argo CD's REST API.

    Args:
        url: Argo CD's API server (``https://argocd.example.com``).
        token: The bearer token; never logged or shown.
        default_namespace: Where Applications are when a step names no namespace.
        poll_interval: Seconds a waiting step lets pass before it looks again.
        request_timeout: Seconds allowed for each read of a request.
        request_deadline: Seconds each request may take in all.
        verify_tls: Verify the server's certificate (a CA bundle path, or False to skip).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        default_namespace: str = DEFAULT_NAMESPACE,
        poll_interval: float = 5.0,
        request_timeout: float = 10.0,
        request_deadline: float = DEFAULT_REQUEST_DEADLINE,
        verify_tls: bool | str = True,
    ) -> None:
        self.default_namespace = default_namespace
        self.poll_interval = poll_interval
        self.where = f"the Argo CD API at {redact_url(url)}"
        self._token = token
        self._client = DeadlineClient(
            deadline=request_deadline,
            base_url=url.rstrip("/") + "/api/v1/applications",
            headers={"Authorization": f"Bearer {token}"},
            timeout=request_timeout,
            verify=verify_tls,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the client's connections."""
        self._client.close()

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Application, or None when Argo CD says there is none (404, with a project).

        Raises:
            ApplicationNotFoundError: Argo CD answered 403: missing, or not permitted.
            ArgoCDError: Any other failure.
        """
        doing = f"get Argo CD Application {name!r} in namespace {namespace!r}"
        response = self._request(
            "GET", f"/{quote(name)}", doing, params={"appNamespace": namespace}
        )
        if response.status_code == 404:
            return None
        return self._json(response, doing, name=name)

    def list(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        """The Applications in ``namespace`` matching ``selector``, sorted by name."""
        doing = f"list Argo CD Applications matching {selector!r} in namespace {namespace!r}"
        params = {"appNamespace": namespace, "selector": selector}
        body = self._json(self._request("GET", "", doing, params=params), doing)
        items = body.get("items") or []
        return sorted(items, key=lambda app: str(app.get("metadata", {}).get("name", "")))

    def patch(self, namespace: str, name: str, patch: Mapping[str, Any]) -> dict[str, Any]:
        """Apply the parts of a merge patch Argo CD's API takes; start a sync for ``operation``."""
        written: dict[str, Any] | None = None
        metadata = {
            key: value
            for key, value in dict(patch.get("metadata") or {}).items()
            if key in ("labels", "annotations")
        }
        changes: dict[str, Any] = {"metadata": metadata} if metadata else {}
        if "spec" in patch:
            changes["spec"] = patch["spec"]
        if changes:
            doing = f"update Argo CD Application {name!r} in namespace {namespace!r}"
            body = {
                "name": name,
                "appNamespace": namespace,
                "patch": json.dumps(changes),
                "patchType": "merge",
            }
            response = self._request("PATCH", f"/{quote(name)}", doing, json_body=body)
            written = self._json(response, doing, name=name)
        operation = patch.get("operation")
        if isinstance(operation, Mapping):
            written = self._sync(namespace, name, operation)
        if written is None:
            found = self.get(namespace, name)
            if found is None:
                raise ApplicationNotFoundError(
                    f"Argo CD Application {name!r} in namespace {namespace!r} not found "
                    f"at {self.where}"
                )
            written = found
        return written

    def create_event(self, namespace: str, event: Mapping[str, Any]) -> None:
        """Nothing: Argo CD's API records its own Event when a sync starts."""

    def _sync(self, namespace: str, name: str, operation: Mapping[str, Any]) -> dict[str, Any]:
        doing = f"sync Argo CD Application {name!r} in namespace {namespace!r}"
        sync = dict(operation.get("sync") or {})
        body: dict[str, Any] = {"name": name, "appNamespace": namespace}
        if sync.get("revisions"):
            body["revisions"] = sync["revisions"]
            body["sourcePositions"] = [str(i + 1) for i in range(len(sync["revisions"]))]
        elif sync.get("revision"):
            body["revision"] = sync["revision"]
        if sync.get("prune"):
            body["prune"] = True
        if sync.get("syncOptions"):
            body["syncOptions"] = {"items": list(sync["syncOptions"])}
        if operation.get("retry"):
            body["retryStrategy"] = operation["retry"]
        if operation.get("info"):
            body["infos"] = list(operation["info"])
        response = self._request("POST", f"/{quote(name)}/sync", doing, json_body=body)
        if response.status_code == 400 and _IN_PROGRESS in response.text:
            raise ApplicationConflictError(f"cannot {doing} at {self.where}: {_IN_PROGRESS}")
        return self._json(response, doing, name=name)

    def _request(
        self,
        method: str,
        path: str,
        doing: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
    ) -> httpx.Response:
        try:
            return self._client.request(method, path, params=params, json=json_body)
        except RequestDeadlineExceeded as error:
            raise ArgoCDError(
                f"{self.where} was too slow to {doing}: {error}", retryable=True
            ) from None
        except httpx.HTTPError as error:
            raise ArgoCDError(
                f"cannot reach {self.where} to {doing}: {self._scrub(str(error))}",
                retryable=True,
            ) from None

    def _json(self, response: httpx.Response, doing: str, *, name: str = "") -> dict[str, Any]:
        status = response.status_code
        if status < 300:
            body = response.json()
            return body if isinstance(body, dict) else {}
        message = self._message(response)
        if status == 403 and name:
            raise ApplicationNotFoundError(
                f"cannot {doing} at {self.where}: the Application is missing or the token "
                f"may not change it (Argo CD answers 403 for both): {message}"
            )
        if status == 409:
            raise ApplicationConflictError(f"cannot {doing} at {self.where}: {message}")
        retryable = status >= 500 or status == 429
        raise ArgoCDError(
            f"cannot {doing} at {self.where}: Argo CD answered {status}: {message}",
            status=status,
            retryable=retryable,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def _message(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            body = {}
        text = (body.get("message") or body.get("error")) if isinstance(body, dict) else ""
        return self._scrub(str(text or response.reason_phrase or "no message"))

    def _scrub(self, text: str) -> str:
        return mask_secrets(text, [self._token], mask=ECHO_MASK)
