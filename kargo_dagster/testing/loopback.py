"""The HTTP server under every fake in this package: one handler class served on loopback.

:class:`LoopbackServer` binds ``127.0.0.1`` (a given port, or any free one), answers each
request on its own daemon thread, and stops at once on :meth:`LoopbackServer.close`.
:class:`QuietHandler` is the request handler base that keeps the standard library's access
log out of test output; :class:`KeepAliveHandler` adds HTTP/1.1 persistent connections for
fakes whose clients reuse them, as clients of real registries do.

Examples:
    >>> class Hello(QuietHandler):  # doctest: +SKIP
    ...     def do_GET(self) -> None:
    ...         self.send_response(204)
    ...         self.end_headers()
    >>> server = LoopbackServer(Hello)  # doctest: +SKIP
    >>> httpx.get(server.url).status_code  # doctest: +SKIP
    204
    >>> server.close()  # doctest: +SKIP
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["KeepAliveHandler", "LoopbackServer", "QuietHandler"]

_LOOPBACK = "127.0.0.1"


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that writes no access log.

    The standard handler logs every request to stderr, which buries test failures; the
    fakes record what they received in attributes that tests read instead. It speaks the
    standard handler's HTTP/1.0: one request per connection.
    """

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing (see the class docstring)."""


class KeepAliveHandler(QuietHandler):
    """A :class:`QuietHandler` that keeps connections open between requests (HTTP/1.1).

    Every answer must then carry ``Content-Length``. Nagle's algorithm is off because the
    handler writes the headers and the body separately: with it on, the body would wait for
    the client to acknowledge the headers, which it may delay by tens of milliseconds.
    """

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True


class LoopbackServer:
    """Serves ``handler`` on ``127.0.0.1`` from a daemon thread until :meth:`close`.

    The server is listening and serving when the constructor returns. Each request runs on
    its own daemon thread, so a request still in flight never keeps the process alive.

    The serving loop checks for a stop request every ``poll_interval`` seconds, and
    :meth:`close` waits for that check. The standard library's half a second would add up
    over the hundreds of servers a test suite starts and stops; a few hundredths of a second
    make closing immediate while the idle loop stays cheap.

    Args:
        handler: The request handler class.
        port: The port to listen on; 0 picks a free one.
        name: The serving thread's name (``None``: a generic one).
        poll_interval: Seconds between the serving loop's checks for :meth:`close`.

    Attributes:
        port: The port the server listens on (the free one picked, for port 0).
        host: ``127.0.0.1:<port>``.
        url: ``http://127.0.0.1:<port>``.
    """

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        *,
        port: int = 0,
        name: str | None = None,
        poll_interval: float = 0.05,
    ) -> None:
        self._server = ThreadingHTTPServer((_LOOPBACK, port), handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.host = f"{_LOOPBACK}:{self.port}"
        self.url = f"http://{self.host}"
        self._closed = False
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": poll_interval},
            name=name,
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        """Stop serving, release the port and wait for the serving thread; again: nothing.

        Requests still being answered are not waited for: their threads are daemons.
        """
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
