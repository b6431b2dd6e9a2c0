"""The HTTP side of the fake Kubernetes API server: requests in, JSON, text or streams out.

:func:`handler_class` builds the request handler the server's
:class:`~kargo_dagster.testing.loopback.LoopbackServer` runs. It decodes each request's
JSON body (``400`` when it is not JSON), passes it to the server's answer function, records
it as a :class:`KubeRequest`, and writes the answer: a JSON body with the API server's
``Warning`` headers, plain text for pod logs, or a chunked stream for a followed log.
"""

import json
import socket
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from kargo_dagster.testing.kube_errors import KubeAPIError, bad_request
from kargo_dagster.testing.kube_pod_logs import LogFollow
from kargo_dagster.testing.loopback import QuietHandler

__all__ = ["Answer", "KubeRequest", "handler_class"]

Answer = tuple[int, Any, list[str]]
"""A request's answer: the HTTP status, the JSON body (or log text, or a
:class:`~kargo_dagster.testing.kube_pod_logs.LogFollow`), and the warnings to send."""


class KubeRequest(NamedTuple):
    """One request the server received.

    Attributes:
        method: ``GET``, ``POST``, ``PUT``, ``PATCH`` or ``DELETE``.
        path: The URL path.
        query: The raw query string.
        content_type: The request's ``Content-Type`` (``""`` when it has no body).
        body: The decoded JSON body, or None.
        status: The HTTP status answered.
    """

    method: str
    path: str
    query: str = ""
    content_type: str = ""
    body: Any = None
    status: int = 0


def handler_class(
    answer: Callable[[str, str, Mapping[str, list[str]], Any, str], Answer],
    record: Callable[[KubeRequest], None],
    follow: Callable[[LogFollow, Callable[[bytes], None]], None],
) -> type[BaseHTTPRequestHandler]:
    """A request handler class serving the fake API server.

    Args:
        answer: Answers one request, from its method, URL path, parsed query, decoded
            body and ``Content-Type``; raises ``KubeAPIError`` to refuse it.
        record: Keeps the record of each request once it is answered.
        follow: Streams a followed pod log through the write function it is given.
    """

    class Handler(QuietHandler):
        def _serve(self, method: str) -> None:
            url = urlsplit(self.path)
            content_type = self.headers.get("Content-Type", "") or ""
            raw = self.read_body()
            body: Any = None
            warnings: list[str] = []
            try:
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError as error:
                        raise bad_request(f"the request body is not JSON: {error}") from None
                code, reply, warnings = answer(
                    method, url.path, parse_qs(url.query), body, content_type
                )
            except KubeAPIError as error:
                code, reply = error.code, error.status
            record(
                KubeRequest(method, url.path, url.query, content_type if raw else "", body, code)
            )
            if isinstance(reply, LogFollow):
                self._stream(reply)
                return
            if isinstance(reply, str):
                payload, media = reply.encode(), "text/plain"
            else:
                payload, media = json.dumps(reply).encode(), "application/json"
            headers = [("Content-Type", media)]
            headers += [("Warning", f"299 - {json.dumps(warning)}") for warning in warnings]
            self.reply(code, payload, headers)

        def _stream(self, stream: LogFollow) -> None:
            # Chunked encoding needs an HTTP/1.1 status line; the connection still
            # closes after this response, as every other one does.
            self.protocol_version = "HTTP/1.1"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Connection", "close")
            self.end_headers()
            # Each chunk is one write; without Nagle it leaves at once, so a follower
            # sees a line as soon as the process printed it.
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def write(data: bytes) -> None:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

            try:
                follow(stream, write)
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client stopped following

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler
