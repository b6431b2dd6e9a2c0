"""The loopback HTTP server and handler bases every fake server is built on."""

import http.client
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from kargo_dagster.testing.loopback import KeepAliveHandler, LoopbackServer, QuietHandler


def _say_hello(handler: BaseHTTPRequestHandler) -> None:
    body = f"hello from {handler.path}".encode()
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class _Hello(QuietHandler):
    def do_GET(self) -> None:
        _say_hello(self)


class _KeptAlive(KeepAliveHandler):
    def do_GET(self) -> None:
        _say_hello(self)


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_serves_the_handler_on_loopback_until_closed():
    server = LoopbackServer(_Hello)
    try:
        assert server.host == f"127.0.0.1:{server.port}"
        assert server.url == f"http://127.0.0.1:{server.port}"
        response = httpx.get(f"{server.url}/greeting")
        assert (response.status_code, response.text) == (200, "hello from /greeting")
    finally:
        server.close()
    assert _refused(server.port)
    server.close()  # a second close does nothing


def test_listens_on_the_port_it_is_given():
    probe = LoopbackServer(_Hello)
    port = probe.port
    probe.close()
    server = LoopbackServer(_Hello, port=port)
    try:
        assert server.url == f"http://127.0.0.1:{port}"
        assert httpx.get(server.url).status_code == 200
    finally:
        server.close()


def test_writes_no_access_log(capfd: pytest.CaptureFixture[str]):
    server = LoopbackServer(_Hello)
    try:
        httpx.get(server.url)
        httpx.get(f"{server.url}/missing", headers={"X": "y"})
    finally:
        server.close()
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize(
    ("handler", "version", "reused"), [(_Hello, 10, False), (_KeptAlive, 11, True)]
)
def test_only_keep_alive_handlers_keep_the_connection_open(
    handler: type[QuietHandler], version: int, reused: bool
):
    server = LoopbackServer(handler)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request("GET", "/one")
        first = connection.getresponse()
        assert first.read() == b"hello from /one"
        assert first.version == version
        sock = connection.sock  # None once the answer said the server closes it
        connection.request("GET", "/two")
        assert connection.getresponse().read() == b"hello from /two"
        assert (sock is not None and connection.sock is sock) is reused
    finally:
        connection.close()
        server.close()


def test_close_does_not_wait_for_answers_in_flight():
    entered, release = threading.Event(), threading.Event()

    class Stuck(QuietHandler):
        def do_GET(self) -> None:
            entered.set()
            release.wait(30)

    server = LoopbackServer(Stuck)
    client = threading.Thread(target=_get_ignoring_errors, args=(server.url,), daemon=True)
    client.start()
    try:
        assert entered.wait(5)
        started = time.monotonic()
        server.close()
        assert time.monotonic() - started < 5
        assert _refused(server.port)
    finally:
        release.set()
        client.join(5)


def _get_ignoring_errors(url: str) -> None:
    try:
        httpx.get(url, timeout=10)
    except httpx.HTTPError:
        pass  # the stuck handler answers nothing
