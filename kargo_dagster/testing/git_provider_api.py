"""A local stand-in for the git providers' pull request APIs, for tests and demos.

:class:`GitProviderAPI` answers the requests ``kargo_dagster.clients.pull_requests.providers``
makes, with the request and response shapes the providers document:

* GitHub (REST API 2022-11-28, under ``/api/v3`` as GitHub Enterprise serves it;
  :mod:`~kargo_dagster.testing.github_api`);
* GitLab (REST API v4, under ``/api/v4``; :mod:`~kargo_dagster.testing.gitlab_api`);
* Gitea (REST API v1, under ``/api/v1``; :mod:`~kargo_dagster.testing.gitea_api`);
* Bitbucket Cloud (REST API 2.0, under ``/api/2.0``; :mod:`~kargo_dagster.testing.bitbucket_api`);
* Azure DevOps (REST API 7.1, under ``/{organization}/{project}/_apis``;
  :mod:`~kargo_dagster.testing.azure_devops_api`), whose repositories are also served at
  ``/{organization}/{project}/_git/{name}`` (:meth:`GitProviderAPI.repo_url` with ``azure``).

Every API request must carry the token: as ``Authorization: Bearer`` or ``token`` (GitHub,
GitLab, Gitea, Bitbucket), GitLab's ``PRIVATE-TOKEN``, or as the password of
``Authorization: Basic`` (Bitbucket, with any username; Azure DevOps, only that way).
Tests drive what happens on the provider's side
(:class:`~kargo_dagster.testing.provider_state.ProviderState`): :meth:`~ProviderState.merge`,
:meth:`~ProviderState.close`, :meth:`~ProviderState.set_mergeability`, or
``auto_merge=True`` to have every pull request opened through the API merged at once.

Any other path is passed on to ``git_backend`` (a
:class:`~kargo_dagster.testing.git_remote.GitHTTPServer`), so one ``http://127.0.0.1:<port>``
URL serves both the repository and its API, as a real provider's host does. A repository
added with a :class:`~kargo_dagster.testing.git_remote.GitRemote` has real branches: pull
requests record the head branch's commit, and merging creates a real merge commit in it.

This module is the one import path for the fake: :class:`FakePullRequest` is re-exported.
"""

import base64
import binascii
import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import httpx

from kargo_dagster.testing.azure_devops_api import azure_reply, azure_repository
from kargo_dagster.testing.bitbucket_api import bitbucket_reply
from kargo_dagster.testing.gitea_api import gitea_reply
from kargo_dagster.testing.github_api import github_reply
from kargo_dagster.testing.github_app import FakeGitHubApp
from kargo_dagster.testing.gitlab_api import gitlab_reply
from kargo_dagster.testing.loopback import LoopbackService, QuietHandler
from kargo_dagster.testing.provider_state import FakePullRequest, ProviderState, Reply

__all__ = ["FakePullRequest", "GitProviderAPI"]

_Route = Callable[[ProviderState, str, str, list[str], dict[str, str], Any], Reply]

# API path prefixes, the provider each belongs to, and its routes.
_PREFIXES: dict[str, tuple[str, _Route]] = {
    "/api/v3/": ("github", github_reply),
    "/api/v4/": ("gitlab", gitlab_reply),
    "/api/v1/": ("gitea", gitea_reply),
    "/api/2.0/": ("bitbucket", bitbucket_reply),
}


def _provider_of(path: str) -> str | None:
    """The provider whose API ``path`` is in, or None for a git request."""
    for prefix, (provider, _) in _PREFIXES.items():
        if path.startswith(prefix):
            return provider
    parts = path.split("/")
    return "azure" if len(parts) > 3 and parts[3] == "_apis" else None


