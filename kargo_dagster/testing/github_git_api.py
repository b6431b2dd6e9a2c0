"""GitHub's Git database and compare endpoints (REST API 2022-11-28) over a real bare repository.

Paths are relative to ``/api/v3/repos/{owner}/{repo}``:

* ``GET git/ref/{ref}``: the ref and the commit it points at (404 when absent);
* ``GET compare/{base}...{head}``: ``status`` (``identical``, ``ahead``, ``behind``,
  ``diverged``), ``merge_base_commit`` and the ``commits`` of ``head`` missing from ``base``,
  oldest first;
* ``POST git/commits``: a commit of an existing tree. Without ``author`` and ``committer``,
  GitHub makes the token's owner both and signs the commit, so it is "Verified"; with them,
  the commit is theirs and unsigned. The fake cannot sign with GitHub's key, so it records
  which commits GitHub would have verified, and ``GET git/commits/{sha}`` shows it under
  ``verification``;
* ``POST git/refs`` (422 when the ref exists), ``PATCH git/refs/{ref}`` (422 when not a fast
  forward and ``force`` is false), ``DELETE git/refs/{ref}`` (422 when absent).

The repository must be backed by a :class:`~kargo_dagster.testing.git_remote.GitRemote`;
commits pushed over git (to any ref) are visible here at once.
"""

from typing import Any

from kargo_dagster.testing.git_remote import GitIdentity, GitRemote, git_environment
from kargo_dagster.testing.provider_state import Reply

__all__ = ["TOKEN_OWNER", "git_data_reply"]

# Whom GitHub attributes the commits it creates for the token.
TOKEN_OWNER = GitIdentity("kargo-bot", "kargo-bot@users.noreply.github.com")

_NOT_FOUND: Reply = (404, {"message": "Not Found"}, {})
_FORMAT = "%H%n%T%n%P%n%an%n%ae%n%aI%n%cn%n%ce%n%cI%n%B"


def _rev(remote: GitRemote, revision: str) -> str | None:
    try:
        return remote.rev(revision)
    except RuntimeError:
        return None


def _git_commit(remote: GitRemote, sha: str, verified: set[str]) -> dict[str, Any]:
    """The commit as ``git/commits`` shows it."""
    fields = remote.git("show", "-s", f"--format={_FORMAT}", sha).split("\n", 9)
    fields += [""] * (10 - len(fields))
    commit_id, tree, parents, a_name, a_email, a_date, c_name, c_email, c_date, message = fields
    return {
        "sha": commit_id,
        "message": message,
        "tree": {"sha": tree},
        "author": {"name": a_name, "email": a_email, "date": a_date},
        "committer": {"name": c_name, "email": c_email, "date": c_date},
        "parents": [{"sha": parent} for parent in parents.split()],
        "verification": {
            "verified": commit_id in verified,
            "reason": "valid" if commit_id in verified else "unsigned",
        },
    }


def _commit_json(remote: GitRemote, sha: str, verified: set[str]) -> dict[str, Any]:
    """The commit as ``compare`` lists it."""
    commit = _git_commit(remote, sha, verified)
    return {"sha": commit.pop("sha"), "parents": commit.pop("parents"), "commit": commit}


def _count(remote: GitRemote, revisions: str) -> int:
    return int(remote.git("rev-list", "--count", revisions) or 0)


def _compare(remote: GitRemote, spec: str, verified: set[str]) -> Reply:
    base_name, dots, head_name = spec.partition("...")
    base, head = _rev(remote, base_name), _rev(remote, head_name)
    if not dots or base is None or head is None:
        return _NOT_FOUND
    merge_base = remote.git("merge-base", base, head)
    ahead, behind = _count(remote, f"{base}..{head}"), _count(remote, f"{head}..{base}")
    status = "identical" if base == head else "diverged" if ahead and behind else "behind"
    if ahead and not behind:
        status = "ahead"
    shas = remote.git("rev-list", "--reverse", "--topo-order", f"{base}..{head}").split()
    return (
        200,
        {
            "status": status,
            "ahead_by": ahead,
            "behind_by": behind,
            "merge_base_commit": _commit_json(remote, merge_base, verified),
            "commits": [_commit_json(remote, sha, verified) for sha in shas],
        },
        {},
    )


