"""Bitbucket Cloud's pull requests, through its REST API 2.0.

The API is ``https://api.bitbucket.org/2.0`` for repositories on ``bitbucket.org``. For any
other host named with ``provider: bitbucket`` it is ``<scheme>://<host>/api/2.0``, the path
under which bitbucket.org serves the same API too, so a proxy or a local stand-in can serve
it beside the repositories (Kargo always calls ``api.bitbucket.org``; Bitbucket Data Center's
different API is not supported, as in Kargo).

Authentication: a repository, project or workspace access token is sent as ``Authorization:
Bearer``, as Kargo sends every token. When the git credentials carry a username other than
``x-token-auth`` (the username git uses with access tokens), the password is an app password
or API token of that user and is sent with HTTP Basic authentication, which is the only way
Bitbucket accepts those.

As in Kargo: Bitbucket pull requests have no labels, so ``labels`` are ignored; Bitbucket
says nothing about whether a pull request can be merged before trying, so ``git-merge-pr``
waits only for drafts and otherwise tries the merge; a merge Bitbucket finishes in the
background (HTTP 202) is an error. Bitbucket gives commits in pull requests as short hashes;
the merge commit is looked up to report its full hash.
"""

import base64
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx

from kargo_dagster.clients.api_timestamps import api_timestamp
from kargo_dagster.clients.pull_requests.http import (
    ProviderClient,
    api_object,
    owner_and_name,
    split_repo_url,
)
from kargo_dagster.clients.pull_requests.provider import (
    GitProviderError,
    PullRequest,
    PullRequestState,
)

__all__ = ["ACCESS_TOKEN_USERNAME", "MERGE_METHODS", "BitbucketProvider"]

HOST = "bitbucket.org"
API_URL = "https://api.bitbucket.org/2.0"

# The username git uses with an access token; such a token goes in a Bearer header.
ACCESS_TOKEN_USERNAME = "x-token-auth"

MERGE_METHODS = (
    "fast_forward",
    "merge_commit",
    "rebase_fast_forward",
    "rebase_merge",
    "squash",
    "squash_fast_forward",
)

# The largest page Bitbucket serves for pull requests.
_PAGE_SIZE = 50

_STATES: dict[PullRequestState, tuple[str, ...]] = {
    "open": ("OPEN",),
    "all": ("OPEN", "MERGED", "DECLINED", "SUPERSEDED"),
}


def _authorization(token: str, username: str) -> str:
    if username and username != ACCESS_TOKEN_USERNAME:
        pair = base64.b64encode(f"{username}:{token}".encode()).decode()
        return f"Basic {pair}"
    return f"Bearer {token}"


