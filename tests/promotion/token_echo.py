"""A server on loopback that says back what each request sent: its Authorization header and
body, as JSON ``{"youSent": {"authorization": ..., "body": ...}}``, the way a server that
echoes requests puts a token into its answer."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

from kargo_dagster.testing.loopback import LoopbackServer, QuietHandler


class TokenEcho(QuietHandler):
    """Answers every GET and POST with what it was sent; records it in :attr:`received`."""

    received: ClassVar[list[dict[str, str]]] = []

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        seen = {
            "authorization": self.headers.get("Authorization", ""),
            "body": self.rfile.read(length).decode(),
        }
        self.received.append(seen)
        payload = json.dumps({"youSent": seen}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_POST = do_GET


@contextmanager
def echo_server() -> Iterator[LoopbackServer]:
    """The echo server, with :attr:`TokenEcho.received` emptied first."""
    TokenEcho.received = []
    server = LoopbackServer(TokenEcho)
    try:
        yield server
    finally:
        server.close()
