"""GitHub's Git database API (refs, commits) and commit comparison, for ``github-push``.

Commits made through this API by a token's owner, without an author or committer of their
own, are signed by GitHub and shown as "Verified"; see
:mod:`kargo_dagster.promotion.steps.git.github_push`.
"""

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from kargo_dagster.clients.deadlines import DEFAULT_REQUEST_DEADLINE, DeadlineClient
from kargo_dagster.clients.pull_requests.github import GitHubProvider
from kargo_dagster.clients.pull_requests.http import api_object
from kargo_dagster.clients.pull_requests.provider import GitProviderError

__all__ = ["CommitToReplay", "Comparison", "GitHubGitData", "Person"]

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class Person:
    """A commit's author or committer as the API shows it."""

    name: str
    email: str
    date: str

    def to_json(self) -> dict[str, str]:
        """The API's JSON form."""
        return {"name": self.name, "email": self.email, "date": self.date}


@dataclass(frozen=True)
class CommitToReplay:
    """One commit of a comparison.

    Attributes:
        sha: Its ID.
        message: Its message.
        tree: Its tree's ID.
        parents: Its parents' IDs.
        author: Its author, when the API gave one.
        committer: Its committer, when the API gave one.
    """

    sha: str
    message: str
    tree: str
    parents: tuple[str, ...]
    author: Person | None
    committer: Person | None


@dataclass(frozen=True)
class Comparison:
    """``base...head`` as GitHub compares them.

    Attributes:
        status: ``identical``, ``ahead``, ``behind`` or ``diverged`` (head relative to base).
        merge_base: The commit both descend from.
        commits: The commits of ``head`` that ``base`` lacks, oldest first.
    """

    status: str
    merge_base: str
    commits: tuple[CommitToReplay, ...]


def _person(value: Any) -> Person | None:
    if not isinstance(value, dict):
        return None
    return Person(
        name=str(value.get("name") or ""),
        email=str(value.get("email") or ""),
        date=str(value.get("date") or ""),
    )


def _commit(value: Any, label: str) -> CommitToReplay:
    data = api_object(value, "commit", label)
    inner = api_object(data.get("commit"), "commit", label)
    tree = api_object(inner.get("tree"), "commit tree", label)
    parents = data.get("parents")
    parents = parents if isinstance(parents, list) else []
    return CommitToReplay(
        sha=str(data.get("sha") or ""),
        message=str(inner.get("message") or ""),
        tree=str(tree.get("sha") or ""),
        parents=tuple(str(p.get("sha")) for p in parents if isinstance(p, dict)),
        author=_person(inner.get("author")),
        committer=_person(inner.get("committer")),
    )


class GitHubGitData(GitHubProvider):
    """The Git database API of one GitHub (or GitHub Enterprise) repository.

    Args:
        repo_url: The repository's URL.
        token: The token (the git credentials' password).
        insecure_skip_tls_verify: Do not verify the server's certificate.
        transport: An httpx transport, for tests.
    """

    def __init__(
        self,
        repo_url: str,
        *,
        token: str,
        insecure_skip_tls_verify: bool = False,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        client = DeadlineClient(
            deadline=DEFAULT_REQUEST_DEADLINE,
            verify=not insecure_skip_tls_verify,
            timeout=DEFAULT_TIMEOUT,
            transport=transport,
            follow_redirects=True,
        )
        super().__init__(repo_url, token=token, client=client)
        self.repository_url = self.pulls_url.removesuffix("/pulls")

    def get_ref(self, ref: str) -> str | None:
        """The commit ``ref`` (``heads/main``) points at, or None when there is no such ref."""
        action = f"read ref {ref}"
        try:
            response = self.request(
                "GET", f"{self.repository_url}/git/ref/{quote(ref)}", action=action
            )
        except GitProviderError as error:
            if error.status == 404:
                return None
            raise
        data = api_object(self.json(response, action), "ref", self.repo_label)
        target = api_object(data.get("object"), "ref", self.repo_label)
        return str(target.get("sha") or "")

    def compare(self, base: str, head: str) -> Comparison:
        """How ``head`` relates to ``base``, with the commits ``head`` adds (at most 250)."""
        action = f"compare {base}...{head}"
        url = f"{self.repository_url}/compare/{quote(base)}...{quote(head)}"
        answer = self.request_json("GET", url, action=action, params={"per_page": "250"})
        data = api_object(answer, "comparison", self.repo_label)
        merge_base = api_object(data.get("merge_base_commit"), "comparison", self.repo_label)
        commits = data.get("commits")
        commits = commits if isinstance(commits, list) else []
        return Comparison(
            status=str(data.get("status") or ""),
            merge_base=str(merge_base.get("sha") or ""),
            commits=tuple(_commit(c, self.repo_label) for c in commits),
        )

    def create_commit(
        self,
        *,
        message: str,
        tree: str,
        parents: list[str],
        author: Person | None = None,
        committer: Person | None = None,
    ) -> str:
        """Create a commit; its ID."""
        payload: dict[str, Any] = {"message": message, "tree": tree, "parents": parents}
        if author is not None:
            payload["author"] = author.to_json()
        if committer is not None:
            payload["committer"] = committer.to_json()
        action = f"create a commit with tree {tree}"
        url = f"{self.repository_url}/git/commits"
        answer = self.request_json("POST", url, action=action, json=payload)
        created = api_object(answer, "commit", self.repo_label)
        return str(created.get("sha") or "")

    def create_ref(self, ref: str, sha: str) -> None:
        """Create ``ref`` (``refs/heads/x``) at ``sha``."""
        self.request(
            "POST",
            f"{self.repository_url}/git/refs",
            action=f"create ref {ref}",
            json={"ref": ref, "sha": sha},
        )

    def update_ref(self, ref: str, sha: str, *, force: bool) -> None:
        """Move ``ref`` (``heads/x``) to ``sha``; HTTP 422 when that is not a fast forward."""
        self.request(
            "PATCH",
            f"{self.repository_url}/git/refs/{quote(ref)}",
            action=f"update ref {ref}",
            json={"sha": sha, "force": force},
        )

    def delete_ref(self, ref: str) -> None:
        """Delete ``ref`` (``kargo/staging/x``)."""
        self.request(
            "DELETE", f"{self.repository_url}/git/refs/{quote(ref)}", action=f"delete ref {ref}"
        )
