"""Gitea's pull request endpoints (REST API v1) over a fake provider's state.

Paths are relative to ``/api/v1``:

* ``POST /repos/{owner}/{repo}/pulls`` with label IDs (409 for a duplicate, 422 for a missing
  branch or an unknown label);
* ``GET /repos/{owner}/{repo}/pulls`` with ``state``, ``page``, ``limit``, paginated by
  ``Link: <...>; rel="next"``;
* ``GET /repos/{owner}/{repo}/pulls/{index}``;
* ``POST /repos/{owner}/{repo}/pulls/{index}/merge`` with ``Do`` (405 when not mergeable);
* ``GET /repos/{owner}/{repo}/labels``, the labels defined with
  :meth:`~kargo_dagster.testing.provider_state.ProviderState.define_labels`;
* ``GET /repos/{owner}/{repo}/commits/{sha}/pull``, the pull request ``sha`` merged.

A pull request is ``mergeable`` exactly when its ``mergeable_state`` is ``clean``.
"""

from datetime import timedelta
from typing import Any

from kargo_dagster.testing.provider_state import (
    FakePullRequest,
    ProviderState,
    Reply,
    iso_time,
    link_page,
)

__all__ = ["gitea_json", "gitea_reply"]

_NOT_FOUND: Reply = (404, {"message": "The target couldn't be found.", "errors": []}, {})


def gitea_json(pr: FakePullRequest, base_url: str) -> dict[str, Any]:
    """The pull request as Gitea's REST API shows it, on a server at ``base_url``."""
    merged = pr.state == "merged"
    return {
        "id": 2000 + pr.number,
        "number": pr.number,
        "html_url": f"{base_url}/{pr.repository}/pulls/{pr.number}",
        "state": "open" if pr.state == "open" else "closed",
        "title": pr.title,
        "body": pr.body,
        "draft": pr.draft,
        "labels": [{"id": i + 1, "name": label} for i, label in enumerate(pr.labels)],
        "created_at": iso_time(pr.created_at),
        "merged": merged,
        "merged_at": iso_time(pr.created_at + timedelta(hours=1)) if merged else None,
        "merge_commit_sha": pr.merge_commit_sha or None,
        "mergeable": pr.mergeable_state == "clean",
        "head": {"ref": pr.head, "sha": pr.head_sha, "label": pr.head},
        "base": {"ref": pr.base, "label": pr.base},
    }


def gitea_reply(
    state: ProviderState,
    base_url: str,
    method: str,
    parts: list[str],
    query: dict[str, str],
    body: Any,
) -> Reply:
    """Gitea's answer to ``method`` on ``/api/v1/<parts>`` (the caller holds the lock)."""
    if len(parts) < 4 or parts[0] != "repos":
        return _NOT_FOUND
    repository = f"{parts[1]}/{parts[2]}"
    if not state.has_repository(repository):
        return _NOT_FOUND
    rest = parts[3:]
    api_path = f"/api/v1/repos/{repository}/{'/'.join(rest)}"
    if rest == ["pulls"] and method == "POST":
        return _create(state, base_url, repository, body)
    if rest == ["pulls"] and method == "GET":
        wanted = query.get("state", "open")
        found = [
            gitea_json(pr, base_url)
            for pr in state.newest_first(repository)
            if wanted == "all" or (wanted == "open") == (pr.state == "open")
        ]
        return link_page(found, base_url + api_path, query, "limit", "30")
    if rest == ["labels"] and method == "GET":
        labels = state.repository_labels.get(repository, [])
        listed = [{"id": i + 1, "name": name} for i, name in enumerate(labels)]
        return link_page(listed, base_url + api_path, query, "limit", "30")
    if len(rest) == 3 and rest[0] == "commits" and rest[2] == "pull" and method == "GET":
        for pr in state.newest_first(repository):
            if pr.merge_commit_sha == rest[1]:
                return 200, gitea_json(pr, base_url), {}
        return _NOT_FOUND
    if len(rest) >= 2 and rest[0] == "pulls" and rest[1].isdigit():
        pr = state.pulls.get((repository, int(rest[1])))
        if pr is None:
            return _NOT_FOUND
        if len(rest) == 2 and method == "GET":
            return 200, gitea_json(pr, base_url), {}
        if rest[2:] == ["merge"] and method == "POST":
            return _merge(state, pr, body)
    return _NOT_FOUND


def _create(state: ProviderState, base_url: str, repository: str, body: Any) -> Reply:
    head, base = str(body.get("head", "")), str(body.get("base", ""))
    if not state.branch_exists(repository, head) or not state.branch_exists(repository, base):
        return 422, {"message": "branch does not exist", "errors": []}, {}
    if state.open_duplicate(repository, head, base) is not None:
        message = f"pull request already exists for these targets [head: {head}, base: {base}]"
        return 409, {"message": message, "errors": []}, {}
    defined = state.repository_labels.get(repository, [])
    ids = body.get("labels") or []
    if any(not isinstance(i, int) or not 1 <= i <= len(defined) for i in ids):
        return 422, {"message": "label does not exist", "errors": []}, {}
    pr = state.create_pull(
        repository,
        head,
        base,
        title=str(body.get("title", "")),
        body=body.get("body") or "",
        labels=[defined[i - 1] for i in ids],
    )
    reply: Reply = (201, gitea_json(pr, base_url), {})
    state.opened(pr)
    return reply


def _merge(state: ProviderState, pr: FakePullRequest, body: Any) -> Reply:
    if pr.state == "merged":
        return 405, {"message": "The PR is already merged", "errors": []}, {}
    if pr.state != "open" or pr.draft or pr.mergeable_state != "clean":
        return 405, {"message": "Please try again later", "errors": []}, {}
    if body.get("Do") not in ("merge", "rebase", "rebase-merge", "squash", "fast-forward-only"):
        return 422, {"message": "unknown merge style", "errors": []}, {}
    state.merge(pr.repository, pr.number)
    return 200, None, {}
