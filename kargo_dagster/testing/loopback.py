"""The HTTP server under every fake in this package: one handler class served on loopback.

:class:`LoopbackServer` binds ``127.0.0.1`` (a given port, or any free one), answers each
request on its own daemon thread, optionally over TLS, and stops at once on
:meth:`LoopbackServer.close`. :class:`LoopbackService` is the base of the fakes themselves:
``start``/``stop``, the ``with`` statement and the server's address, written once.
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

import ssl
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Self

__all__ = ["KeepAliveHandler", "LoopbackServer", "LoopbackService", "QuietHandler"]

_LOOPBACK = "127.0.0.1"


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that writes no access log.

    The standard handler logs every request to stderr, which buries test failures; the
    fakes record what they received in attributes that tests read instead. It speaks the
    standard handler's HTTP/1.0: one request per connection.
    """

    def log_message(self, format: str, *args: Any) -> None:
        """Log nothing (see the class docstring)."""

    def read_body(self) -> bytes:
        """The request's body, as long as its ``Content-Length`` says (none: empty)."""
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Send a whole answer: ``status``, ``headers`` (a name may repeat), the body's
        ``Content-Length`` and ``body``."""
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


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
        certificate: ``(cert.pem, key.pem)`` to speak HTTPS with; ``None``: plain HTTP.

    Attributes:
        port: The port the server listens on (the free one picked, for port 0).
        host: ``127.0.0.1:<port>``.
        url: ``http://127.0.0.1:<port>`` (``https://`` with a certificate).
    """

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        *,
        port: int = 0,
        name: str | None = None,
        poll_interval: float = 0.05,
        certificate: tuple[Path, Path] | None = None,
    ) -> None:
        self._server = ThreadingHTTPServer((_LOOPBACK, port), handler)
        self._server.daemon_threads = True
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port: int = self._server.server_address[1]
        self.host = f"{_LOOPBACK}:{self.port}"
        self.url = f"{'https' if certificate else 'http'}://{self.host}"
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


class LoopbackService:
    """The start, stop and ``with`` of a fake answered by a :class:`LoopbackServer`.

    A fake says how it answers in :meth:`_handler`; this base serves that handler on
    ``127.0.0.1`` from :meth:`start` (or ``with``) to :meth:`stop`, and gives its address.
    A fake with more to set up or tear down extends :meth:`start` and :meth:`stop`. The
    address stays readable after :meth:`stop`, for messages that name the server; a
    ``start`` after a ``stop`` serves again, on a new port unless one was asked for.

    Subclasses may set ``_thread_name`` and ``_poll_interval`` (see :class:`LoopbackServer`),
    ``_listen_port`` for a fixed port, and ``_certificate`` to speak HTTPS. While a slow
    answer waits, ``self._stopping.wait(seconds)`` ends the wait when the server stops.
    """

    _thread_name: ClassVar[str | None] = None
    _poll_interval: ClassVar[float] = 0.05
    _listen_port: int = 0
    _certificate: tuple[Path, Path] | None = None
    _loopback: LoopbackServer | None = None
    _stopping: threading.Event

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        """The request handler class to serve; a subclass must say."""
        raise NotImplementedError

    def start(self) -> Self:
        """Start serving; the server answers when this returns (``with`` calls this)."""
        self._stopping = threading.Event()
        self._loopback = LoopbackServer(
            self._handler(),
            port=self._listen_port,
            name=self._thread_name,
            poll_interval=self._poll_interval,
            certificate=self._certificate,
        )
        return self

    def stop(self) -> None:
        """Stop serving and release the port; answers still waiting are abandoned."""
        if self._loopback is not None:
            self._stopping.set()
            self._loopback.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port served on (or last served on); before a start, the one asked for."""
        return self._loopback.port if self._loopback is not None else self._listen_port

    @property
    def host(self) -> str:
        """``127.0.0.1:<port>``."""
        return self._served().host

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>`` (``https://`` when serving TLS)."""
        return self._served().url

    def _served(self) -> LoopbackServer:
        assert self._loopback is not None, "the server was never started"
        return self._loopback
