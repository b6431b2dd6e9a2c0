"""The webhook receiver: an ASGI application serving every configured receiver.

A request to a receiver's path is checked and read by its provider
(:mod:`kargo_dagster.webhooks`); the Warehouses it concerns (in the receiver's Project, or in
every Project for a ClusterConfig receiver) are found in the subscription index and refreshed
in the background (:class:`~kargo_dagster.defs.refresh_queue.RefreshQueue`),
and the sender gets Kargo's answer at once. A refused request (unsigned, forged, unreadable)
is answered with Kargo's status, logged with the receiver's name and the reason, and starts
nothing. Receiver paths are never logged: for Docker Hub, Quay, Azure and generic receivers
the path is the secret.
"""

import json
import logging
import socket
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from kargo_dagster.defs.refresh import refresh_warehouses
from kargo_dagster.defs.refresh_queue import RefreshQueue
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.errors import WebhookRefusedError
from kargo_dagster.redaction import mask_secrets, redact_text
from kargo_dagster.spec import Catalog
from kargo_dagster.webhooks.generic import run_actions
from kargo_dagster.webhooks.inbound import (
    MAX_BODY_BYTES,
    Acknowledged,
    GenericActions,
    InboundRequest,
    RefreshRequest,
)
from kargo_dagster.webhooks.receivers import Receiver
from kargo_dagster.webhooks.targets import SubscriptionIndex, WarehouseRef

__all__ = [
    "ReceiverService",
    "bound_socket",
    "build_receiver_app",
    "refresh_queue",
    "running_receiver",
    "server_for",
]

_log = logging.getLogger("kargo_dagster.webhooks")


@dataclass(frozen=True)
class ReceiverService:
    """What the receiver application serves and how it refreshes.

    Attributes:
        receivers: The receivers, by URL path.
        catalog: The manifests.
        index: The Warehouses by subscribed URL.
        queue: Where refreshes run.
    """

    receivers: Mapping[str, Receiver]
    catalog: Catalog
    index: SubscriptionIndex
    queue: RefreshQueue


def refresh_queue(
    instance: dg.DagsterInstance, kargo: KargoResource, catalog: Catalog
) -> RefreshQueue:
    """A queue refreshing Warehouses of ``catalog`` into ``instance``, logging each outcome."""

    def refresh(project: str, warehouse: str) -> None:
        [result] = refresh_warehouses(instance, kargo, catalog.projects[project], [warehouse])
        level = logging.ERROR if result.failed else logging.INFO
        _log.log(level, "Warehouse %s/%s: %s", project, warehouse, result.message)

    return RefreshQueue(refresh)


def build_receiver_app(service: ReceiverService) -> Starlette:
    """The ASGI application: ``/healthz`` and every receiver's path."""

    async def healthz(request: Request) -> Response:
        return Response(status_code=200)

    async def receive(request: Request) -> Response:
        receiver = service.receivers.get(request.url.path)
        if receiver is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return _refused(receiver, WebhookRefusedError(413, _too_large()))
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                return _refused(receiver, WebhookRefusedError(413, _too_large()))
        header_lists = _header_lists(request)
        inbound = InboundRequest(
            headers={name: values[0] for name, values in header_lists.items()},
            body=body,
            # The first value of each, as Go's Query().Get gives it.
            query={name: request.query_params.getlist(name)[0] for name in request.query_params},
            header_lists=header_lists,
        )
        try:
            outcome = receiver.provider.handle(inbound, receiver.secret, receiver.config.details)
        except WebhookRefusedError as error:
            return _refused(receiver, error)
        return _answer(service, receiver, outcome)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/{path:path}", receive, methods=["GET", "POST", "PUT"]),
    ]
    return Starlette(routes=routes)


def _too_large() -> str:
    return f"content exceeds limit of {MAX_BODY_BYTES} bytes"


def _header_lists(request: Request) -> dict[str, tuple[str, ...]]:
    lists: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        lists.setdefault(name.lower(), []).append(value)
    return {name: tuple(values) for name, values in lists.items()}


def _shown(receiver: Receiver, text: str) -> str:
    # What is logged or answered never holds the secret nor the path derived from it, in
    # any encoding, whatever a payload or a configured expression put into the text.
    digest = receiver.path.rsplit("/", 1)[-1]
    return mask_secrets(redact_text(text), (receiver.secret, digest))


def _log_for(receiver: Receiver, level: int, message: str) -> None:
    who = f"webhook receiver {receiver.label}"
    _log.log(level, "%s", _shown(receiver, f"{who} {message}"))


def _json(receiver: Receiver, body: dict[str, Any], status: int = 200) -> Response:
    text = _shown(receiver, json.dumps(body))
    return Response(text, status_code=status, media_type="application/json")


def _refused(receiver: Receiver, error: WebhookRefusedError) -> Response:
    _log_for(receiver, logging.WARNING, f"refused a request: {error.status} {error}")
    return _json(receiver, {"error": str(error)}, error.status)


def _answer(
    service: ReceiverService,
    receiver: Receiver,
    outcome: RefreshRequest | Acknowledged | GenericActions,
) -> Response:
    if isinstance(outcome, Acknowledged):
        _log_for(receiver, logging.INFO, f"answered: {outcome.message}")
        return _json(receiver, {"msg": outcome.message})
    if isinstance(outcome, RefreshRequest):
        targets = service.index.targets_for(receiver.project, outcome)
        repositories = ", ".join(outcome.repo_urls) or "no repository"
        versions = ", ".join(outcome.qualifiers) or "any version"
        message = (
            f"{outcome.event} event for {repositories} ({versions}): "
            f"refreshing {_listed(receiver, targets)}"
        )
        _log_for(receiver, logging.INFO, message)
        _submit(service.queue, targets)
        return _json(receiver, {"msg": f"refreshed {len(targets)} warehouse(s)"})
    generic = receiver.config.generic
    assert generic is not None  # only generic receivers produce GenericActions
    projects = service.catalog.projects
    scope = projects.values() if receiver.project is None else [projects[receiver.project]]
    results = run_actions(generic, outcome.variables, scope, service.index)
    targets = sorted({target for result in results for target in result.targets})
    _log_for(receiver, logging.INFO, f"refreshing {_listed(receiver, targets)}")
    _submit(service.queue, targets)
    failed = any(r.result in ("Error", "Failure", "PartialSuccess") for r in results)
    body = {"results": [r.to_json() for r in results]}
    return _json(receiver, body, 500 if failed else 200)


def _listed(receiver: Receiver, targets: list[WarehouseRef]) -> str:
    # A Project's receiver names its own Warehouses; a ClusterConfig one says whose they are.
    if receiver.project is None:
        names = [f"{project}/{name}" for project, name in targets]
    else:
        names = [name for _, name in targets]
    return ", ".join(names) or "no Warehouse"


def _submit(queue: RefreshQueue, targets: Iterable[WarehouseRef]) -> None:
    for project, name in targets:
        queue.submit(project, [name])


def bound_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    return sock


def server_for(app: Starlette) -> uvicorn.Server:
    """A uvicorn server for ``app`` without an access log (paths may be secrets)."""
    config = uvicorn.Config(app, access_log=False, log_config=None, lifespan="off")
    return uvicorn.Server(config)


@contextmanager
def running_receiver(app: Starlette, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``app`` on a background thread; yields its base URL, stops on exit."""
    sock = bound_socket(host, port)
    server = server_for(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started and thread.is_alive():
            threading.Event().wait(0.01)
        bound = sock.getsockname()
        yield f"http://{host}:{bound[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
