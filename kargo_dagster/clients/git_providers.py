"""Pull requests on GitHub and merge requests on GitLab, through their REST APIs.

As in Kargo (``pkg/gitprovider``), the provider is named explicitly or inferred from the
repository URL's host: a host containing ``github`` or ending in ``.ghe.com`` is GitHub, a
host containing ``gitlab`` is GitLab. The API lives at ``https://api.github.com`` and
``https://gitlab.com/api/v4`` for the public services, and at ``<scheme>://<host>/api/v3``
(GitHub Enterprise) or ``<scheme>://<host>/api/v4`` (self-managed GitLab) otherwise.

The token is sent as GitHub's ``Authorization: Bearer`` or GitLab's ``PRIVATE-TOKEN``
header; it never appears in an error message.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, Self
from urllib.parse import quote, urlsplit

import httpx

from kargo_dagster.clients.retry_after import parse_retry_after
from kargo_dagster.errors import RepositoryError
from kargo_dagster.redaction import redact_text
from kargo_dagster.urls.normalize import normalize_git_url

__all__ = [
    "GitHubProvider",
    "GitLabProvider",
    "GitProvider",
    "GitProviderError",
    "ProviderName",
    "PullRequest",
    "git_provider",
    "infer_provider",
]

ProviderName = Literal["azure", "bitbucket", "gitea", "github", "gitlab"]
SUPPORTED: tuple[str, ...] = ("github", "gitlab")

DEFAULT_TIMEOUT = 30.0
_PAGE_SIZE = 100


class GitProviderError(RepositoryError):
    """The provider refused or failed a request.

    Attributes:
        status: The HTTP status, when the provider answered.
        retryable: Whether asking again later may succeed (rate limits, server errors,
            network failures).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status
        self.retryable = retryable


@dataclass(frozen=True)
class PullRequest:
    """A pull (or merge) request as the steps see it.

    Attributes:
        number: The number users see (GitHub's ``number``, GitLab's ``iid``).
        url: Its web page.
        open: Whether it is still open.
        merged: Whether it was merged.
        merge_commit_sha: The merge commit, when there is one.
        head_sha: The source branch's commit the request is at.
        created_at: When it was opened.
    """

    number: int
    url: str
    open: bool
    merged: bool
    merge_commit_sha: str = ""
    head_sha: str = ""
    created_at: datetime | None = None


class GitProvider(Protocol):
    """What the pull request steps need from a provider."""

    def create_pull_request(
        self, *, head: str, base: str, title: str, description: str, labels: Sequence[str]
    ) -> PullRequest:
        """Open a pull request from ``head`` into ``base``."""
        ...

    def get_pull_request(self, number: int) -> PullRequest:
        """The pull request ``number``."""
        ...

    def list_pull_requests(
        self, *, head_branch: str, base_branch: str, head_commit: str = ""
    ) -> list[PullRequest]:
        """Open pull requests from ``head_branch`` into ``base_branch`` (at ``head_commit``)."""
        ...

    def merge_pull_request(self, number: int, *, merge_method: str = "") -> PullRequest | None:
        """Merge it; the merged pull request, or None when it cannot be merged yet."""
        ...


def infer_provider(repo_url: str) -> str | None:
    """The provider a repository URL's host suggests, as Kargo infers it, or None."""
    host = (urlsplit(normalize_git_url(repo_url)).hostname or "").lower()
    if "github" in host or host.endswith(".ghe.com"):
        return "github"
    if "gitlab" in host:
        return "gitlab"
    return None


