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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit


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


class ScriptedRegistry:
    """A scripted HTTP server; use it as a context manager.

    Attributes:
        host: ``127.0.0.1:<port>``.
        url: ``http://127.0.0.1:<port>``.
        requests: ``(method, path with query)`` of every request received, in order.
    """

    def __init__(self) -> None:
        self._answers: dict[str, ScriptedAnswer] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[tuple[str, str]] = []
        self.host = ""
        self.url = ""
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

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

    def start(self) -> "ScriptedRegistry":
        """Start serving on a free port."""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean

            def do_GET(self) -> None:
                owner._serve(self, "GET")

            def do_HEAD(self) -> None:
                owner._serve(self, "HEAD")

        self._stopping.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self.url = f"http://{self.host}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

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

    def stop(self) -> None:
        """Stop serving (slow answers in flight are abandoned)."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "ScriptedRegistry":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
