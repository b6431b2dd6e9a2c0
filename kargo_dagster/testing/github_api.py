"""GitHub's pull request endpoints (REST API 2022-11-28) over a fake provider's state.

Paths are relative to ``/api/v3``, where GitHub Enterprise Server serves the API:

* ``POST /repos/{owner}/{repo}/pulls`` (422 for a missing branch or a duplicate);
* ``GET /repos/{owner}/{repo}/pulls`` with ``state``, ``head`` (``owner:branch``), ``base``,
  ``per_page``, ``page``, paginated by ``Link: <...>; rel="next"``;
* ``GET /repos/{owner}/{repo}/pulls/{number}``;
* ``PUT /repos/{owner}/{repo}/pulls/{number}/merge`` (405 when not mergeable);
* ``POST /repos/{owner}/{repo}/issues/{number}/labels``;
* ``GET /repos/{owner}/{repo}/commits/{sha}/pulls``;
* the Git database and compare endpoints ``github-push`` uses
  (:mod:`~kargo_dagster.testing.github_git_api`).
"""

from datetime import timedelta
from typing import Any

from kargo_dagster.testing.github_git_api import git_data_reply
from kargo_dagster.testing.provider_state import (
    FakePullRequest,
    ProviderState,
    Reply,
    iso_time,
)

__all__ = ["github_json", "github_reply"]

_NOT_FOUND: Reply = (404, {"message": "Not Found"}, {})


def github_json(pr: FakePullRequest, base_url: str) -> dict[str, Any]:
    """The pull request as GitHub's REST API shows it, on a server at ``base_url``."""
    owner, name = pr.repository.split("/", 1)
    api = f"{base_url}/api/v3/repos/{pr.repository}/pulls/{pr.number}"
    merged = pr.state == "merged"
    return {
        "url": api,
        "id": 1000 + pr.number,
        "number": pr.number,
        "html_url": f"{base_url}/{pr.repository}/pull/{pr.number}",
        "state": "open" if pr.state == "open" else "closed",
        "title": pr.title,
        "body": pr.body,
        "draft": pr.draft,
        "labels": [{"name": label} for label in pr.labels],
        "created_at": iso_time(pr.created_at),
        "merged_at": iso_time(pr.created_at + timedelta(hours=1)) if merged else None,
        "merge_commit_sha": pr.merge_commit_sha or None,
        "merged": merged,
        "mergeable": pr.mergeable_state in ("clean", "unstable", "has_hooks"),
        "mergeable_state": "draft" if pr.draft else pr.mergeable_state,
        "head": {"ref": pr.head, "sha": pr.head_sha, "repo": {"full_name": pr.repository}},
        "base": {"ref": pr.base, "repo": {"full_name": pr.repository, "owner": owner}},
        "maintainer_can_modify": False,
        "repository_name": name,
    }


def github_reply(
    state: ProviderState,
    base_url: str,
    method: str,
    parts: list[str],
    query: dict[str, str],
    body: Any,
) -> Reply:
    """GitHub's answer to ``method`` on ``/api/v3/<parts>`` (the caller holds the lock)."""
    if len(parts) < 4 or parts[0] != "repos":
        return _NOT_FOUND
    repository = f"{parts[1]}/{parts[2]}"
    if not state.has_repository(repository):
        return _NOT_FOUND
    rest = parts[3:]
    if rest[0] in ("git", "compare"):
        return git_data_reply(state.remote(repository), state.verified_commits, method, rest, body)
    if rest == ["pulls"] and method == "POST":
        return _create(state, base_url, repository, parts[1], body)
    if rest == ["pulls"] and method == "GET":
        return _list(state, base_url, repository, parts[1], query)
    if len(rest) == 3 and rest[0] == "commits" and rest[2] == "pulls" and method == "GET":
        found = state.for_commit(repository, rest[1])
        return 200, [github_json(pr, base_url) for pr in found], {}
    if len(rest) >= 2 and rest[0] in ("pulls", "issues") and rest[1].isdigit():
        pr = state.pulls.get((repository, int(rest[1])))
        if pr is None:
            return _NOT_FOUND
        if rest[0] == "pulls" and len(rest) == 2 and method == "GET":
            return 200, github_json(pr, base_url), {}
        if rest[0] == "pulls" and rest[2:] == ["merge"] and method == "PUT":
            return _merge(state, pr, body)
        if rest[0] == "issues" and rest[2:] == ["labels"] and method == "POST":
            for label in body.get("labels", []):
                if label not in pr.labels:
                    pr.labels.append(str(label))
            return 200, [{"name": label} for label in pr.labels], {}
    return _NOT_FOUND


def _create(state: ProviderState, base_url: str, repository: str, owner: str, body: Any) -> Reply:
    head, base = str(body.get("head", "")), str(body.get("base", ""))
    if not state.branch_exists(repository, head) or not state.branch_exists(repository, base):
        return 422, {"message": "Validation Failed", "errors": [{"field": "head"}]}, {}
    if state.open_duplicate(repository, head, base) is not None:
        message = f"A pull request already exists for {owner}:{head}."
        return 422, {"message": "Validation Failed", "errors": [{"message": message}]}, {}
    pr = state.create_pull(
        repository, head, base, title=str(body.get("title", "")), body=body.get("body") or ""
    )
    reply: Reply = (201, github_json(pr, base_url), {})
    state.opened(pr)
    return reply


def _list(
    state: ProviderState, base_url: str, repository: str, owner: str, query: dict[str, str]
) -> Reply:
    wanted = query.get("state", "open")
    head, base = query.get("head"), query.get("base")
    found = [
        pr
        for pr in state.newest_first(repository)
        if (wanted == "all" or (wanted == "open") == (pr.state == "open"))
        and (head is None or f"{owner}:{pr.head}" == head)
        and (base is None or pr.base == base)
    ]
    per_page, page = int(query.get("per_page", "30")), int(query.get("page", "1"))
    chunk = found[(page - 1) * per_page : page * per_page]
    headers: dict[str, str] = {}
    if page * per_page < len(found):
        following = {**query, "page": str(page + 1)}
        link = "&".join(f"{k}={v}" for k, v in following.items())
        url = f"{base_url}/api/v3/repos/{repository}/pulls?{link}"
        headers["Link"] = f'<{url}>; rel="next"'
    return 200, [github_json(pr, base_url) for pr in chunk], headers


def _merge(state: ProviderState, pr: FakePullRequest, body: Any) -> Reply:
    if pr.state != "open" or pr.draft or pr.mergeable_state not in ("clean", "unstable"):
        return 405, {"message": "Pull Request is not mergeable"}, {}
    method_name = body.get("merge_method", "merge")
    if method_name not in ("merge", "squash", "rebase"):
        return 422, {"message": "Validation Failed"}, {}
    sha = state.merge(pr.repository, pr.number)
    return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}, {}