class BitbucketProvider(ProviderClient):
    """Bitbucket Cloud's pull requests API for one repository.

    Attributes:
        repository_url: The API's address for the repository.
        pulls_url: The repository's pull requests collection.
    """

    provider_label = "Bitbucket"

    def __init__(
        self, repo_url: str, *, token: str, client: httpx.Client, username: str = ""
    ) -> None:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = _authorization(token, username)
        super().__init__(repo_url, client, headers, secrets=[token])
        scheme, host, path = split_repo_url(repo_url)
        workspace, slug = owner_and_name(path, self.repo_label)
        base = API_URL if host == HOST else f"{scheme}://{host}/api/2.0"
        self.repository_url = f"{base}/repositories/{quote(workspace)}/{quote(slug)}"
        self.pulls_url = f"{self.repository_url}/pullrequests"

    def _pull_request(self, value: Any) -> PullRequest:
        data = api_object(value, "pull request", self.repo_label)
        source, destination = _endpoint(data.get("source")), _endpoint(data.get("destination"))
        links = data.get("links")
        html = links.get("html") if isinstance(links, dict) else None
        state = data.get("state")
        return PullRequest(
            number=int(data.get("id") or 0),
            url=str(html.get("href") or "") if isinstance(html, dict) else "",
            open=state == "OPEN",
            merged=state == "MERGED",
            merge_commit_sha=_hash(data.get("merge_commit")),
            head_sha=_hash(source.get("commit")),
            created_at=api_timestamp(data.get("created_on")),
            head_branch=_branch(source),
            base_branch=_branch(destination),
        )

    def _with_full_merge_commit(self, pr: PullRequest) -> PullRequest:
        """``pr`` with its merge commit's full hash (Bitbucket gives a short one)."""
        if not pr.merge_commit_sha:
            return pr
        action = f"get merge commit {pr.merge_commit_sha} of pull request {pr.number}"
        url = f"{self.repository_url}/commit/{quote(pr.merge_commit_sha)}"
        commit = api_object(self.request_json("GET", url, action=action), "commit", self.repo_label)
        full = commit.get("hash")
        if not isinstance(full, str) or not full.startswith(pr.merge_commit_sha):
            raise GitProviderError(f"{self.repo_label}: the API returned a malformed commit")
        return replace(pr, merge_commit_sha=full)

    def create_pull_request(
        self, *, head: str, base: str, title: str, description: str, labels: Sequence[str]
    ) -> PullRequest:
        """Open a pull request (Bitbucket has no labels: ``labels`` are ignored)."""
        action = f"open a pull request from {head} into {base}"
        payload: dict[str, Any] = {
            "type": "pullrequest",
            "title": title,
            "source": {"branch": {"name": head}},
            "destination": {"branch": {"name": base}},
        }
        if description:
            payload["description"] = description
        return self._pull_request(
            self.request_json("POST", self.pulls_url, action=action, json=payload)
        )

    def get_pull_request(self, number: int) -> PullRequest:
        """The pull request ``number``."""
        action = f"get pull request {number}"
        data = self.request_json("GET", f"{self.pulls_url}/{number}", action=action)
        return self._with_full_merge_commit(self._pull_request(data))

    def list_pull_requests(
        self,
        *,
        head_branch: str,
        base_branch: str,
        head_commit: str = "",
        state: PullRequestState = "open",
    ) -> list[PullRequest]:
        """Pull requests from ``head_branch`` into ``base_branch``, at ``head_commit``.

        Bitbucket filters the list by state only; the branches and the commit (of which it
        gives a short hash) are matched here.
        """
        action = f"list pull requests from {head_branch} into {base_branch}"
        return [
            self._with_full_merge_commit(pr)
            for pr in self._listed(_STATES[state], action)
            if (pr.head_branch, pr.base_branch) == (head_branch, base_branch)
            and (not head_commit or _same_commit(head_commit, pr.head_sha))
        ]

    def pull_requests_for_commit(self, commit: str) -> list[PullRequest]:
        """Pull requests, in any state, whose merge commit or source commit is ``commit``."""
        action = f"list pull requests for commit {commit}"
        return [
            self._with_full_merge_commit(pr)
            for pr in self._listed(_STATES["all"], action)
            if _same_commit(commit, pr.merge_commit_sha) or _same_commit(commit, pr.head_sha)
        ]

    def _listed(self, states: Sequence[str], action: str) -> Iterator[PullRequest]:
        next_url: str | None = self.pulls_url
        query: list[tuple[str, str]] | None = [("state", s) for s in states]
        query = [*query, ("pagelen", str(_PAGE_SIZE))]
        while next_url:
            response = self.request("GET", next_url, action=action, params=query)
            page = api_object(self.json(response, action), "page", self.repo_label)
            values = page.get("values")
            if not isinstance(values, list):
                raise GitProviderError(f"{self.repo_label}: the API returned a malformed list")
            for item in values:
                yield self._pull_request(item)
            # The "next" URL carries every parameter already.
            following = page.get("next")
            next_url = following if isinstance(following, str) and following else None
            query = None

    def merge_pull_request(self, number: int, *, merge_method: str = "") -> PullRequest | None:
        """Merge it; None while it is a draft (Bitbucket tells no more before trying).

        Raises:
            GitProviderError: It was declined or superseded, the merge method is not one of
                Bitbucket's, Bitbucket refused the merge (conflicts, failed checks), or it
                merges in the background.
        """
        action = f"get pull request {number}"
        data = self.request_json("GET", f"{self.pulls_url}/{number}", action=action)
        pr = self._pull_request(data)
        if pr.merged:
            return self._with_full_merge_commit(pr)
        if not pr.open:
            raise GitProviderError(
                f"pull request {number} is closed but not merged (state: {data.get('state')})"
            )
        if data.get("draft"):
            return None
        payload: dict[str, str] = {"type": "pullrequestMergeParameters"}
        if merge_method:
            if merge_method not in MERGE_METHODS:
                raise GitProviderError(
                    f"unsupported merge strategy {merge_method!r} for Bitbucket "
                    f"(one of {', '.join(MERGE_METHODS)})"
                )
            payload["merge_strategy"] = merge_method
        action = f"merge pull request {number}"
        response = self.request(
            "POST", f"{self.pulls_url}/{number}/merge", action=action, json=payload
        )
        if response.status_code == 202:
            raise GitProviderError(
                f"pull request {number}'s merge was accepted to finish in the background "
                "and cannot be awaited"
            )
        merged = self._pull_request(self.json(response, action))
        if not merged.merged:
            raise GitProviderError(f"pull request {number} is not merged after merging it")
        return self._with_full_merge_commit(merged)


def _endpoint(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _branch(endpoint: dict[str, Any]) -> str:
    branch = endpoint.get("branch")
    return str(branch.get("name") or "") if isinstance(branch, dict) else ""


def _hash(commit: Any) -> str:
    return str(commit.get("hash") or "") if isinstance(commit, dict) else ""


def _same_commit(full: str, given: str) -> bool:
    # Bitbucket abbreviates hashes (12 characters); a shorter prefix would be ambiguous.
    return len(given) >= 7 and full.startswith(given)
