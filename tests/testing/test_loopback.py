"""The loopback HTTP server, service and handler bases every fake server is built on."""

import http.client
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest

from kargo_dagster.testing.loopback import (
    KeepAliveHandler,
    LoopbackServer,
    LoopbackService,
    QuietHandler,
)
from kargo_dagster.testing.tls_certificate import self_signed_certificate
from tests.hang_alarm import hang_alarm


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
        # The handler holds its answer for half a minute: a close still going after half
        # of that waited for it.
        with hang_alarm(15, "closing the server"):
            server.close()
        assert _refused(server.port)
    finally:
        release.set()
        client.join(5)


def _get_ignoring_errors(url: str) -> None:
    try:
        httpx.get(url, timeout=10)
    except httpx.HTTPError:
        pass  # the stuck handler answers nothing


class _Greeter(LoopbackService):
    """The smallest fake: says hello, and waits when told to, until it stops."""

    _thread_name = "greeter"

    def __init__(self, *, port: int = 0, delay: float = 0.0) -> None:
        self._listen_port = port
        self.delay = delay
        self.held, self.cut_short = threading.Event(), threading.Event()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                fake.held.set()
                if fake.delay and fake._stopping.wait(fake.delay):
                    fake.cut_short.set()
                    return
                _say_hello(self)

        return Handler


def test_a_service_serves_from_start_to_stop_and_keeps_its_address():
    greeter = _Greeter()
    with greeter as running:
        assert running is greeter
        assert greeter.host == f"127.0.0.1:{greeter.port}"
        assert greeter.url == f"http://{greeter.host}"
        assert httpx.get(f"{greeter.url}/x").text == "hello from /x"
    assert _refused(greeter.port)
    assert greeter.url == f"http://127.0.0.1:{greeter.port}"  # still names the server
    greeter.stop()  # a second stop does nothing


def test_a_service_has_no_address_before_it_starts():
    greeter = _Greeter()
    assert greeter.port == 0
    with pytest.raises(AssertionError, match="never started"):
        _ = greeter.url


def test_a_service_listens_on_the_port_it_asks_for_and_can_start_again():
    probe = LoopbackServer(_Hello)
    port = probe.port
    probe.close()
    greeter = _Greeter(port=port)
    assert greeter.port == port
    for _ in range(2):
        with greeter:
            assert httpx.get(f"http://127.0.0.1:{port}/again").text == "hello from /again"
        assert _refused(port)


def test_stopping_a_service_ends_the_answers_it_holds_back():
    greeter = _Greeter(delay=30)
    with greeter:
        client = threading.Thread(target=_get_ignoring_errors, args=(greeter.url,), daemon=True)
        client.start()
        assert greeter.held.wait(5)
    # Set only when stopping ended the held answer's wait, well before its 30 s.
    assert greeter.cut_short.wait(5)
    client.join(5)


def test_serves_https_with_the_certificate_given(tmp_path: Path):
    cert, key = self_signed_certificate(tmp_path)
    server = LoopbackServer(_Hello, certificate=(cert, key))
    try:
        assert server.url == f"https://127.0.0.1:{server.port}"
        response = httpx.get(f"{server.url}/secure", verify=ssl.create_default_context(cafile=cert))
        assert (response.status_code, response.text) == (200, "hello from /secure")
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{server.url}/secure")  # a certificate nobody else trusts
    finally:
        server.close()
