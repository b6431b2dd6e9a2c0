"""Bitbucket Cloud's pull request endpoints (REST API 2.0) over a fake provider's state.

Paths are relative to ``/api/2.0``, where bitbucket.org serves the API besides
``api.bitbucket.org/2.0``:

* ``POST /repositories/{workspace}/{slug}/pullrequests`` (400 for a missing branch or a
  duplicate; labels do not exist on Bitbucket);
* ``GET /repositories/{workspace}/{slug}/pullrequests`` with ``state`` (repeatable),
  ``pagelen``, ``page``, paginated by the body's ``next``;
* ``GET /repositories/{workspace}/{slug}/pullrequests/{id}``;
* ``POST /repositories/{workspace}/{slug}/pullrequests/{id}/merge`` (409 when
  ``mergeable_state`` is ``dirty``, 400 for a draft or a closed pull request);
* ``GET /repositories/{workspace}/{slug}/commit/{hash}``, which gives a commit's full hash.

As Bitbucket does, pull requests show their commits as 12-character hashes. Bitbucket says
nothing about mergeability before a merge is tried: a ``blocked`` pull request merges.
"""

from typing import Any

from kargo_dagster.testing.provider_state import (
    FakePullRequest,
    ProviderState,
    Reply,
    iso_time,
)

__all__ = ["bitbucket_json", "bitbucket_reply"]

_STATES = {"open": "OPEN", "merged": "MERGED", "closed": "DECLINED"}
_SHORT = 12


def _error(status: int, message: str) -> Reply:
    return status, {"type": "error", "error": {"message": message}}, {}


_NOT_FOUND = _error(404, "Resource not found")


def _short(sha: str) -> dict[str, str] | None:
    return {"hash": sha[:_SHORT], "type": "commit"} if sha else None


def bitbucket_json(pr: FakePullRequest, base_url: str) -> dict[str, Any]:
    """The pull request as Bitbucket's REST API shows it, on a server at ``base_url``."""
    return {
        "type": "pullrequest",
        "id": pr.number,
        "title": pr.title,
        "description": pr.body,
        "state": _STATES[pr.state],
        "draft": pr.draft,
        "source": {"branch": {"name": pr.head}, "commit": _short(pr.head_sha)},
        "destination": {"branch": {"name": pr.base}},
        "merge_commit": _short(pr.merge_commit_sha),
        "created_on": iso_time(pr.created_at),
        "links": {"html": {"href": f"{base_url}/{pr.repository}/pull-requests/{pr.number}"}},
    }


def bitbucket_reply(
    state: ProviderState,
    base_url: str,
    method: str,
    parts: list[str],
    query: dict[str, str],
    body: Any,
) -> Reply:
    """Bitbucket's answer to ``method`` on ``/api/2.0/<parts>`` (the caller holds the lock).

    A repeated query parameter (``state``) arrives as its values joined by commas.
    """
    if len(parts) < 4 or parts[0] != "repositories":
        return _NOT_FOUND
    repository = f"{parts[1]}/{parts[2]}"
    if not state.has_repository(repository):
        return _NOT_FOUND
    rest = parts[3:]
    if rest == ["pullrequests"] and method == "POST":
        return _create(state, base_url, repository, body)
    if rest == ["pullrequests"] and method == "GET":
        url = f"{base_url}/api/2.0/repositories/{repository}/pullrequests"
        return _list(state, base_url, repository, url, query)
    if len(rest) == 2 and rest[0] == "commit" and method == "GET":
        return _commit(state, repository, rest[1])
    if len(rest) >= 2 and rest[0] == "pullrequests" and rest[1].isdigit():
        pr = state.pulls.get((repository, int(rest[1])))
        if pr is None:
            return _NOT_FOUND
        if len(rest) == 2 and method == "GET":
            return 200, bitbucket_json(pr, base_url), {}
        if rest[2:] == ["merge"] and method == "POST":
            if pr.state != "open" or pr.draft:
                return _error(400, "You can't merge this pull request")
            if pr.mergeable_state == "dirty":
                return _error(409, "Merge conflicts")
            state.merge(repository, pr.number)
            return 200, bitbucket_json(pr, base_url), {}
    return _NOT_FOUND


def _create(state: ProviderState, base_url: str, repository: str, body: Any) -> Reply:
    head = str(((body.get("source") or {}).get("branch") or {}).get("name", ""))
    base = str(((body.get("destination") or {}).get("branch") or {}).get("name", ""))
    if not state.branch_exists(repository, head) or not state.branch_exists(repository, base):
        return _error(400, "source: branch not found")
    if state.open_duplicate(repository, head, base) is not None:
        return _error(400, f"a pull request from {head} into {base} already exists")
    pr = state.create_pull(
        repository,
        head,
        base,
        title=str(body.get("title", "")),
        body=body.get("description") or "",
    )
    reply: Reply = (201, bitbucket_json(pr, base_url), {})
    state.opened(pr)
    return reply


def _list(
    state: ProviderState, base_url: str, repository: str, url: str, query: dict[str, str]
) -> Reply:
    wanted = set(query.get("state", "OPEN").split(","))
    found = [
        bitbucket_json(pr, base_url)
        for pr in state.newest_first(repository)
        if _STATES[pr.state] in wanted
    ]
    size, page = int(query.get("pagelen", "10")), int(query.get("page", "1"))
    answer: dict[str, Any] = {
        "values": found[(page - 1) * size : page * size],
        "pagelen": size,
        "size": len(found),
        "page": page,
    }
    if page * size < len(found):
        states = "&".join(f"state={s}" for s in sorted(wanted))
        answer["next"] = f"{url}?{states}&pagelen={size}&page={page + 1}"
    return 200, answer, {}


def _commit(state: ProviderState, repository: str, given: str) -> Reply:
    for pr in state.newest_first(repository):
        for sha in (pr.merge_commit_sha, pr.head_sha):
            if sha and len(given) >= 7 and sha.startswith(given):
                return 200, {"type": "commit", "hash": sha}, {}
    return _error(404, f"Commit not found: {given}")
