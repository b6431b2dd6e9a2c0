"""A local stand-in for the GitHub and GitLab pull request APIs, for tests and demos.

It answers the requests ``kargo_dagster.clients.git_providers`` makes, with the request
and response shapes GitHub (REST API 2022-11-28, under ``/api/v3`` as GitHub Enterprise
serves it) and GitLab (REST API v4, under ``/api/v4``) document:

* GitHub: ``POST/GET /repos/{owner}/{repo}/pulls``, ``GET /repos/{owner}/{repo}/pulls/{n}``,
  ``PUT /repos/{owner}/{repo}/pulls/{n}/merge``, ``POST /repos/{owner}/{repo}/issues/{n}/labels``;
* GitLab: ``POST/GET /projects/{id}/merge_requests``, ``GET .../merge_requests/{iid}``,
  ``PUT .../merge_requests/{iid}/merge``, the project ID being the URL-encoded path.

Every API request must carry the token (GitHub: ``Authorization: Bearer``/``token``; GitLab:
``PRIVATE-TOKEN`` or ``Authorization: Bearer``). Tests drive what happens on the provider's
side: :meth:`GitProviderAPI.merge`, :meth:`GitProviderAPI.close`,
:meth:`GitProviderAPI.set_mergeability`.

Any other path is passed on to ``git_backend`` (a
:class:`~kargo_dagster.testing.git_remote.GitHTTPServer`), so one ``http://127.0.0.1:<port>``
URL serves both the repository and its API, as a real provider's host does. A repository
added with a :class:`~kargo_dagster.testing.git_remote.GitRemote` has real branches: pull
requests record the head branch's commit, and merging creates a real merge commit.
"""

import hashlib
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import httpx

from kargo_dagster.testing.git_remote import GitRemote

__all__ = ["FakePullRequest", "GitProviderAPI"]

State = Literal["open", "closed", "merged"]
_FIRST_CREATED = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class FakePullRequest:
    """One pull request the fake provider holds.

    Attributes:
        repository: The repository path (``acme/app``).
        number: GitHub's ``number`` / GitLab's ``iid``.
        head: The source branch.
        base: The target branch.
        title: Its title.
        body: Its description.
        labels: Its labels.
        state: ``open``, ``closed`` (without merging) or ``merged``.
        head_sha: The source branch's commit when it was opened.
        merge_commit_sha: Set once merged.
        mergeable_state: GitHub's ``mergeable_state`` (``clean``, ``blocked``, ``dirty``...);
            GitLab's ``detailed_merge_status`` is ``mergeable`` exactly when this is
            ``clean``.
        draft: Whether it is a draft.
        created_at: When it was opened.
    """

    repository: str
    number: int
    head: str
    base: str
    title: str = ""
    body: str = ""
    labels: list[str] = field(default_factory=list)
    state: State = "open"
    head_sha: str = ""
    merge_commit_sha: str = ""
    mergeable_state: str = "clean"
    draft: bool = False
    created_at: datetime = _FIRST_CREATED


def _fake_sha(*parts: object) -> str:
    return hashlib.sha1("/".join(str(p) for p in parts).encode()).hexdigest()