class GitProviderAPI(ProviderState, LoopbackService):
    """Serves the fake provider APIs on ``127.0.0.1`` (see the module docstring).

    Args:
        token: The token every API request must carry.
        git_backend: The git server's base URL, for every request outside the APIs.
        auto_merge: Merge every pull request opened through the API at once.
        github_app: A GitHub App whose installation tokens the server issues and accepts,
            for the GitHub API and for git (see :mod:`kargo_dagster.testing.github_app`).
    """

    def __init__(
        self,
        *,
        token: str,
        git_backend: str | None = None,
        auto_merge: bool = False,
        github_app: FakeGitHubApp | None = None,
    ) -> None:
        super().__init__(token=token, auto_merge=auto_merge)
        self.git_backend = git_backend
        self.github_app = github_app
        self._git_client: httpx.Client | None = None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def start(self) -> Self:
        """Start serving (``with`` does this)."""
        # One client for every proxied git request: a client per request would set up TLS
        # and connection pools each time.
        self._git_client = httpx.Client(timeout=60.0)
        return super().start()

    def stop(self) -> None:
        """Stop serving."""
        super().stop()
        if self._git_client is not None:
            self._git_client.close()
            self._git_client = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return self.url

    def repo_url(self, repository: str, provider: str = "github") -> str:
        """The repository's URL on this server (``<base_url>/<repository>.git``).

        For ``azure``, ``<base_url>/<organization>/<project>/_git/<name>`` of repository
        ``<organization>/<name>``, its project named as the repository.
        """
        if provider == "azure":
            organization, name = repository.split("/")
            return f"{self.base_url}/{organization}/{name}/_git/{name}"
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
        """The API's answer to ``method`` on ``path`` (one of the APIs' paths)."""
        parts = [p for p in path.split("/") if p]
        route: _Route = azure_reply
        prefix = f"/{'/'.join(parts[:2])}/"
        if prefix in _PREFIXES:
            route, parts = _PREFIXES[prefix][1], parts[2:]
        with self.lock:
            return route(self, self.base_url, method, parts, query, body)


def _basic_password(authorization: str) -> str | None:
    scheme, _, encoded = authorization.partition(" ")
    if scheme != "Basic":
        return None
    try:
        _, colon, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return password if colon else None


def _authorized(api: GitProviderAPI, headers: Any, provider: str) -> bool:
    authorization = headers.get("Authorization", "")
    if provider == "github" and api.github_app is not None:
        _, _, token = authorization.partition(" ")
        if api.github_app.accepts(token):
            return True
    if provider in ("bitbucket", "azure") and _basic_password(authorization) == api.token:
        return True
    if provider != "azure" and authorization in (f"Bearer {api.token}", f"token {api.token}"):
        return True
    return provider == "gitlab" and headers.get("PRIVATE-TOKEN") == api.token


def _git_path(path: str) -> str:
    """The git server's path for ``path``: Azure DevOps' ``/{org}/{project}/_git/{name}/...``
    is ``/{org}/{name}.git/...``."""
    url = urlsplit(path)
    parts = url.path.split("/")
    found = azure_repository(parts[1:5]) if len(parts) >= 5 else None
    if found is None:
        return path
    rest = "/".join([found[0] + ".git", *parts[5:]])
    return f"/{rest}" + (f"?{url.query}" if url.query else "")


def _handler_for(api: GitProviderAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def do_DELETE(self) -> None:
            self._serve()

        def _serve(self) -> None:
            url = urlsplit(self.path)
            with api.lock:
                api.requests.append((self.command, url.path))
            raw = self.read_body()
            provider = _provider_of(url.path)
            if provider is not None:
                self._api(provider, url.path, url.query, raw)
            else:
                self._git(raw)

        def _api(self, provider: str, path: str, query_text: str, raw: bytes) -> None:
            if api.github_app is not None and path.startswith("/api/v3/app/"):
                body = json.loads(raw) if raw else {}
                authorization = self.headers.get("Authorization", "")
                reply = api.github_app.access_token_reply(self.command, path, authorization, body)
                self.reply(reply[0], json.dumps(reply[1]).encode(), reply[2].items())
                return
            if not _authorized(api, self.headers, provider):
                message = "401 Unauthorized" if provider == "gitlab" else "Bad credentials"
                self.reply(401, json.dumps({"message": message}).encode())
                return
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                self.reply(400, b'{"message": "Problems parsing JSON"}')
                return
            # A repeated parameter (Bitbucket's "state") arrives as its values joined by commas.
            parsed = parse_qs(query_text, keep_blank_values=True)
            query = {k: ",".join(v) for k, v in parsed.items()}
            status, payload, headers = api.reply(self.command, path, query, body)
            headers = {"Content-Type": "application/json; charset=utf-8", **headers}
            self.reply(status, json.dumps(payload).encode(), headers.items())

        def _git(self, raw: bytes) -> None:
            if api.git_backend is None:
                self.reply(404, b"")
                return
            forwarded = {
                name: value
                for name, value in self.headers.items()
                if name.lower()
                in ("authorization", "content-type", "git-protocol", "content-encoding", "accept")
            }
            if api.github_app is not None:
                # The App's installation tokens stand in for the git server's own credentials.
                token = _basic_password(forwarded.pop("Authorization", "")) or ""
                if not api.github_app.accepts(token):
                    self.reply(401, b"", [("WWW-Authenticate", 'Basic realm="GitHub"')])
                    return
            response = api.forward_to_git(self.command, _git_path(self.path), forwarded, raw)
            headers = {
                name: value
                for name, value in response.headers.items()
                if name.lower() in ("content-type", "www-authenticate", "cache-control")
            }
            self.reply(response.status_code, response.content, headers.items())

    return Handler
