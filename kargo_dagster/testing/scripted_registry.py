"""A registry that answers what a test scripts: failures, odd payloads, slow answers, pages.

Real registries rarely fail on cue. :class:`ScriptedRegistry` is a small threaded HTTP server
on 127.0.0.1 whose answers are set per path (and optionally per query string): a status,
headers, a body and a delay. Unscripted paths get a distribution-style 404. Every request is
recorded.

Examples:
    >>> with ScriptedRegistry() as server:  # doctest: +SKIP
    ...     server.script("/v2/app/tags/list", status=429, headers={"Retry-After": "7"})
"""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from kargo_dagster.testing.loopback import KeepAliveHandler, LoopbackService


@dataclass(frozen=True)
class ScriptedAnswer:
    """What to answer for one path.

    Attributes:
        status: The HTTP status.
        body: The body (bytes as given; anything else JSON-encoded).
        headers: Extra headers.
        delay: Seconds to wait before answering (to make a client time out).
        drop: Close the connection without answering at all.
    """

    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False

    def payload(self) -> bytes:
        """The body as bytes."""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


class ScriptedRegistry(LoopbackService):
    """A scripted HTTP server; use it as a context manager.

    Attributes:
        host: ``127.0.0.1:<port>``.
        url: ``http://127.0.0.1:<port>``.
        requests: ``(method, path with query)`` of every request received, in order.
    """

    def __init__(self) -> None:
        self._answers: dict[str, ScriptedAnswer] = {}
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []

    def repo_url(self, repository: str) -> str:
        """The image reference of ``repository`` on this server."""
        return f"{self.host}/{repository}"

    def script(
        self,
        path: str,
        *,
        status: int = 200,
        body: Any = b"",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        drop: bool = False,
    ) -> None:
        """Answer requests for ``path`` (``/v2/app/tags/list``, or with ``?query``) so.

        A path with a query string is matched exactly; one without matches any query.
        """
        answer = ScriptedAnswer(status, body, dict(headers or {}), delay, drop)
        with self._lock:
            self._answers[path] = answer

    def _answer_for(self, target: str) -> ScriptedAnswer:
        with self._lock:
            found = self._answers.get(target) or self._answers.get(urlsplit(target).path)
        if found is not None:
            return found
        body = {"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known"}]}
        return ScriptedAnswer(status=404, body=body)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class Handler(KeepAliveHandler):
            def do_GET(self) -> None:
                owner._serve(self, "GET")

            def do_HEAD(self) -> None:
                owner._serve(self, "HEAD")

        return Handler

    def _serve(self, request: BaseHTTPRequestHandler, method: str) -> None:
        with self._lock:
            self.requests.append((method, request.path))
        answer = self._answer_for(request.path)
        if answer.delay and self._stopping.wait(answer.delay):
            return  # shutting down: drop the connection
        if answer.drop:
            request.close_connection = True
            return
        body = answer.payload()
        try:
            request.send_response(answer.status)
            headers = {k.lower(): v for k, v in answer.headers.items()}
            headers.setdefault("content-type", "application/json")
            headers["content-length"] = str(len(body))
            for key, value in headers.items():
                request.send_header(key, value)
            request.end_headers()
            if method != "HEAD":
                request.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)
