"""An authenticating front for a test registry: the Docker token flow, or HTTP Basic.

:class:`TokenAuthRegistry` listens on 127.0.0.1 and proxies to a
:class:`~kargo_dagster.testing.registry.LocalRegistry` only requests that carry a valid
credential. In ``bearer`` mode, a request without a valid token gets ``401`` with
``WWW-Authenticate: Bearer realm="http://…/token",service="…",scope="repository:<name>:pull"``,
and ``/token`` issues tokens only for the right Basic credentials. In ``basic`` mode the
registry itself asks for Basic credentials.
"""

import base64
import json
import secrets
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from typing import Literal, Self
from urllib.parse import parse_qs, urlsplit

import httpx

from kargo_dagster.testing.loopback import KeepAliveHandler, LoopbackService
from kargo_dagster.testing.registry import LocalRegistry

_PASSED_HEADERS = ("content-type", "docker-content-digest", "link", "location", "content-length")


class TokenAuthRegistry(LoopbackService):
    """An authenticating proxy in front of a registry; use it as a context manager.

    Args:
        upstream: The registry to proxy to.
        username: The only accepted user.
        password: Its password.
        mode: ``bearer`` (token service) or ``basic``.
        service: The ``service`` named in challenges.
        token_lifetime: ``expires_in`` of issued tokens, in seconds.

    Attributes:
        host: ``127.0.0.1:<port>``.
        url: ``http://127.0.0.1:<port>``.
        counts: Requests received, by ``token``, ``challenged`` and ``proxied``.
    """

    def __init__(
        self,
        upstream: LocalRegistry,
        username: str,
        password: str,
        *,
        mode: Literal["bearer", "basic"] = "bearer",
        service: str = "kargo-dagster-test",
        token_lifetime: int = 300,
    ) -> None:
        self.upstream = upstream
        self.username = username
        self.password = password
        self.mode = mode
        self.service = service
        self.token_lifetime = token_lifetime
        self.counts: Counter[str] = Counter()
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (scope, expiry)
        self._lock = threading.Lock()
        self._upstream_client: httpx.Client | None = None

    def repo_url(self, repository: str) -> str:
        """The image reference of ``repository`` through this front."""
        return f"{self.host}/{repository}"

    def issue_token(self, scope: str) -> str:
        """A token for ``scope``, as ``/token`` would issue one."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = (scope, time.monotonic() + self.token_lifetime)
        return token

    def revoke_tokens(self) -> None:
        """Invalidate every issued token, as a registry does when they expire early."""
        with self._lock:
            self._tokens.clear()

    def _token_allows(self, token: str, repository: str | None) -> bool:
        with self._lock:
            found = self._tokens.get(token)
        if found is None or found[1] < time.monotonic():
            return False
        scope, _ = found
        if repository is None:
            return True
        parts = scope.split(":")
        return len(parts) == 3 and parts[1] == repository and "pull" in parts[2].split(",")

    def _basic_ok(self, header: str) -> bool:
        if not header.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except ValueError:
            return False
        user, _, password = decoded.partition(":")
        return secrets.compare_digest(f"{user}:{password}", f"{self.username}:{self.password}")

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        front = self

        class Handler(KeepAliveHandler):
            def do_GET(self) -> None:
                front._handle(self, "GET")

            def do_HEAD(self) -> None:
                front._handle(self, "HEAD")

        return Handler

    def start(self) -> Self:
        """Start serving on a free port."""
        self._upstream_client = httpx.Client(base_url=self.upstream.url, timeout=30.0)
        return super().start()

    def stop(self) -> None:
        """Stop serving."""
        super().stop()
        if self._upstream_client is not None:
            self._upstream_client.close()
            self._upstream_client = None

    # --- request handling (runs on server threads) ---

    def _handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(request.path)
        if parts.path == "/token" and self.mode == "bearer":
            self._serve_token(request, parse_qs(parts.query))
            return
        repository = _repository_of(parts.path)
        authorization = request.headers.get("Authorization", "")
        if self.mode == "basic":
            allowed = self._basic_ok(authorization)
        else:
            token = authorization[7:].strip() if authorization.startswith("Bearer ") else ""
            allowed = bool(token) and self._token_allows(token, repository)
        if not allowed:
            self._challenge(request, method, repository)
            return
        self._proxy(request, method)

    def _serve_token(self, request: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        self.counts["token"] += 1
        if not self._basic_ok(request.headers.get("Authorization", "")):
            _reply(request, "GET", 401, _errors("UNAUTHORIZED", "invalid username or password"))
            return
        scope = (query.get("scope") or [""])[0]
        token = self.issue_token(scope)
        body = {"token": token, "access_token": token, "expires_in": self.token_lifetime}
        _reply(request, "GET", 200, json.dumps(body).encode())

    def _challenge(
        self, request: BaseHTTPRequestHandler, method: str, repository: str | None
    ) -> None:
        self.counts["challenged"] += 1
        if self.mode == "basic":
            header = 'Basic realm="kargo-dagster-test"'
        else:
            header = f'Bearer realm="{self.url}/token",service="{self.service}"'
            if repository is not None:
                header += f',scope="repository:{repository}:pull"'
        body = _errors("UNAUTHORIZED", "authentication required")
        _reply(request, method, 401, body, {"WWW-Authenticate": header})

    def _proxy(self, request: BaseHTTPRequestHandler, method: str) -> None:
        self.counts["proxied"] += 1
        assert self._upstream_client is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() == "accept"}
        upstream = self._upstream_client.request(method, request.path, headers=headers)
        passed = {k: v for k, v in upstream.headers.items() if k.lower() in _PASSED_HEADERS}
        if "location" in passed:
            passed["location"] = passed["location"].replace(self.upstream.url, self.url)
        _reply(request, method, upstream.status_code, upstream.content, passed)


def _repository_of(path: str) -> str | None:
    """``team/app`` for ``/v2/team/app/tags/list`` (and manifests, blobs); None for ``/v2/``."""
    if not path.startswith("/v2/"):
        return None
    rest = path[4:]
    for marker in ("/tags/", "/manifests/", "/blobs/"):
        if marker in rest:
            return rest.split(marker, 1)[0]
    return None


def _errors(code: str, message: str) -> bytes:
    return json.dumps({"errors": [{"code": code, "message": message}]}).encode()


def _reply(
    request: BaseHTTPRequestHandler,
    method: str,
    status: int,
    body: bytes,
    headers: dict[str, str] | None = None,
) -> None:
    request.send_response(status)
    sent = {k.lower(): v for k, v in (headers or {}).items()}
    sent.setdefault("content-type", "application/json")
    if method != "HEAD" or "content-length" not in sent:
        sent["content-length"] = str(len(body))
    for key, value in sent.items():
        request.send_header(key, value)
    request.end_headers()
    if method != "HEAD":
        request.wfile.write(body)