def _timestamp(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


class GitProviderAPI:
    """Serves the fake GitHub and GitLab APIs on ``127.0.0.1`` (see the module docstring).

    Attributes:
        token: The token every API request must carry.
        requests: ``(method, path)`` of every request, git ones included, in order.
        pulls: Every pull request, by ``(repository, number)``.
    """

    def __init__(self, *, token: str, git_backend: str | None = None) -> None:
        self.token = token
        self.git_backend = git_backend
        self.requests: list[tuple[str, str]] = []
        self.pulls: dict[tuple[str, int], FakePullRequest] = {}
        self._remotes: dict[str, GitRemote | None] = {}
        # Held while the pull requests change: handler threads and the test share them.
        self.lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._git_client: httpx.Client | None = None

    # --- lifecycle --------------------------------------------------------------------

    def __enter__(self) -> "GitProviderAPI":
        # One client for every proxied git request: a client per request would set up TLS
        # and connection pools each time.
        self._git_client = httpx.Client(timeout=60.0)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = None
        if self._git_client is not None:
            self._git_client.close()
            self._git_client = None

    def forward_to_git(
        self, method: str, path: str, headers: dict[str, str], content: bytes
    ) -> httpx.Response:
        """Pass a git request on to :attr:`git_backend`."""
        assert self._git_client is not None and self.git_backend is not None
        return self._git_client.request(
            method, self.git_backend + path, headers=headers, content=content or None
        )

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        assert self._server is not None, "the server is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def repo_url(self, repository: str) -> str:
        """The repository's URL on this server (``<base_url>/<repository>.git``)."""
        return f"{self.base_url}/{repository}.git"

    # --- what tests set up and change ---------------------------------------------------

    def add_repository(self, repository: str, remote: GitRemote | None = None) -> None:
        """Make ``repository`` (``acme/app``) known, backed by ``remote`` when given."""
        with self.lock:
            self._remotes[repository] = remote

    def open_pull(self, repository: str, head: str, base: str, **fields: Any) -> FakePullRequest:
        """Open a pull request directly, as someone else would have."""
        with self.lock:
            return self.create_pull(repository, head, base, **fields)

    def merge(self, repository: str, number: int) -> str:
        """Merge the pull request on the provider's side; returns the merge commit."""
        with self.lock:
            pr = self.pulls[(repository, number)]
            remote = self._remotes.get(repository)
            if remote is not None:
                pr.merge_commit_sha = remote.merge(
                    pr.head, into=pr.base, message=f"Merge pull request #{number}"
                )
            else:
                pr.merge_commit_sha = _fake_sha(repository, number, "merge")
            pr.state = "merged"
            return pr.merge_commit_sha

    def close(self, repository: str, number: int) -> None:
        """Close the pull request without merging it."""
        with self.lock:
            self.pulls[(repository, number)].state = "closed"

    def set_mergeability(self, repository: str, number: int, state: str, *, draft: bool = False):
        """Set GitHub's ``mergeable_state`` (GitLab: ``mergeable`` iff ``clean``) and draft."""
        with self.lock:
            pr = self.pulls[(repository, number)]
            pr.mergeable_state = state
            pr.draft = draft

    # --- the provider's logic -------------------------------------------------------------

    def has_repository(self, repository: str) -> bool:
        """Whether ``repository`` was added."""
        return repository in self._remotes

    def create_pull(self, repository: str, head: str, base: str, **fields: Any) -> FakePullRequest:
        """Record a new open pull request (the caller holds :attr:`lock`)."""
        remote = self._remotes.get(repository)
        number = 1 + max((n for (r, n) in self.pulls if r == repository), default=0)
        head_sha = remote.rev(f"refs/heads/{head}") if remote else _fake_sha(repository, head)
        pr = FakePullRequest(
            repository=repository,
            number=number,
            head=head,
            base=base,
            head_sha=head_sha,
            created_at=_FIRST_CREATED + timedelta(minutes=len(self.pulls)),
            **fields,
        )
        self.pulls[(repository, number)] = pr
        return pr

    def branch_exists(self, repository: str, branch: str) -> bool:
        """Whether the backing repository has ``branch`` (always, without one)."""
        remote = self._remotes.get(repository)
        return remote is None or branch in remote.branches()

    def github_json(self, pr: FakePullRequest) -> dict[str, Any]:
        """The pull request as GitHub's REST API shows it."""
        owner, name = pr.repository.split("/", 1)
        api = f"{self.base_url}/api/v3/repos/{pr.repository}/pulls/{pr.number}"
        merged = pr.state == "merged"
        return {
            "url": api,
            "id": 1000 + pr.number,
            "number": pr.number,
            "html_url": f"{self.base_url}/{pr.repository}/pull/{pr.number}",
            "state": "open" if pr.state == "open" else "closed",
            "title": pr.title,
            "body": pr.body,
            "draft": pr.draft,
            "labels": [{"name": label} for label in pr.labels],
            "created_at": _timestamp(pr.created_at),
            "merged_at": _timestamp(pr.created_at + timedelta(hours=1)) if merged else None,
            "merge_commit_sha": pr.merge_commit_sha or None,
            "merged": merged,
            "mergeable": pr.mergeable_state in ("clean", "unstable", "has_hooks"),
            "mergeable_state": "draft" if pr.draft else pr.mergeable_state,
            "head": {"ref": pr.head, "sha": pr.head_sha, "repo": {"full_name": pr.repository}},
            "base": {"ref": pr.base, "repo": {"full_name": pr.repository, "owner": owner}},
            "maintainer_can_modify": False,
            "repository_name": name,
        }

    def gitlab_json(self, pr: FakePullRequest) -> dict[str, Any]:
        """The merge request as GitLab's REST API shows it."""
        state = {"open": "opened", "closed": "closed", "merged": "merged"}[pr.state]
        status = "mergeable" if pr.mergeable_state == "clean" and not pr.draft else "not_open"
        if pr.state == "open" and status != "mergeable":
            status = "draft_status" if pr.draft else "ci_must_pass"
        return {
            "id": 5000 + pr.number,
            "iid": pr.number,
            "title": pr.title,
            "description": pr.body,
            "state": state,
            "source_branch": pr.head,
            "target_branch": pr.base,
            "sha": pr.head_sha,
            "merge_commit_sha": pr.merge_commit_sha or None,
            "squash_commit_sha": None,
            "web_url": f"{self.base_url}/{pr.repository}/-/merge_requests/{pr.number}",
            "created_at": _timestamp(pr.created_at),
            "draft": pr.draft,
            "detailed_merge_status": status,
            "labels": list(pr.labels),
        }


Reply = tuple[int, Any, dict[str, str]]


def _github(api: GitProviderAPI, method: str, parts: list[str], query: dict, body: Any) -> Reply:
    # parts: repos/{owner}/{repo}/pulls[/{n}[/merge]] or repos/{owner}/{repo}/issues/{n}/labels
    if len(parts) < 4 or parts[0] != "repos":
        return 404, {"message": "Not Found"}, {}
    repository = f"{parts[1]}/{parts[2]}"
    if not api.has_repository(repository):
        return 404, {"message": "Not Found"}, {}
    rest = parts[3:]
    if rest == ["pulls"] and method == "POST":
        head, base = str(body.get("head", "")), str(body.get("base", ""))
        if not api.branch_exists(repository, head) or not api.branch_exists(repository, base):
            return 422, {"message": "Validation Failed", "errors": [{"field": "head"}]}, {}
        for pr in api.pulls.values():
            if (pr.repository, pr.head, pr.base, pr.state) == (repository, head, base, "open"):
                message = f"A pull request already exists for {parts[1]}:{head}."
                return 422, {"message": "Validation Failed", "errors": [{"message": message}]}, {}
        pr = api.create_pull(
            repository, head, base, title=str(body.get("title", "")), body=body.get("body") or ""
        )
        return 201, api.github_json(pr), {}
    if rest == ["pulls"] and method == "GET":
        state = query.get("state", "open")
        head, base = query.get("head"), query.get("base")
        found = [
            pr
            for pr in sorted(api.pulls.values(), key=lambda p: -p.number)
            if pr.repository == repository
            and (state == "all" or (state == "open") == (pr.state == "open"))
            and (head is None or f"{parts[1]}:{pr.head}" == head)
            and (base is None or pr.base == base)
        ]
        per_page, page = int(query.get("per_page", "30")), int(query.get("page", "1"))
        chunk = found[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(found):
            nxt = {**query, "page": str(page + 1)}
            link = "&".join(f"{k}={v}" for k, v in nxt.items())
            url = f"{api.base_url}/api/v3/repos/{repository}/pulls?{link}"
            headers["Link"] = f'<{url}>; rel="next"'
        return 200, [api.github_json(pr) for pr in chunk], headers
    if len(rest) >= 2 and rest[0] in ("pulls", "issues") and rest[1].isdigit():
        pr = api.pulls.get((repository, int(rest[1])))
        if pr is None:
            return 404, {"message": "Not Found"}, {}
        if rest[0] == "pulls" and len(rest) == 2 and method == "GET":
            return 200, api.github_json(pr), {}
        if rest[0] == "pulls" and rest[2:] == ["merge"] and method == "PUT":
            if pr.state != "open" or pr.draft or pr.mergeable_state not in ("clean", "unstable"):
                return 405, {"message": "Pull Request is not mergeable"}, {}
            method_name = body.get("merge_method", "merge")
            if method_name not in ("merge", "squash", "rebase"):
                return 422, {"message": "Validation Failed"}, {}
            sha = api.merge(repository, pr.number)
            return (
                200,
                {"sha": sha, "merged": True, "message": "Pull Request successfully merged"},
                {},
            )
        if rest[0] == "issues" and rest[2:] == ["labels"] and method == "POST":
            for label in body.get("labels", []):
                if label not in pr.labels:
                    pr.labels.append(str(label))
            return 200, [{"name": label} for label in pr.labels], {}
    return 404, {"message": "Not Found"}, {}


def _gitlab(api: GitProviderAPI, method: str, parts: list[str], query: dict, body: Any) -> Reply:
    # parts: projects/{url-encoded path}/merge_requests[/{iid}[/merge]]
    if len(parts) < 3 or parts[0] != "projects" or parts[2] != "merge_requests":
        return 404, {"message": "404 Not found"}, {}
    repository = unquote(parts[1])
    if not api.has_repository(repository):
        return 404, {"message": "404 Project Not Found"}, {}
    rest = parts[3:]
    if not rest and method == "POST":
        head, base = str(body.get("source_branch", "")), str(body.get("target_branch", ""))
        if not api.branch_exists(repository, head) or not api.branch_exists(repository, base):
            return 422, {"message": ["Source branch does not exist"]}, {}
        for pr in api.pulls.values():
            if (pr.repository, pr.head, pr.base, pr.state) == (repository, head, base, "open"):
                message = (
                    "Another open merge request already exists for this source branch: "
                    f"!{pr.number}"
                )
                return 409, {"message": [message]}, {}
        labels = [label for label in str(body.get("labels") or "").split(",") if label]
        pr = api.create_pull(
            repository,
            head,
            base,
            title=str(body.get("title", "")),
            body=body.get("description") or "",
            labels=labels,
        )
        return 201, api.gitlab_json(pr), {}
    if not rest and method == "GET":
        state = query.get("state", "all")
        wanted = {"opened": "open", "closed": "closed", "merged": "merged"}.get(state)
        found = [
            pr
            for pr in sorted(api.pulls.values(), key=lambda p: -p.number)
            if pr.repository == repository
            and (wanted is None or pr.state == wanted)
            and query.get("source_branch", pr.head) == pr.head
            and query.get("target_branch", pr.base) == pr.base
        ]
        per_page, page = int(query.get("per_page", "20")), int(query.get("page", "1"))
        chunk = found[(page - 1) * per_page : page * per_page]
        more = page * per_page < len(found)
        headers = {"X-Page": str(page), "X-Next-Page": str(page + 1) if more else ""}
        return 200, [api.gitlab_json(pr) for pr in chunk], headers
    if rest and rest[0].isdigit():
        pr = api.pulls.get((repository, int(rest[0])))
        if pr is None:
            return 404, {"message": "404 Not found"}, {}
        if len(rest) == 1 and method == "GET":
            return 200, api.gitlab_json(pr), {}
        if rest[1:] == ["merge"] and method == "PUT":
            if pr.state != "open":
                return 405, {"message": "405 Method Not Allowed"}, {}
            if pr.draft or pr.mergeable_state != "clean":
                return 422, {"message": "Branch cannot be merged"}, {}
            api.merge(repository, pr.number)
            return 200, api.gitlab_json(pr), {}
    return 404, {"message": "404 Not found"}, {}


def _authorized(api: GitProviderAPI, headers: Any, gitlab: bool) -> bool:
    authorization = headers.get("Authorization", "")
    if authorization in (f"Bearer {api.token}", f"token {api.token}"):
        return True
    return gitlab and headers.get("PRIVATE-TOKEN") == api.token


def _handler_for(api: GitProviderAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            """Keep test output quiet."""

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
            parts = [p for p in path[len("/api/v3/") :].split("/") if p]
            handler = _gitlab if gitlab else _github
            with api.lock:
                status, payload, headers = handler(api, self.command, parts, query, body)
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
