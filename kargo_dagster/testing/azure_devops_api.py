"""Azure DevOps' pull request endpoints (REST API 7.1) over a fake provider's state.

Paths are ``/{organization}/{project}/_apis/git/repositories/{name}/...``, as Azure DevOps
(Server) serves them; every request must name ``api-version``. The repository
``{organization}/{project}/_git/{name}`` is the state's repository ``{organization}/{name}``
(:func:`azure_repository`):

* ``POST .../pullrequests`` with labels (409 for a duplicate, 400 for a missing branch);
* ``GET .../pullrequests`` with ``searchCriteria.status``, ``searchCriteria.sourceRefName``,
  ``searchCriteria.targetRefName``, ``$top``, ``$skip``;
* ``GET .../pullrequests/{id}``;
* ``PATCH .../pullrequests/{id}`` with ``status: completed`` and the
  ``lastMergeSourceCommit`` it must still be at: completes (merges) it (409 otherwise);
* ``POST .../pullrequestquery`` with ``lastMergeCommit`` and ``commit`` queries.

``mergeStatus`` is ``succeeded`` when ``mergeable_state`` is ``clean``, ``conflicts`` when it
is ``dirty`` and ``queued`` otherwise. Completing merges at once, unless
:attr:`~kargo_dagster.testing.provider_state.ProviderState.completion_reads` holds a number
of reads for the pull request: it is merged at the last of them, as Azure DevOps merges in
the background.
"""

from typing import Any

from kargo_dagster.testing.provider_state import (
    FakePullRequest,
    ProviderState,
    Reply,
    iso_time,
)

__all__ = ["azure_json", "azure_reply", "azure_repository"]

_STATUSES = {"open": "active", "merged": "completed", "closed": "abandoned"}
_MERGE_STATUSES = {"clean": "succeeded", "dirty": "conflicts"}
_BRANCH_PREFIX = "refs/heads/"


def _error(status: int, message: str) -> Reply:
    return status, {"$id": "1", "innerException": None, "message": message}, {}


_NOT_FOUND = _error(404, "TF401180: The requested pull request was not found.")


def azure_repository(path: list[str]) -> tuple[str, str] | None:
    """``(state repository, web URL path)`` for ``{org}/{project}/_git/{name}`` parts."""
    if len(path) != 4 or path[2] != "_git":
        return None
    organization, project, _, name = path
    return f"{organization}/{name}", f"/{organization}/{project}/_git/{name}"


def azure_json(pr: FakePullRequest, web_url: str) -> dict[str, Any]:
    """The pull request as Azure DevOps' REST API shows it, for a repository at ``web_url``."""
    merged = pr.state == "merged"
    name = pr.repository.split("/")[-1]
    answer: dict[str, Any] = {
        "pullRequestId": pr.number,
        "codeReviewId": pr.number,
        "status": _STATUSES[pr.state],
        "isDraft": pr.draft,
        "mergeStatus": _MERGE_STATUSES.get(pr.mergeable_state, "queued"),
        "title": pr.title,
        "description": pr.body,
        "sourceRefName": _BRANCH_PREFIX + pr.head,
        "targetRefName": _BRANCH_PREFIX + pr.base,
        "creationDate": iso_time(pr.created_at).replace("Z", ".1234567Z"),
        "lastMergeSourceCommit": {"commitId": pr.head_sha},
        "labels": [{"name": label, "active": True} for label in pr.labels],
        "repository": {"id": f"repo-{name}", "name": name, "webUrl": web_url},
    }
    if merged:
        answer["lastMergeCommit"] = {"commitId": pr.merge_commit_sha}
    return answer


def azure_reply(
    state: ProviderState,
    base_url: str,
    method: str,
    parts: list[str],
    query: dict[str, str],
    body: Any,
) -> Reply:
    """Azure DevOps' answer to ``method`` on ``/<parts>`` (the caller holds the lock)."""
    if len(parts) < 6 or parts[2:5] != ["_apis", "git", "repositories"]:
        return _NOT_FOUND
    if "api-version" not in query:
        return _error(400, "VssVersionOutOfRangeException: No api-version was supplied.")
    found = azure_repository([parts[0], parts[1], "_git", parts[5]])
    assert found is not None
    repository, web_path = found
    if not state.has_repository(repository):
        return _error(404, f"TF401019: The Git repository with name {parts[5]} does not exist.")
    web_url = base_url + web_path
    rest = parts[6:]
    if rest == ["pullrequests"] and method == "POST":
        return _create(state, web_url, repository, body)
    if rest == ["pullrequests"] and method == "GET":
        return _list(state, web_url, repository, query)
    if rest == ["pullrequestquery"] and method == "POST":
        results = []
        for item in body.get("queries") or []:
            commits = item.get("items") or []
            results.append(
                {
                    sha: [
                        azure_json(pr, web_url) for pr in _for_commit(state, repository, item, sha)
                    ]
                    for sha in commits
                }
            )
        return 200, {"queries": body.get("queries"), "results": results}, {}
    if len(rest) == 2 and rest[0] == "pullrequests" and rest[1].isdigit():
        pr = state.pulls.get((repository, int(rest[1])))
        if pr is None:
            return _NOT_FOUND
        if method == "GET":
            _read_while_completing(state, pr)
            return 200, azure_json(pr, web_url), {}
        if method == "PATCH":
            return _complete(state, web_url, pr, body)
    return _NOT_FOUND


def _for_commit(
    state: ProviderState, repository: str, query: dict[str, Any], sha: str
) -> list[FakePullRequest]:
    if query.get("type") == "lastMergeCommit":
        return [pr for pr in state.newest_first(repository) if pr.merge_commit_sha == sha]
    return [pr for pr in state.newest_first(repository) if pr.head_sha == sha]


def _create(state: ProviderState, web_url: str, repository: str, body: Any) -> Reply:
    source, target = str(body.get("sourceRefName", "")), str(body.get("targetRefName", ""))
    head, base = source.removeprefix(_BRANCH_PREFIX), target.removeprefix(_BRANCH_PREFIX)
    if not state.branch_exists(repository, head) or not state.branch_exists(repository, base):
        return _error(400, "TF401398: The source and/or the target branch no longer exists.")
    if state.open_duplicate(repository, head, base) is not None:
        return _error(
            409, "TF401179: An active pull request for the source and target branch already exists."
        )
    pr = state.create_pull(
        repository,
        head,
        base,
        title=str(body.get("title", "")),
        body=body.get("description") or "",
        labels=[str(label.get("name")) for label in body.get("labels") or []],
    )
    reply: Reply = (201, azure_json(pr, web_url), {})
    state.opened(pr)
    return reply


def _list(state: ProviderState, web_url: str, repository: str, query: dict[str, str]) -> Reply:
    status = query.get("searchCriteria.status", "active")
    source = query.get("searchCriteria.sourceRefName")
    target = query.get("searchCriteria.targetRefName")
    found = [
        azure_json(pr, web_url)
        for pr in state.newest_first(repository)
        if status == "all" or _STATUSES[pr.state] == status
        if source is None or _BRANCH_PREFIX + pr.head == source
        if target is None or _BRANCH_PREFIX + pr.base == target
    ]
    skip, top = int(query.get("$skip", "0")), int(query.get("$top", "101"))
    chunk = found[skip : skip + top]
    return 200, {"value": chunk, "count": len(chunk)}, {}


def _complete(state: ProviderState, web_url: str, pr: FakePullRequest, body: Any) -> Reply:
    if body.get("status") != "completed":
        return _error(400, "only completing pull requests is supported here")
    if pr.state != "open" or pr.draft or pr.mergeable_state != "clean":
        return _error(409, "TF401181: The pull request cannot be completed.")
    at = (body.get("lastMergeSourceCommit") or {}).get("commitId")
    if at != pr.head_sha:
        return _error(409, "TF401192: The source branch was updated since it was checked.")
    key = (pr.repository, pr.number)
    if state.completion_reads.get(key, 0) > 0:
        state.completing.add(key)
    else:
        state.merge(*key)
    return 200, azure_json(pr, web_url), {}


def _read_while_completing(state: ProviderState, pr: FakePullRequest) -> None:
    key = (pr.repository, pr.number)
    if key not in state.completing:
        return
    state.completion_reads[key] -= 1
    if state.completion_reads[key] <= 0:
        state.completing.discard(key)
        state.merge(*key)
