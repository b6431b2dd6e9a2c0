"""GitHub's (and GitHub Enterprise's) pull requests, through its REST API (2022-11-28).

The API is ``https://api.github.com`` for github.com and ``<scheme>://<host>/api/v3`` for
GitHub Enterprise Server. The token goes in the ``Authorization: Bearer`` header.
"""

from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from kargo_dagster.clients.api_timestamps import api_timestamp
from kargo_dagster.clients.pull_requests.http import (
    PAGE_SIZE,
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

__all__ = ["GitHubProvider"]


class GitHubProvider(ProviderClient):
    """GitHub's and GitHub Enterprise's pull requests API for one repository.

    Attributes:
        owner: The repository's owner (user or organisation).
        repo: The repository's name.
        pulls_url: The API's pull requests collection for the repository.
    """

    provider_label = "GitHub"

    def __init__(self, repo_url: str, *, token: str, client: httpx.Client) -> None:
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        if token:
            headers["Authorization"] = f"Bearer {token}"
        super().__init__(repo_url, client, headers)
        scheme, host, path = split_repo_url(repo_url)
        self.owner, self.repo = owner_and_name(path, self.repo_label)
        base = "https://api.github.com" if host == "github.com" else f"{scheme}://{host}/api/v3"
        repository = f"{base}/repos/{quote(self.owner)}/{quote(self.repo)}"
        self.pulls_url = f"{repository}/pulls"
        self.issues_url = f"{repository}/issues"
        self.commits_url = f"{repository}/commits"

    def _pull_request(self, value: Any) -> PullRequest:
        data = api_object(value, "pull request", self.repo_label)
        head = data.get("head")
        head = head if isinstance(head, dict) else {}
        base = data.get("base")
        base = base if isinstance(base, dict) else {}
        return PullRequest(
            number=int(data.get("number") or 0),
            url=str(data.get("html_url") or ""),
            open=data.get("state") == "open",
            merged=data.get("merged_at") is not None,
            merge_commit_sha=str(data.get("merge_commit_sha") or ""),
            head_sha=str(head.get("sha") or ""),
            created_at=api_timestamp(data.get("created_at")),
            head_branch=str(head.get("ref") or ""),
            base_branch=str(base.get("ref") or ""),
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
        pr = self._pull_request(
            self.request_json("POST", self.pulls_url, action=action, json=payload)
        )
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
        data = self.request_json("GET", f"{self.pulls_url}/{number}", action=action)
        return self._pull_request(data)

    def list_pull_requests(
        self,
        *,
        head_branch: str,
        base_branch: str,
        head_commit: str = "",
        state: PullRequestState = "open",
    ) -> list[PullRequest]:
        """Pull requests from ``head_branch`` into ``base_branch``, at ``head_commit``."""
        action = f"list pull requests from {head_branch} into {base_branch}"
        params = {
            "state": state,
            # GitHub filters by head only in its "owner:branch" form.
            "head": f"{self.owner}:{head_branch}",
            "base": base_branch,
            "per_page": str(PAGE_SIZE),
        }
        found: list[PullRequest] = []
        for page in self._pages(self.pulls_url, params, action):
            for item in page:
                pr = self._pull_request(item)
                if not head_commit or pr.head_sha == head_commit:
                    found.append(pr)
        return found

    def pull_requests_for_commit(self, commit: str) -> list[PullRequest]:
        """GitHub's pull requests associated with ``commit``.

        For a commit on the default branch GitHub lists the merged pull request that
        brought it there; otherwise the open and merged ones that contain it.
        """
        action = f"list pull requests for commit {commit}"
        url = f"{self.commits_url}/{quote(commit)}/pulls"
        params = {"per_page": str(PAGE_SIZE)}
        return [
            self._pull_request(item) for page in self._pages(url, params, action) for item in page
        ]

    def _pages(self, url: str, params: dict[str, str], action: str) -> Iterator[list[Any]]:
        return self.link_pages(url, params, action)

    def merge_pull_request(self, number: int, *, merge_method: str = "") -> PullRequest | None:
        """Merge when GitHub says it can be; None while it cannot be merged yet.

        Raises:
            GitProviderError: It was closed without merging, has conflicts, or the merge
                was refused for good.
        """
        action = f"get pull request {number}"
        data = self.request_json("GET", f"{self.pulls_url}/{number}", action=action)
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
