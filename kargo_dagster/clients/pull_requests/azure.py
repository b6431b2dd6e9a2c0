"""Azure DevOps' (Azure Repos') pull requests, through its REST API 7.1.

Repository URLs have the form ``https://dev.azure.com/<organization>/<project>/_git/<repo>``
or, the older form, ``https://<organization>.visualstudio.com/<project>/_git/<repo>``; both
are served by the API at ``https://dev.azure.com/<organization>/<project>/_apis/git``, as in
Kargo. A URL on any other host named with ``provider: azure`` is taken to be Azure DevOps
Server's (``<scheme>://<host>/<collection>/<project>/_git/<repo>``), whose API is at
``<scheme>://<host>/<collection>/<project>/_apis/git`` (Kargo supports only the two hosted
forms).

A personal access token is required; it goes in an ``Authorization: Basic`` header with an
empty username, as Azure DevOps expects. As in Kargo, labels are given to a new pull request,
the merge strategy is checked here (Azure DevOps does not), and completing a pull request is
awaited for a few seconds because Azure DevOps merges in the background; a pull request that
is not completed by then is reported as not merged yet.
"""

import base64
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, unquote

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

__all__ = ["API_VERSION", "MERGE_METHODS", "AzureDevOpsProvider", "azure_api_base"]

API_VERSION = "7.1"

HOST = "dev.azure.com"
LEGACY_HOST_SUFFIX = ".visualstudio.com"

MERGE_METHODS = ("noFastForward", "rebase", "rebaseMerge", "squash")

# How often, and how far apart, a completed pull request is looked at for its merge.
_COMPLETION_CHECKS = 10
_COMPLETION_INTERVAL = 1.0

_STATUSES: dict[PullRequestState, str] = {"open": "active", "all": "all"}
_BRANCH_PREFIX = "refs/heads/"


def azure_api_base(repo_url: str, shown: str) -> tuple[str, str]:
    """``(project API base, repository name)`` for an Azure DevOps repository URL.

    Raises:
        GitProviderError: The URL does not name an Azure DevOps repository.
    """
    scheme, host, path = split_repo_url(repo_url)
    # Project names may have spaces, written %20 in URLs: quoted again below, once.
    parts = [unquote(part) for part in path.split("/")]
    prefix, repo = parts[:-2], parts[-1]
    expected = 2 if host == HOST else 1
    well_formed = len(parts) >= 3 and parts[-2] == "_git" and repo and all(prefix)
    if host == HOST or host.endswith(LEGACY_HOST_SUFFIX):
        well_formed = well_formed and len(prefix) == expected
    if not well_formed:
        raise GitProviderError(
            f"repoURL {shown} is not an Azure DevOps repository URL: expected "
            f"https://{HOST}/<organization>/<project>/_git/<repository>"
        )
    if host.endswith(LEGACY_HOST_SUFFIX):
        organization = host.removesuffix(LEGACY_HOST_SUFFIX)
        return f"https://{HOST}/{quote(organization)}/{quote(prefix[0])}", repo
    if host == HOST:
        scheme = "https"
    return f"{scheme}://{host}/{'/'.join(quote(p) for p in prefix)}", repo


def _ref(branch: str) -> str:
    return f"{_BRANCH_PREFIX}{branch}"


def _branch(ref: Any) -> str:
    return str(ref or "").removeprefix(_BRANCH_PREFIX)


def _commit(value: Any) -> str:
    return str(value.get("commitId") or "") if isinstance(value, dict) else ""