def _create_commit(remote: GitRemote, body: Any, verified: set[str]) -> Reply:
    author, committer = body.get("author"), body.get("committer")
    identity = {
        "GIT_AUTHOR_NAME": TOKEN_OWNER.name,
        "GIT_AUTHOR_EMAIL": TOKEN_OWNER.email,
        "GIT_COMMITTER_NAME": TOKEN_OWNER.name,
        "GIT_COMMITTER_EMAIL": TOKEN_OWNER.email,
    }
    for role, person in (("AUTHOR", author), ("COMMITTER", committer or author)):
        if isinstance(person, dict):
            identity[f"GIT_{role}_NAME"] = str(person.get("name", ""))
            identity[f"GIT_{role}_EMAIL"] = str(person.get("email", ""))
            if person.get("date"):
                identity[f"GIT_{role}_DATE"] = str(person["date"])
    args = ["commit-tree", str(body.get("tree", "")), "-m", str(body.get("message", ""))]
    for parent in body.get("parents") or []:
        args += ["-p", str(parent)]
    try:
        sha = remote.git(*args, env=git_environment(**identity))
    except RuntimeError:
        return 422, {"message": "Tree SHA does not exist"}, {}
    if author is None and committer is None:
        verified.add(sha)
    return 201, _git_commit(remote, sha, verified), {}


def _ref_json(ref: str, sha: str) -> dict[str, Any]:
    return {"ref": ref, "object": {"sha": sha, "type": "commit"}}


def _update_ref(remote: GitRemote, ref: str, body: Any) -> Reply:
    current = _rev(remote, ref)
    sha = str(body.get("sha", ""))
    if current is None:
        return 422, {"message": "Reference does not exist"}, {}
    if _rev(remote, sha) is None:
        return 422, {"message": "Object does not exist"}, {}
    fast_forward = remote.git("merge-base", current, sha) == current
    if not fast_forward and not body.get("force"):
        return 422, {"message": "Update is not a fast forward"}, {}
    remote.git("update-ref", ref, sha)
    return 200, _ref_json(ref, sha), {}


def git_data_reply(
    remote: GitRemote | None, verified: set[str], method: str, rest: list[str], body: Any
) -> Reply:
    """The answer to ``method`` on ``/repos/{owner}/{repo}/<rest>`` (``rest[0]`` is ``git``
    or ``compare``), for the repository in ``remote``; ``verified`` holds the commits GitHub
    signed, and grows as commits are created."""
    if remote is None:
        return _NOT_FOUND
    if rest[0] == "compare" and len(rest) >= 2 and method == "GET":
        return _compare(remote, "/".join(rest[1:]), verified)
    kind, path = (rest[1] if len(rest) > 1 else ""), "/".join(rest[2:])
    ref = f"refs/{path}"
    if kind == "ref" and method == "GET":
        sha = _rev(remote, ref) if path else None
        return (200, _ref_json(ref, sha), {}) if sha else _NOT_FOUND
    if kind == "commits" and method == "POST" and not path:
        return _create_commit(remote, body, verified)
    if kind == "commits" and method == "GET" and path:
        sha = _rev(remote, path)
        return (200, _git_commit(remote, sha, verified), {}) if sha else _NOT_FOUND
    if kind == "refs" and method == "POST" and not path:
        new_ref, sha = str(body.get("ref", "")), str(body.get("sha", ""))
        if not new_ref.startswith("refs/") or _rev(remote, new_ref) is not None:
            return 422, {"message": "Reference already exists"}, {}
        remote.git("update-ref", new_ref, sha)
        return 201, _ref_json(new_ref, sha), {}
    if kind == "refs" and method == "PATCH" and path:
        return _update_ref(remote, ref, body)
    if kind == "refs" and method == "DELETE" and path:
        if _rev(remote, ref) is None:
            return 422, {"message": "Reference does not exist"}, {}
        remote.git("update-ref", "-d", ref)
        return 204, None, {}
    return _NOT_FOUND
