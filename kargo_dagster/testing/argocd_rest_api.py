"""Argo CD's REST API for tests, in front of the fake Kubernetes API's Applications.

It answers the calls :class:`~kargo_dagster.clients.argocd.rest_api.RestArgoCDApplications`
makes, with the shapes of Argo CD v3.5's grpc-gateway: ``GET /api/v1/applications/{name}``
and ``GET /api/v1/applications?selector=`` (both with ``appNamespace``), ``PATCH
/api/v1/applications/{name}`` with ``{patch: "<JSON string>", patchType: "merge"}`` (only
labels, annotations and spec change, as Argo CD's server keeps the rest), and ``POST
/api/v1/applications/{name}/sync``, which refuses while an operation is set (400 "another
operation is already in progress") and otherwise writes ``.operation`` and clears
``status.operationState`` as Argo CD's ``SetAppOperation`` does. Requests need ``Authorization:
Bearer <token>`` (401 otherwise); errors are ``{error, code, message}`` bodies with gRPC codes.
A missing Application is 403 unless ``project`` is given, as Argo CD answers.

The Applications live in the :class:`~kargo_dagster.testing.kube_api.FakeKubeAPI` given, so
an :class:`~kargo_dagster.testing.argocd_sim.ArgoCDSimulator` on the same fake drives them.

Examples:
    >>> with FakeKubeAPI() as kube, ArgoCDRestAPI(kube, token="t") as api:  # doctest: +SKIP
    ...     api.url
"""

import json
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.testing.kube_store import KubeAPIError
from kargo_dagster.testing.loopback import LoopbackService, QuietHandler

__all__ = ["ArgoCDRestAPI"]

_APPS = "/api/v1/applications"
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 500: 13}
_MERGE_PATCH = "application/merge-patch+json"


class ArgoCDRestAPI(LoopbackService):
    """The fake REST API; a context manager that serves on 127.0.0.1.

    Args:
        kube: Where the Applications are.
        token: The bearer token the API accepts.
        username: Who the token belongs to (the ``initiatedBy`` of syncs it starts).

    Attributes:
        requests: ``(method, path)`` of every request, for assertions.
    """

    _thread_name = "argocd-rest-api"

    def __init__(self, kube: FakeKubeAPI, *, token: str, username: str = "kargo") -> None:
        self.kube = kube
        self.token = token
        self.username = username
        self.requests: list[tuple[str, str]] = []

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # Requests ------------------------------------------------------------------------------

    def handle(self, method: str, target: str, headers: Any, body: bytes) -> tuple[int, Any]:
        """Answer one request: its status and JSON body."""
        url = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        self.requests.append((method, url.path))
        if headers.get("Authorization") != f"Bearer {self.token}":
            return _error(401, "no session information")
        rtype = self.kube.resource("argoproj.io/v1alpha1", "Application")
        namespace = query.get("appNamespace") or "argocd"
        parts = [unquote(p) for p in url.path.removeprefix(_APPS).split("/") if p]
        store = self.kube.store
        try:
            if method == "GET" and not parts:
                items = store.list_objects(
                    rtype, namespace, label_selector=query.get("selector", "")
                )
                return 200, {"metadata": {}, "items": items}
            if not parts:
                return _error(404, "Not Found")
            name = parts[0]
            app = store.find(rtype, namespace, name)
            if app is None:
                if query.get("project"):
                    return _error(404, f'applications.argoproj.io "{name}" not found')
                return _error(403, "permission denied")
            if method == "GET" and len(parts) == 1:
                return 200, app
            if method == "PATCH" and len(parts) == 1:
                request = json.loads(body or b"{}")
                if request.get("patchType", "json") != "merge":
                    return _error(400, "only merge patches are served here")
                patch = json.loads(request.get("patch") or "{}")
                # Argo CD's server takes labels, annotations and spec from the patched
                # object and writes them onto the live one; nothing else changes.
                kept = {key: patch[key] for key in ("spec",) if key in patch}
                metadata = {
                    key: patch["metadata"][key]
                    for key in ("labels", "annotations")
                    if key in patch.get("metadata", {})
                }
                if metadata:
                    kept["metadata"] = metadata
                return 200, store.patch(rtype, namespace, name, kept, _MERGE_PATCH)
            if method == "POST" and parts[1:] == ["sync"]:
                return self._sync(rtype, namespace, name, app, json.loads(body or b"{}"))
        except KubeAPIError as error:
            return _error(error.code, str(error.status.get("message", error)))
        except ValueError as error:
            return _error(400, f"invalid request: {error}")
        return _error(404, "Not Found")

    def _sync(
        self, rtype: Any, namespace: str, name: str, app: dict[str, Any], request: dict[str, Any]
    ) -> tuple[int, Any]:
        if app.get("operation"):
            return _error(400, "another operation is already in progress")
        sync: dict[str, Any] = {}
        for key in ("revision", "revisions", "prune", "dryRun"):
            if request.get(key):
                sync[key] = request[key]
        if request.get("syncOptions", {}).get("items"):
            sync["syncOptions"] = request["syncOptions"]["items"]
        operation: dict[str, Any] = {
            "sync": sync,
            "initiatedBy": {"username": self.username},
        }
        if request.get("infos"):
            operation["info"] = request["infos"]
        if request.get("retryStrategy"):
            operation["retry"] = request["retryStrategy"]
        patch = {"operation": operation, "status": {"operationState": None}}
        return 200, self.kube.store.patch(rtype, namespace, name, patch, _MERGE_PATCH)


def _error(status: int, message: str) -> tuple[int, Any]:
    return status, {"error": message, "code": _GRPC_CODES.get(status, 2), "message": message}


def _handler_for(api: ArgoCDRestAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def _answer(self) -> None:
            status, payload = api.handle(self.command, self.path, self.headers, self.read_body())
            self.reply(
                status if status in HTTPStatus._value2member_map_ else 500,
                json.dumps(payload).encode(),
                [("Content-Type", "application/json")],
            )

        do_GET = do_PATCH = do_POST = _answer

    return Handler
