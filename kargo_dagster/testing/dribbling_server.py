"""A server that answers every request one byte at a time, for as long as it is let.

A read timeout does not stop a server that keeps sending: each read gets its byte in time.
:class:`DribblingServer` is such a server, to prove that a client's total deadline ends the
request. It answers any method and path with ``200`` and a JSON content type, and dribbles
either the body (after complete headers that promise a large one) or the status line and
headers themselves, one byte every ``interval`` seconds, until ``duration`` has passed or the
server is closed.

Examples:
    >>> with DribblingServer(interval=0.5) as server:  # doctest: +SKIP
    ...     httpx.get(server.url + "/index.yaml", timeout=2)  # never times out by itself
"""

import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Literal, Self

from kargo_dagster.testing.loopback import LoopbackService, QuietHandler

__all__ = ["DribblingServer"]

# What the body promises: far more than it will ever send.
_PROMISED_LENGTH = 1 << 30


class DribblingServer(LoopbackService):
    """Dribbles every answer; use it as a context manager.

    Args:
        interval: Seconds between two bytes.
        duration: Seconds after which a request's dribble stops (the answer stays short).
        phase: ``body`` dribbles the body after complete headers; ``headers`` dribbles the
            status line and the headers.

    Attributes:
        url: ``http://127.0.0.1:<port>``.
        host: ``127.0.0.1:<port>``.
        requests: ``(method, path)`` of every request received, in order.
    """

    _thread_name = "dribbling-server"

    def __init__(
        self,
        *,
        interval: float = 0.5,
        duration: float = 60.0,
        phase: Literal["body", "headers"] = "body",
    ) -> None:
        self.interval = interval
        self.duration = duration
        self.phase = phase
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self.start()

    def __enter__(self) -> Self:
        return self  # serving since it was made

    def close(self) -> None:
        """Stop serving; dribbles in flight stop at their next byte."""
        self.stop()

    def _dribble(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests.append((handler.command, handler.path))
        if self.phase == "body":
            handler.wfile.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {_PROMISED_LENGTH}\r\n\r\n".encode()
            )
            start, filler = b"{", b" "
        else:
            # A header whose value never ends within the duration.
            start, filler = b"HTTP/1.1 200 OK\r\nX-Padding: ", b"."
        ends = time.monotonic() + self.duration
        sending = start
        while time.monotonic() < ends and not self._stopping.is_set():
            try:
                handler.wfile.write(sending[:1])
                handler.wfile.flush()
            except OSError:
                return  # the client gave up, as it should
            sending = sending[1:] or filler
            self._stopping.wait(self.interval)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(QuietHandler):
            def _answer(self) -> None:
                self.read_body()
                server._dribble(self)
                self.close_connection = True

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        return Handler
