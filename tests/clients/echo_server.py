"""A server that answers every authenticated request with an error echoing what it was sent.

Some servers put the request into their error messages: the ``Authorization`` header, the
query, the password they decoded from a Basic header, even re-encoded into a URL. The echo
server does all of that, in the shape each client reads an error from:

- ``/v2/...`` (an OCI registry): a ``401`` challenge (``Basic``, or ``Bearer`` with
  ``/token`` as the token service, which hands out :data:`ISSUED_TOKEN` for Basic
  credentials), then the echo as a distribution-style error;
- ``/<repo>.git/info/refs`` (git's smart HTTP): a ``401`` Basic challenge, then the echo in
  an ``ERR`` packet, which git prints as ``fatal: remote error: ...``;
- anything else (provider and Argo CD APIs): the echo as ``{"message": ...}``.

It also holds the credentials the tests send, and the forms of them no message may show.
"""

import base64
import json
import threading
from urllib.parse import quote, quote_plus, urlsplit

from kargo_dagster.testing.loopback import LoopbackService, QuietHandler

ISSUED_TOKEN = "issued-registry-token-0123456789"

USERNAME = "robot"
# A space, "/", "+" and "=" and a non-ASCII letter: every encoding differs from the others.
PASSWORD = "pa ss/wörd+=1"
# Header values are ASCII.
TOKEN = "tok en/+=-0123"


def encodings(secret: str) -> list[str]:
    """``secret`` as it is sent, percent-encoded and form-encoded."""
    return [secret, quote(secret, safe=""), quote(secret), quote_plus(secret)]


def basic(username: str, password: str) -> list[str]:
    """The base64 of ``username:password``, padded and not."""
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
    return [encoded, encoded.rstrip("=")]


CREDENTIAL_FORMS = encodings(PASSWORD) + basic(USERNAME, PASSWORD)


def echo_of(authorization: str, private_token: str, query: str) -> str:
    """What the server says back: the credentials it got, raw and re-encoded."""
    scheme, _, credentials = authorization.partition(" ")
    echoed = [f"Authorization: {authorization}", f"credentials: {credentials.rstrip('=')}"]
    if private_token:
        echoed.append(f"PRIVATE-TOKEN: {private_token}")
    secret = credentials or private_token
    if scheme.lower() == "basic":
        secret = base64.b64decode(credentials).decode().partition(":")[2]
    echoed += [
        f"try /login?secret={quote_plus(secret)}",
        f"or /login/{quote(secret, safe='')}",
        f"or /login/{quote(secret)}",
        f"query: {query}",
    ]
    return "; ".join(echoed)


class EchoServer(LoopbackService):
    """The echo server on loopback; a context manager.

    Args:
        challenge: What a registry request without credentials is answered with:
            ``basic`` or ``bearer``.
        token_fails: Whether the token service answers with the echo instead of a token.
        status: The status of the echoing answers.

    Attributes:
        url: ``http://127.0.0.1:<port>``.
        host: ``127.0.0.1:<port>``.
        received: The ``Authorization`` (or ``PRIVATE-TOKEN``) value of every request that
            carried one, so tests can tell the echo held the secret.
    """

    def __init__(self, *, challenge: str = "basic", token_fails: bool = False, status: int = 403):
        self.challenge = challenge
        self.token_fails = token_fails
        self.status = status
        self.received: list[str] = []
        self._lock = threading.Lock()

    def _handler(self) -> type[QuietHandler]:
        server = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                server.answer(self)

            do_HEAD = do_POST = do_PATCH = do_GET

        return Handler

    def answer(self, request: QuietHandler) -> None:
        """Answer one request (on the request's thread)."""
        # Read what was sent, so that the answer is not cut short by a reset connection.
        request.rfile.read(int(request.headers.get("Content-Length") or 0))
        authorization = request.headers.get("Authorization", "")
        private_token = request.headers.get("PRIVATE-TOKEN", "")
        if authorization or private_token:
            with self._lock:
                self.received.append(authorization or private_token)
        parts = urlsplit(request.path)
        echo = echo_of(authorization, private_token, parts.query)
        if parts.path == "/token":
            self._token(request, authorization, echo)
        elif parts.path.startswith("/v2/"):
            self._registry(request, authorization, echo)
        elif parts.path.endswith("/info/refs"):
            self._git(request, authorization, echo)
        else:
            _send(request, self.status, json.dumps({"message": echo}).encode())

    def _token(self, request: QuietHandler, authorization: str, echo: str) -> None:
        if not authorization.startswith("Basic "):
            _send(request, 401, b"{}")
        elif self.token_fails:
            _send(request, 500, _distribution_error(echo))
        else:
            _send(request, 200, json.dumps({"token": ISSUED_TOKEN}).encode())

    def _registry(self, request: QuietHandler, authorization: str, echo: str) -> None:
        expected = "Bearer " if self.challenge == "bearer" else "Basic "
        if authorization.startswith(expected):
            _send(request, self.status, _distribution_error(echo))
            return
        if self.challenge == "bearer":
            host = request.headers.get("Host", "")
            challenge = f'Bearer realm="http://{host}/token",service="echo"'
        else:
            challenge = 'Basic realm="echo"'
        _send(request, 401, _distribution_error("authentication required"), challenge)

    def _git(self, request: QuietHandler, authorization: str, echo: str) -> None:
        if not authorization:
            _send(request, 401, b"", 'Basic realm="echo"')
            return
        advertisement = (
            _pkt_line("# service=git-upload-pack\n") + b"0000" + _pkt_line(f"ERR {echo}")
        )
        _send(
            request, 200, advertisement, content_type="application/x-git-upload-pack-advertisement"
        )


def _distribution_error(message: str) -> bytes:
    return json.dumps({"errors": [{"code": "DENIED", "message": message}]}).encode()


def _pkt_line(text: str) -> bytes:
    data = text.encode()
    return f"{len(data) + 4:04x}".encode() + data


def _send(
    request: QuietHandler,
    status: int,
    body: bytes,
    challenge: str = "",
    content_type: str = "application/json",
) -> None:
    request.send_response(status)
    request.send_header("Content-Type", content_type)
    request.send_header("Content-Length", str(len(body)))
    if challenge:
        request.send_header("WWW-Authenticate", challenge)
    request.end_headers()
    if request.command != "HEAD":
        request.wfile.write(body)
