"""GitLab's merge requests (gitlab.com or self-managed), through its REST API v4.

The API is ``https://gitlab.com/api/v4`` for gitlab.com and ``<scheme>://<host>/api/v4``
otherwise; the project is named by its URL-encoded full path. The token goes in the
``PRIVATE-TOKEN`` header.
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
    split_repo_url,
)
from kargo_dagster.clients.pull_requests.provider import (
    GitProviderError,
    PullRequest,
    PullRequestState,
)

__all__ = ["GitLabProvider"]


class GitLabProvider(ProviderClient):
    """GitLab's merge requests API for one project.

    Attributes:
        project_url: The API's address for the project.
        merge_requests_url: The project's merge requests collection.
    """

    provider_label = "GitLab"

    def __init__(self, repo_url: str, *, token: str, client: httpx.Client) -> None:
        headers: dict[str, str] = {}
        if token:
            headers["PRIVATE-TOKEN"] = token
        super().__init__(repo_url, client, headers)
        scheme, host, path = split_repo_url(repo_url)
        if not path:
            raise GitProviderError(f"could not extract the project path from {self.repo_label}")
        base = "https://gitlab.com/api/v4" if host == "gitlab.com" else f"{scheme}://{host}/api/v4"
        # The project is named by its URL-encoded full path, slashes included.
        self.project_url = f"{base}/projects/{quote(path, safe='')}"
        self.merge_requests_url = f"{self.project_url}/merge_requests"

    def _merge_request(self, value: Any) -> PullRequest:
        data = api_object(value, "merge request", self.repo_label)
        state = data.get("state")
        return PullRequest(
            number=int(data.get("iid") or 0),
            url=str(data.get("web_url") or ""),
            open=state in ("opened", "locked"),
            merged=state == "merged",
            merge_commit_sha=str(data.get("merge_commit_sha") or ""),
            head_sha=str(data.get("sha") or ""),
            created_at=api_timestamp(data.get("created_at")),
            head_branch=str(data.get("source_branch") or ""),
            base_branch=str(data.get("target_branch") or ""),
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
        return self._merge_request(
            self.request_json("POST", self.merge_requests_url, action=action, json=payload)
        )

    def get_pull_request(self, number: int) -> PullRequest:
        """The merge request ``number`` (its IID)."""
        action = f"get merge request {number}"
        data = self.request_json("GET", f"{self.merge_requests_url}/{number}", action=action)
        return self._merge_request(data)

    def list_pull_requests(
        self,
        *,
        head_branch: str,
        base_branch: str,
        head_commit: str = "",
        state: PullRequestState = "open",
    ) -> list[PullRequest]:
        """Merge requests from ``head_branch`` into ``base_branch``, at ``head_commit``."""
        action = f"list merge requests from {head_branch} into {base_branch}"
        # GitLab lists every state by default; like Kargo, keep the open ones here.
        params = {"source_branch": head_branch, "target_branch": base_branch}
        found: list[PullRequest] = []
        for page in self._pages(self.merge_requests_url, params, action):
            for item in page:
                mr = self._merge_request(item)
                if (state == "all" or mr.open) and (not head_commit or mr.head_sha == head_commit):
                    found.append(mr)
        return found

    def pull_requests_for_commit(self, commit: str) -> list[PullRequest]:
        """GitLab's merge requests related to ``commit`` (containing, merging or squashing it)."""
        action = f"list merge requests for commit {commit}"
        url = f"{self.project_url}/repository/commits/{quote(commit)}/merge_requests"
        return [self._merge_request(item) for page in self._pages(url, {}, action) for item in page]

    def _pages(self, url: str, params: dict[str, str], action: str) -> Iterator[list[Any]]:
        page = "1"
        while page:
            query = {**params, "per_page": str(PAGE_SIZE), "page": page}
            response = self.request("GET", url, action=action, params=query)
            yield self.json_list(response, action)
            page = response.headers.get("X-Next-Page", "")

    def merge_pull_request(self, number: int, *, merge_method: str = "") -> PullRequest | None:
        """Accept the merge request when GitLab says it is mergeable; None until then.

        Raises:
            GitProviderError: It was closed without merging, the merge method is not
                ``merge`` or ``squash``, or GitLab refused the merge.
        """
        action = f"get merge request {number}"
        data = self.request_json("GET", f"{self.merge_requests_url}/{number}", action=action)
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
        url = f"{self.merge_requests_url}/{number}/merge"
        return self._merge_request(self.request_json("PUT", url, action=action, json=payload))