def git_provider(
    repo_url: str,
    *,
    token: str = "",
    name: str | None = None,
    insecure_skip_tls_verify: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> "GitHubProvider | GitLabProvider":
    """The provider client for ``repo_url``.

    Args:
        repo_url: The repository's URL (``https://github.com/acme/app.git``).
        token: The API token (the git credentials' password), or empty for anonymous calls.
        name: The provider's name; inferred from the URL's host when None.
        insecure_skip_tls_verify: Do not verify the server's certificate.
        timeout: Seconds per request.
        transport: An httpx transport, for tests.

    Raises:
        GitProviderError: The provider cannot be inferred or is not supported, or the URL
            does not name a repository.
    """
    shown = redact_text(repo_url)
    chosen = name or infer_provider(repo_url)
    if chosen is None:
        raise GitProviderError(
            f"cannot tell which git provider hosts {shown}; set 'provider' "
            f"({' or '.join(SUPPORTED)})"
        )
    client = httpx.Client(
        verify=not insecure_skip_tls_verify,
        timeout=timeout,
        transport=transport,
        follow_redirects=True,
    )
    if chosen == "github":
        return GitHubProvider(repo_url, token=token, client=client)
    if chosen == "gitlab":
        return GitLabProvider(repo_url, token=token, client=client)
    client.close()
    raise GitProviderError(
        f"git provider {chosen!r} is not supported by kargo-dagster (only "
        f"{' and '.join(SUPPORTED)}) for {shown}"
    )


def _split_repo_url(repo_url: str) -> tuple[str, str, str]:
    """``(scheme, host, path)`` of a normalised repository URL, scheme http(s)."""
    parts = urlsplit(normalize_git_url(repo_url))
    scheme = parts.scheme if parts.scheme in ("http", "https") else "https"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return scheme, host, parts.path.strip("/")


class _RestClient:
    """The HTTP plumbing both providers share: errors, JSON, pagination."""

    provider_label = ""

    def __init__(self, repo_url: str, client: httpx.Client, headers: dict[str, str]) -> None:
        self.repo_label = redact_text(repo_url)
        self.client = client
        self.headers = headers

    def close(self) -> None:
        """Release the connections."""
        self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(self, method: str, url: str, *, action: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.client.request(method, url, headers=self.headers, **kwargs)
        except httpx.HTTPError as error:
            raise GitProviderError(
                f"{self.provider_label} API for {self.repo_label} is unreachable while trying "
                f"to {action}: {type(error).__name__}",
                retryable=True,
            ) from error
        if response.status_code >= 400:
            raise self.failure(response, action)
        return response

    def failure(self, response: httpx.Response, action: str) -> GitProviderError:
        status = response.status_code
        detail = _error_detail(response)
        where = f"{self.provider_label} API for {self.repo_label}"
        if status in (401, 403) and not _rate_limited(response):
            reason = "authentication failed (check the git credentials' token)"
        elif status == 404:
            reason = "not found (or the token may not see it)"
        else:
            reason = f"HTTP {status}"
        message = f"failed to {action}: {where}: {reason}"
        if detail:
            message += f": {detail}"
        retryable = status >= 500 or status == 429 or _rate_limited(response)
        return GitProviderError(
            redact_text(message),
            status=status,
            retryable=retryable,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def json(self, response: httpx.Response, action: str) -> Any:
        try:
            return response.json()
        except ValueError as error:
            raise GitProviderError(
                f"failed to {action}: {self.provider_label} API for {self.repo_label} "
                "answered with something that is not JSON",
                status=response.status_code,
            ) from error


def _rate_limited(response: httpx.Response) -> bool:
    return response.status_code in (403, 429) and response.headers.get("X-RateLimit-Remaining") in (
        "0",
    )


def _error_detail(response: httpx.Response) -> str:
    # Both APIs put a human-readable reason in "message" (GitLab sometimes a list or map).
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    message = body.get("message") or body.get("error") or ""
    if isinstance(message, list):
        message = "; ".join(str(item) for item in message)
    message = str(message)
    # GitHub's validation failures say what failed in "errors".
    errors = body.get("errors")
    if isinstance(errors, list):
        details = [
            str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")
        ]
        if details:
            message = f"{message} ({'; '.join(details)})"
    return message[:500]


def _timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _object(value: Any, what: str, label: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise GitProviderError(f"{label}: the API returned a malformed {what}")
    return value


class GitHubProvider(_RestClient):
    """GitHub's and GitHub Enterprise's pull requests API."""

    provider_label = "GitHub"

    def __init__(self, repo_url: str, *, token: str, client: httpx.Client) -> None:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "kargo-dagster",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        super().__init__(repo_url, client, headers)
        scheme, host, path = _split_repo_url(repo_url)
        parts = path.split("/")
        if len(parts) != 2 or not all(parts):
            raise GitProviderError(
                f"could not extract repository owner and name from URL {self.repo_label}"
            )
        self.owner, self.repo = parts
        base = "https://api.github.com" if host == "github.com" else f"{scheme}://{host}/api/v3"
        self.pulls_url = f"{base}/repos/{quote(self.owner)}/{quote(self.repo)}/pulls"
        self.issues_url = f"{base}/repos/{quote(self.owner)}/{quote(self.repo)}/issues"

    def _pull_request(self, value: Any) -> PullRequest:
        data = _object(value, "pull request", self.repo_label)
        head = data.get("head") if isinstance(data.get("head"), dict) else {}
        assert isinstance(head, dict)
        return PullRequest(
            number=int(data.get("number") or 0),
            url=str(data.get("html_url") or ""),
            open=data.get("state") == "open",
            merged=data.get("merged_at") is not None,
            merge_commit_sha=str(data.get("merge_commit_sha") or ""),
            head_sha=str(head.get("sha") or ""),
            created_at=_timestamp(data.get("created_at")),
        )

    def create_pull_request(
        self, *, head: str, base: str, title: str, description: str, labels: Sequence[str]
    ) -> PullRequest:
        """Open a pull request, then add its labels (GitHub labels issues, not pulls)."""
        action = f"open a pull request from {head} into {base}"
        payload = {
            "title": title,
            "head": head,
            "base": base,
            "body": description,
            "maintainer_can_modify": False,
        }
        response = self.request("POST", self.pulls_url, action=action, json=payload)
        pr = self._pull_request(self.json(response, action))
        if labels:
            self.request(
                "POST",
                f"{self.issues_url}/{pr.number}/labels",
                action=f"label pull request {pr.number}",
                json={"labels": list(labels)},
            )
        return pr

    def get_pull_request(self, number: int) -> PullRequest:
        """The pull request ``number``."""
        action = f"get pull request {number}"
        response = self.request("GET", f"{self.pulls_url}/{number}", action=action)
        return self._pull_request(self.json(response, action))

    def list_pull_requests(
        self, *, head_branch: str, base_branch: str, head_commit: str = ""
    ) -> list[PullRequest]:
        """Open pull requests from ``head_branch`` into ``base_branch``, at ``head_commit``."""
        action = f"list pull requests from {head_branch} into {base_branch}"
        params = {
            "state": "open",
            # GitHub filters by head only in its "owner:branch" form.
            "head": f"{self.owner}:{head_branch}",
            "base": base_branch,
            "per_page": str(_PAGE_SIZE),
        }
        found: list[PullRequest] = []
        for page in self._pages(self.pulls_url, params, action):
            for item in page:
                pr = self._pull_request(item)
                if not head_commit or pr.head_sha == head_commit:
                    found.append(pr)
        return found

    def _pages(self, url: str, params: dict[str, str], action: str) -> Iterator[list[Any]]:
        next_url: str | None = url
        query: dict[str, str] | None = params
        while next_url:
            response = self.request("GET", next_url, action=action, params=query)
            items = self.json(response, action)
            if not isinstance(items, list):
                raise GitProviderError(f"{self.repo_label}: the API returned a malformed list")
            yield items
            # The "next" link carries every parameter already.
            next_url = response.links.get("next", {}).get("url")
            query = None

    def merge_pull_request(self, number: int, *, merge_method: str = "") -> PullRequest | None:
        """Merge when GitHub says it can be; None while it cannot be merged yet.

        Raises:
            GitProviderError: It was closed without merging, has conflicts, or the merge
                was refused for good.
        """
        data = self.json(
            self.request("GET", f"{self.pulls_url}/{number}", action=f"get pull request {number}"),
            f"get pull request {number}",
        )
        pr = self._pull_request(data)
        if pr.merged:
            return pr
        if not pr.open:
            raise GitProviderError(f"pull request {number} is closed but not merged")
        state = data.get("mergeable_state")
        policy_blocked = False
        if state in ("clean", "unstable", "has_hooks"):
            pass
        elif state == "dirty":
            raise GitProviderError(f"pull request {number} has conflicts and cannot be merged")
        elif state in ("blocked", "behind"):
            # Required checks or reviews may still be pending: let the merge call decide.
            policy_blocked = True
        elif state in ("draft", "unknown"):
            return None
        elif data.get("draft") or not data.get("mergeable"):
            return None
        action = f"merge pull request {number}"
        payload: dict[str, str] = {"merge_method": merge_method} if merge_method else {}
        try:
            response = self.request(
                "PUT", f"{self.pulls_url}/{number}/merge", action=action, json=payload
            )
        except GitProviderError as error:
            if error.status == 405 and _transient_merge_refusal(str(error), policy_blocked):
                return None
            raise
        result = self.json(response, action)
        if not isinstance(result, dict) or not result.get("merged"):
            raise GitProviderError(f"merge rejected for pull request {number}")
        return self.get_pull_request(number)


def _transient_merge_refusal(message: str, policy_blocked: bool) -> bool:
    # GitHub answers 405 both for "not yet" (base moved, checks pending) and for "never"
    # (the merge method is not allowed in this repository).
    if "not allowed" in message:
        return False
    if "Base branch was modified" in message or "Pull Request is not mergeable" in message:
        return True
    return policy_blocked


class GitLabProvider(_RestClient):
    """GitLab's merge requests API (gitlab.com or self-managed)."""

    provider_label = "GitLab"

    def __init__(self, repo_url: str, *, token: str, client: httpx.Client) -> None:
        headers = {"User-Agent": "kargo-dagster"}
        if token:
            headers["PRIVATE-TOKEN"] = token
        super().__init__(repo_url, client, headers)
        scheme, host, path = _split_repo_url(repo_url)
        if not path:
            raise GitProviderError(f"could not extract the project path from {self.repo_label}")
        base = "https://gitlab.com/api/v4" if host == "gitlab.com" else f"{scheme}://{host}/api/v4"
        # The project is named by its URL-encoded full path, slashes included.
        self.merge_requests_url = f"{base}/projects/{quote(path, safe='')}/merge_requests"

    def _merge_request(self, value: Any) -> PullRequest:
        data = _object(value, "merge request", self.repo_label)
        state = data.get("state")
        return PullRequest(
            number=int(data.get("iid") or 0),
            url=str(data.get("web_url") or ""),
            open=state in ("opened", "locked"),
            merged=state == "merged",
            merge_commit_sha=str(data.get("merge_commit_sha") or ""),
            head_sha=str(data.get("sha") or ""),
            created_at=_timestamp(data.get("created_at")),
        )

    def create_pull_request(
        self, *, head: str, base: str, title: str, description: str, labels: Sequence[str]
    ) -> PullRequest:
        """Open a merge request from ``head`` into ``base``."""
        action = f"open a merge request from {head} into {base}"
        payload = {
            "source_branch": head,
            "target_branch": base,
            "title": title,
            "description": description,
            "labels": ",".join(labels),
        }
        response = self.request("POST", self.merge_requests_url, action=action, json=payload)
        return self._merge_request(self.json(response, action))

    def get_pull_request(self, number: int) -> PullRequest:
        """The merge request ``number`` (its IID)."""
        action = f"get merge request {number}"
        response = self.request("GET", f"{self.merge_requests_url}/{number}", action=action)
        return self._merge_request(self.json(response, action))

    def list_pull_requests(
        self, *, head_branch: str, base_branch: str, head_commit: str = ""
    ) -> list[PullRequest]:
        """Open merge requests from ``head_branch`` into ``base_branch``, at ``head_commit``."""
        action = f"list merge requests from {head_branch} into {base_branch}"
        found: list[PullRequest] = []
        page = "1"
        while page:
            params = {
                "source_branch": head_branch,
                "target_branch": base_branch,
                "per_page": str(_PAGE_SIZE),
                "page": page,
            }
            response = self.request("GET", self.merge_requests_url, action=action, params=params)
            items = self.json(response, action)
            if not isinstance(items, list):
                raise GitProviderError(f"{self.repo_label}: the API returned a malformed list")
            for item in items:
                mr = self._merge_request(item)
                if mr.open and (not head_commit or mr.head_sha == head_commit):
                    found.append(mr)
            page = response.headers.get("X-Next-Page", "")
        return found

    def merge_pull_request(self, number: int, *, merge_method: str = "") -> PullRequest | None:
        """Accept the merge request when GitLab says it is mergeable; None until then.

        Raises:
            GitProviderError: It was closed without merging, the merge method is not
                ``merge`` or ``squash``, or GitLab refused the merge.
        """
        action = f"get merge request {number}"
        data = self.json(
            self.request("GET", f"{self.merge_requests_url}/{number}", action=action), action
        )
        mr = self._merge_request(data)
        if mr.merged:
            return mr
        if data.get("state") != "opened":
            raise GitProviderError(f"merge request {number} is closed but not merged")
        if data.get("draft") or data.get("detailed_merge_status") != "mergeable":
            return None
        payload: dict[str, Any] = {}
        if merge_method == "squash":
            payload["squash"] = True
        elif merge_method not in ("", "merge"):
            raise GitProviderError(f"unsupported merge method {merge_method!r}")
        action = f"merge merge request {number}"
        response = self.request(
            "PUT", f"{self.merge_requests_url}/{number}/merge", action=action, json=payload
        )
        return self._merge_request(self.json(response, action))
