"""A local stand-in for the GitHub and GitLab pull request APIs, for tests and demos.

:class:`GitProviderAPI` answers the requests ``kargo_dagster.clients.git_providers`` makes,
with the request and response shapes GitHub (REST API 2022-11-28, under ``/api/v3`` as
GitHub Enterprise serves it; :mod:`~kargo_dagster.testing.github_api`) and GitLab (REST API
v4, under ``/api/v4``; :mod:`~kargo_dagster.testing.gitlab_api`) document.

Every API request must carry the token (GitHub: ``Authorization: Bearer``/``token``; GitLab:
``PRIVATE-TOKEN`` or ``Authorization: Bearer``). Tests drive what happens on the provider's
side (:class:`~kargo_dagster.testing.provider_state.ProviderState`):
:meth:`~ProviderState.merge`, :meth:`~ProviderState.close`,
:meth:`~ProviderState.set_mergeability`, or ``auto_merge=True`` to have every pull request
opened through the API merged at once.

Any other path is passed on to ``git_backend`` (a
:class:`~kargo_dagster.testing.git_remote.GitHTTPServer`), so one ``http://127.0.0.1:<port>``
URL serves both the repository and its API, as a real provider's host does. A repository
added with a :class:`~kargo_dagster.testing.git_remote.GitRemote` has real branches: pull
requests record the head branch's commit, and merging creates a real merge commit in it.

This module is the one import path for the fake: :class:`FakePullRequest` is re-exported.
"""

import json
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from kargo_dagster.testing.github_api import github_reply
from kargo_dagster.testing.gitlab_api import gitlab_reply
from kargo_dagster.testing.loopback import LoopbackServer, QuietHandler
from kargo_dagster.testing.provider_state import FakePullRequest, ProviderState, Reply

__all__ = ["FakePullRequest", "GitProviderAPI"]


class GitProviderAPI(ProviderState):
    """Serves the fake GitHub and GitLab APIs on ``127.0.0.1`` (see the module docstring).

    Args:
        token: The token every API request must carry.
        git_backend: The git server's base URL, for every request outside the APIs.
        auto_merge: Merge every pull request opened through the API at once.
    """

    def __init__(
        self, *, token: str, git_backend: str | None = None, auto_merge: bool = False
    ) -> None:
        super().__init__(token=token, auto_merge=auto_merge)
        self.git_backend = git_backend
        self._server: LoopbackServer | None = None
        self._git_client: httpx.Client | None = None

    def __enter__(self) -> "GitProviderAPI":
        # One client for every proxied git request: a client per request would set up TLS
        # and connection pools each time.
        self._git_client = httpx.Client(timeout=60.0)
        self._server = LoopbackServer(_handler_for(self))
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        self._server = None
        if self._git_client is not None:
            self._git_client.close()
            self._git_client = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        assert self._server is not None, "the server is not running"
        return self._server.url

    def repo_url(self, repository: str) -> str:
        """The repository's URL on this server (``<base_url>/<repository>.git``)."""
        return f"{self.base_url}/{repository}.git"

    def forward_to_git(
        self, method: str, path: str, headers: dict[str, str], content: bytes
    ) -> httpx.Response:
        """Pass a git request on to :attr:`git_backend`."""
        assert self._git_client is not None and self.git_backend is not None
        return self._git_client.request(
            method, self.git_backend + path, headers=headers, content=content or None
        )

    def reply(self, method: str, path: str, query: dict[str, str], body: Any) -> Reply:
        """The API's answer to ``method`` on ``path`` (under ``/api/v3/`` or ``/api/v4/``)."""
        gitlab = path.startswith("/api/v4/")
        parts = [p for p in path[len("/api/v3/") :].split("/") if p]
        route = gitlab_reply if gitlab else github_reply
        with self.lock:
            return route(self, self.base_url, method, parts, query, body)


def _authorized(api: GitProviderAPI, headers: Any, gitlab: bool) -> bool:
    authorization = headers.get("Authorization", "")
    if authorization in (f"Bearer {api.token}", f"token {api.token}"):
        return True
    return gitlab and headers.get("PRIVATE-TOKEN") == api.token


def _handler_for(api: GitProviderAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _send(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _serve(self) -> None:
            url = urlsplit(self.path)
            with api.lock:
                api.requests.append((self.command, url.path))
            raw = self._body()
            if url.path.startswith(("/api/v3/", "/api/v4/")):
                self._api(url.path, url.query, raw)
            else:
                self._git(raw)

        def _api(self, path: str, query_text: str, raw: bytes) -> None:
            gitlab = path.startswith("/api/v4/")
            if not _authorized(api, self.headers, gitlab):
                message = "401 Unauthorized" if gitlab else "Bad credentials"
                self._send(401, json.dumps({"message": message}).encode(), {})
                return
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                self._send(400, b'{"message": "Problems parsing JSON"}', {})
                return
            query = {k: v[-1] for k, v in parse_qs(query_text, keep_blank_values=True).items()}
            status, payload, headers = api.reply(self.command, path, query, body)
            headers = {"Content-Type": "application/json; charset=utf-8", **headers}
            self._send(status, json.dumps(payload).encode(), headers)

        def _git(self, raw: bytes) -> None:
            if api.git_backend is None:
                self._send(404, b"", {})
                return
            forwarded = {
                name: value
                for name, value in self.headers.items()
                if name.lower()
                in ("authorization", "content-type", "git-protocol", "content-encoding", "accept")
            }
            response = api.forward_to_git(self.command, self.path, forwarded, raw)
            headers = {
                name: value
                for name, value in response.headers.items()
                if name.lower() in ("content-type", "www-authenticate", "cache-control")
            }
            self._send(response.status_code, response.content, headers)

    return Handler