class AzureDevOpsProvider(ProviderClient):
    """Azure DevOps' pull requests API for one repository.

    Attributes:
        repository_url: The API's address for the repository.
        pulls_url: The repository's pull requests collection.
    """

    provider_label = "Azure DevOps"

    def __init__(
        self,
        repo_url: str,
        *,
        token: str,
        client: httpx.Client,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        # The personal access token is the password of a Basic pair with an empty username.
        pair = base64.b64encode(f":{token}".encode()).decode()
        headers = {
            "Accept": "application/json",
            "Authorization": f"Basic {pair}",
        }
        super().__init__(repo_url, client, headers, secrets=[token])
        if not token:
            raise GitProviderError(
                f"Azure DevOps needs a personal access token for {self.repo_label}: set it "
                "as the password of the repository's git credentials"
            )
        base, repo = azure_api_base(repo_url, self.repo_label)
        self.repository_url = f"{base}/_apis/git/repositories/{quote(repo)}"
        self.pulls_url = f"{self.repository_url}/pullrequests"
        self._sleep = sleep

    def request(self, method: str, url: str, *, action: str, **kwargs: Any) -> httpx.Response:
        """Send a request with the API version Azure DevOps requires on every call."""
        params = dict(kwargs.pop("params", None) or {})
        params["api-version"] = API_VERSION
        return super().request(method, url, action=action, params=params, **kwargs)

    def _pull_request(self, value: Any) -> PullRequest:
        data = api_object(value, "pull request", self.repo_label)
        number = int(data.get("pullRequestId") or 0)
        repository = data.get("repository")
        web_url = repository.get("webUrl") if isinstance(repository, dict) else None
        status = data.get("status")
        # While open, lastMergeCommit is the trial merge Azure DevOps checks, not a merge.
        merge_commit = _commit(data.get("lastMergeCommit")) if status == "completed" else ""
        return PullRequest(
            number=number,
            url=f"{web_url}/pullrequest/{number}" if web_url else "",
            open=status == "active",
            merged=status == "completed",
            merge_commit_sha=merge_commit,
            head_sha=_commit(data.get("lastMergeSourceCommit")),
            created_at=api_timestamp(data.get("creationDate")),
            head_branch=_branch(data.get("sourceRefName")),
            base_branch=_branch(data.get("targetRefName")),
        )

    def _get(self, number: int) -> dict[str, Any]:
        action = f"get pull request {number}"
        data = self.request_json("GET", f"{self.pulls_url}/{number}", action=action)
        return api_object(data, "pull request", self.repo_label)

    def create_pull_request(
        self, *, head: str, base: str, title: str, description: str, labels: Sequence[str]
    ) -> PullRequest:
        """Open a pull request from ``head`` into ``base``, with ``labels``."""
        action = f"open a pull request from {head} into {base}"
        payload = {
            "sourceRefName": _ref(head),
            "targetRefName": _ref(base),
            "title": title,
            "description": description,
            "labels": [{"name": label} for label in labels],
        }
        return self._pull_request(
            self.request_json("POST", self.pulls_url, action=action, json=payload)
        )

    def get_pull_request(self, number: int) -> PullRequest:
        """The pull request ``number``."""
        return self._pull_request(self._get(number))

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
        criteria = {
            "searchCriteria.status": _STATUSES[state],
            "searchCriteria.sourceRefName": _ref(head_branch),
            "searchCriteria.targetRefName": _ref(base_branch),
        }
        found: list[PullRequest] = []
        skip = 0
        while True:
            params = {**criteria, "$top": str(PAGE_SIZE), "$skip": str(skip)}
            answer = self.request_json("GET", self.pulls_url, action=action, params=params)
            page = api_object(answer, "list", self.repo_label).get("value")
            if not isinstance(page, list):
                raise GitProviderError(f"{self.repo_label}: the API returned a malformed list")
            for item in page:
                pr = self._pull_request(item)
                if not head_commit or pr.head_sha == head_commit:
                    found.append(pr)
            if len(page) < PAGE_SIZE:
                return found
            skip += len(page)

    def pull_requests_for_commit(self, commit: str) -> list[PullRequest]:
        """Pull requests whose merge commit is ``commit``, or that contain it."""
        action = f"list pull requests for commit {commit}"
        payload = {
            "queries": [
                {"type": "lastMergeCommit", "items": [commit]},
                {"type": "commit", "items": [commit]},
            ]
        }
        url = f"{self.repository_url}/pullrequestquery"
        answer = api_object(
            self.request_json("POST", url, action=action, json=payload),
            "query result",
            self.repo_label,
        )
        results = answer.get("results")
        found: dict[int, PullRequest] = {}
        for result in results if isinstance(results, list) else []:
            listed = result.get(commit) if isinstance(result, dict) else None
            for item in listed if isinstance(listed, list) else []:
                pr = self._pull_request(item)
                found.setdefault(pr.number, pr)
        return list(found.values())

    def merge_pull_request(self, number: int, *, merge_method: str = "") -> PullRequest | None:
        """Complete the pull request once Azure DevOps' trial merge succeeded; None until then.

        Raises:
            GitProviderError: It was abandoned, the merge strategy is not one of Azure
                DevOps', or Azure DevOps refused to complete it.
        """
        data = self._get(number)
        pr = self._pull_request(data)
        if pr.merged:
            return pr
        if data.get("status") == "abandoned":
            raise GitProviderError(f"pull request {number} is closed but not merged (abandoned)")
        # A draft's trial merge may succeed, but a draft cannot be completed.
        if not pr.open or data.get("isDraft") or data.get("mergeStatus") != "succeeded":
            return None
        update: dict[str, Any] = {
            "status": "completed",
            # Completing at the commit checked above: Azure DevOps refuses if the source moved.
            "lastMergeSourceCommit": data.get("lastMergeSourceCommit"),
        }
        if merge_method:
            if merge_method not in MERGE_METHODS:
                raise GitProviderError(
                    f"unsupported merge strategy {merge_method!r} for Azure DevOps "
                    f"(one of {', '.join(MERGE_METHODS)})"
                )
            update["completionOptions"] = {"mergeStrategy": merge_method}
        self.request(
            "PATCH",
            f"{self.pulls_url}/{number}",
            action=f"complete pull request {number}",
            json=update,
        )
        for check in range(_COMPLETION_CHECKS):
            if check:
                self._sleep(_COMPLETION_INTERVAL)
            completed = self.get_pull_request(number)
            if completed.merged:
                return completed
        return None
