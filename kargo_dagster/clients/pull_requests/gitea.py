"""Gitea's pull requests, through its REST API v1.

Gitea is self-hosted: the API is ``<scheme>://<host>/api/v1`` on the repository's own host.
The token goes in the ``Authorization: token`` header, as Gitea's own SDK sends it.

As in Kargo, labels are given to a new pull request by their IDs, looked up among the
repository's labels; a label the repository does not have is an error rather than being
created, and the merge method defaults to ``merge``.
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

__all__ = ["MERGE_METHODS", "GiteaProvider"]

# Gitea's merge styles; Gitea does not check them itself, so they are checked here.
MERGE_METHODS = (
    "fast-forward-only",
    "manually-merged",
    "merge",
    "rebase",
    "rebase-merge",
    "squash",
)

# Gitea serves at most 50 items a page unless its administrator allows more.
_GITEA_PAGE_SIZE = min(PAGE_SIZE, 50)


class GiteaProvider(ProviderClient):
    """Gitea's pull requests API for one repository.

    Attributes:
        repository_url: The API's address for the repository.
        pulls_url: The repository's pull requests collection.
    """

    provider_label = "Gitea"

    def __init__(self, repo_url: str, *, token: str, client: httpx.Client) -> None:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"token {token}"
        super().__init__(repo_url, client, headers)
        scheme, host, path = split_repo_url(repo_url)
        owner, repo = owner_and_name(path, self.repo_label)
        self.repository_url = f"{scheme}://{host}/api/v1/repos/{quote(owner)}/{quote(repo)}"
        self.pulls_url = f"{self.repository_url}/pulls"

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
            merged=bool(data.get("merged")),
            merge_commit_sha=str(data.get("merge_commit_sha") or ""),
            head_sha=str(head.get("sha") or ""),
            created_at=api_timestamp(data.get("created_at")),
            head_branch=str(head.get("ref") or ""),
            base_branch=str(base.get("ref") or ""),
        )

    def create_pull_request(
        self, *, head: str, base: str, title: str, description: str, labels: Sequence[str]
    ) -> PullRequest:
        """Open a pull request with the repository's labels named ``labels``.

        Raises:
            GitProviderError: A label is not one of the repository's, or Gitea refused.
        """
        action = f"open a pull request from {head} into {base}"
        payload: dict[str, Any] = {"title": title, "head": head, "base": base, "body": description}
        if labels:
            payload["labels"] = self._label_ids(labels)
        return self._pull_request(
            self.request_json("POST", self.pulls_url, action=action, json=payload)
        )

    def _label_ids(self, names: Sequence[str]) -> list[int]:
        action = "list the repository's labels"
        known: dict[str, int] = {}
        for page in self._pages(f"{self.repository_url}/labels", {}, action):
            for item in page:
                if isinstance(item, dict) and isinstance(item.get("id"), int):
                    known.setdefault(str(item.get("name")), item["id"])
        wanted = list(dict.fromkeys(names))
        missing = [name for name in wanted if name not in known]
        if missing:
            raise GitProviderError(
                f"labels not found in repository {self.repo_label}: {', '.join(missing)}"
            )
        return [known[name] for name in wanted]

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
        """Pull requests from ``head_branch`` into ``base_branch``, at ``head_commit``.

        Gitea filters the list by state only; the branches and commit are matched here.
        """
        action = f"list pull requests from {head_branch} into {base_branch}"
        found: list[PullRequest] = []
        for page in self._pages(self.pulls_url, {"state": state}, action):
            for item in page:
                pr = self._pull_request(item)
                if (pr.head_branch, pr.base_branch) == (head_branch, base_branch) and (
                    not head_commit or pr.head_sha == head_commit
                ):
                    found.append(pr)
        return found

    def pull_requests_for_commit(self, commit: str) -> list[PullRequest]:
        """The merged pull request whose merge brought ``commit`` in, if there is one."""
        action = f"get the pull request of commit {commit}"
        url = f"{self.repository_url}/commits/{quote(commit)}/pull"
        try:
            response = self.request("GET", url, action=action)
        except GitProviderError as error:
            if error.status == 404:
                return []
            raise
        return [self._pull_request(self.json(response, action))]

    def _pages(self, url: str, params: dict[str, str], action: str) -> Iterator[list[Any]]:
        return self.link_pages(url, {**params, "limit": str(_GITEA_PAGE_SIZE)}, action)

    def merge_pull_request(self, number: int, *, merge_method: str = "") -> PullRequest | None:
        """Merge when Gitea says it can be; None while it is a draft or not mergeable.

        Raises:
            GitProviderError: It was closed without merging, the merge method is not one of
                Gitea's, or Gitea refused the merge.
        """
        action = f"get pull request {number}"
        data = self.request_json("GET", f"{self.pulls_url}/{number}", action=action)
        pr = self._pull_request(data)
        if pr.merged:
            return pr
        if not pr.open:
            raise GitProviderError(f"pull request {number} is closed but not merged")
        if data.get("draft") or not data.get("mergeable"):
            return None
        method = merge_method or "merge"
        if method not in MERGE_METHODS:
            raise GitProviderError(
                f"unsupported merge method {method!r} for Gitea (one of {', '.join(MERGE_METHODS)})"
            )
        self.request(
            "POST",
            f"{self.pulls_url}/{number}/merge",
            action=f"merge pull request {number}",
            json={"Do": method},
        )
        return self.get_pull_request(number)
