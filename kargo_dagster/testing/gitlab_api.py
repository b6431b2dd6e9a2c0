"""GitLab's merge request endpoints (REST API v4) over a fake provider's state.

Paths are relative to ``/api/v4``; the project ID is its URL-encoded path:

* ``POST /projects/{id}/merge_requests`` (409 for a duplicate, 422 for a missing branch);
* ``GET /projects/{id}/merge_requests`` with ``state``, ``source_branch``,
  ``target_branch``, ``per_page``, ``page``, paginated by ``X-Next-Page``;
* ``GET /projects/{id}/merge_requests/{iid}``;
* ``PUT /projects/{id}/merge_requests/{iid}/merge`` (405 when closed, 422 when not
  mergeable);
* ``GET /projects/{id}/repository/commits/{sha}/merge_requests``.
"""

from typing import Any
from urllib.parse import unquote

from kargo_dagster.testing.provider_state import (
    FakePullRequest,
    ProviderState,
    Reply,
    iso_time,
)

__all__ = ["gitlab_json", "gitlab_reply"]

_NOT_FOUND: Reply = (404, {"message": "404 Not found"}, {})


def gitlab_json(pr: FakePullRequest, base_url: str) -> dict[str, Any]:
    """The merge request as GitLab's REST API shows it, on a server at ``base_url``."""
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
        "web_url": f"{base_url}/{pr.repository}/-/merge_requests/{pr.number}",
        "created_at": iso_time(pr.created_at),
        "draft": pr.draft,
        "detailed_merge_status": status,
        "labels": list(pr.labels),
    }


def gitlab_reply(
    state: ProviderState,
    base_url: str,
    method: str,
    parts: list[str],
    query: dict[str, str],
    body: Any,
) -> Reply:
    """GitLab's answer to ``method`` on ``/api/v4/<parts>`` (the caller holds the lock)."""
    if len(parts) < 3 or parts[0] != "projects":
        return _NOT_FOUND
    repository = unquote(parts[1])
    if not state.has_repository(repository):
        return 404, {"message": "404 Project Not Found"}, {}
    if parts[2:4] == ["repository", "commits"] and parts[5:] == ["merge_requests"]:
        if method != "GET":
            return _NOT_FOUND
        found = state.for_commit(repository, parts[4])
        return _page(found, base_url, query, "20")
    if parts[2] != "merge_requests":
        return _NOT_FOUND
    rest = parts[3:]
    if not rest and method == "POST":
        return _create(state, base_url, repository, body)
    if not rest and method == "GET":
        wanted = {"opened": "open", "closed": "closed", "merged": "merged"}.get(
            query.get("state", "all")
        )
        found = [
            pr
            for pr in state.newest_first(repository)
            if (wanted is None or pr.state == wanted)
            and query.get("source_branch", pr.head) == pr.head
            and query.get("target_branch", pr.base) == pr.base
        ]
        return _page(found, base_url, query, "20")
    if rest and rest[0].isdigit():
        pr = state.pulls.get((repository, int(rest[0])))
        if pr is None:
            return _NOT_FOUND
        if len(rest) == 1 and method == "GET":
            return 200, gitlab_json(pr, base_url), {}
        if rest[1:] == ["merge"] and method == "PUT":
            if pr.state != "open":
                return 405, {"message": "405 Method Not Allowed"}, {}
            if pr.draft or pr.mergeable_state != "clean":
                return 422, {"message": "Branch cannot be merged"}, {}
            state.merge(repository, pr.number)
            return 200, gitlab_json(pr, base_url), {}
    return _NOT_FOUND


def _create(state: ProviderState, base_url: str, repository: str, body: Any) -> Reply:
    head, base = str(body.get("source_branch", "")), str(body.get("target_branch", ""))
    if not state.branch_exists(repository, head) or not state.branch_exists(repository, base):
        return 422, {"message": ["Source branch does not exist"]}, {}
    duplicate = state.open_duplicate(repository, head, base)
    if duplicate is not None:
        message = (
            f"Another open merge request already exists for this source branch: !{duplicate.number}"
        )
        return 409, {"message": [message]}, {}
    labels = [label for label in str(body.get("labels") or "").split(",") if label]
    pr = state.create_pull(
        repository,
        head,
        base,
        title=str(body.get("title", "")),
        body=body.get("description") or "",
        labels=labels,
    )
    reply: Reply = (201, gitlab_json(pr, base_url), {})
    state.opened(pr)
    return reply


def _page(
    found: list[FakePullRequest], base_url: str, query: dict[str, str], default_size: str
) -> Reply:
    per_page, page = int(query.get("per_page", default_size)), int(query.get("page", "1"))
    chunk = found[(page - 1) * per_page : page * per_page]
    more = page * per_page < len(found)
    headers = {"X-Page": str(page), "X-Next-Page": str(page + 1) if more else ""}
    return 200, [gitlab_json(pr, base_url) for pr in chunk], headers
