"""What a fake git provider holds: repositories and their pull requests, and what happens to
them on the provider's side (opened, merged into the real repository, closed).

:class:`~kargo_dagster.testing.git_provider_api.GitProviderAPI` serves this state through
GitHub's (:mod:`~kargo_dagster.testing.github_api`), GitLab's
(:mod:`~kargo_dagster.testing.gitlab_api`), Gitea's (:mod:`~kargo_dagster.testing.gitea_api`),
Bitbucket's (:mod:`~kargo_dagster.testing.bitbucket_api`) and Azure DevOps'
(:mod:`~kargo_dagster.testing.azure_devops_api`) API shapes.
"""

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode

from kargo_dagster.testing.git_remote import GitRemote

__all__ = ["FakePullRequest", "ProviderState", "Reply", "iso_time", "link_page"]

State = Literal["open", "closed", "merged"]

# An API answer: HTTP status, JSON body, extra headers.
Reply = tuple[int, Any, dict[str, str]]

_FIRST_CREATED = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass
class FakePullRequest:
    """One pull request the fake provider holds.

    Attributes:
        repository: The repository path (``acme/app``).
        number: GitHub's ``number`` / GitLab's ``iid``.
        head: The source branch.
        base: The target branch.
        title: Its title.
        body: Its description.
        labels: Its labels.
        state: ``open``, ``closed`` (without merging) or ``merged``.
        head_sha: The source branch's commit when it was opened.
        merge_commit_sha: Set once merged.
        mergeable_state: GitHub's ``mergeable_state`` (``clean``, ``blocked``, ``dirty``...);
            GitLab's ``detailed_merge_status`` is ``mergeable`` and Gitea's ``mergeable`` true
            exactly when this is ``clean`` (Bitbucket and Azure DevOps: see their modules).
        draft: Whether it is a draft.
        created_at: When it was opened.
    """

    repository: str
    number: int
    head: str
    base: str
    title: str = ""
    body: str = ""
    labels: list[str] = field(default_factory=list)
    state: State = "open"
    head_sha: str = ""
    merge_commit_sha: str = ""
    mergeable_state: str = "clean"
    draft: bool = False
    created_at: datetime = _FIRST_CREATED


def _fake_sha(*parts: object) -> str:
    """A stable commit-like ID for repositories without a real one behind them."""
    return hashlib.sha1("/".join(str(p) for p in parts).encode()).hexdigest()


def iso_time(when: datetime) -> str:
    """``when`` as both APIs write times (UTC, seconds)."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def link_page(
    items: list[Any], url: str, query: dict[str, str], size_name: str, default_size: str
) -> Reply:
    """The ``page`` of ``items`` the query asks for, with a ``Link: <...>; rel="next"``
    header to the following one when there is one (``size_name`` is the page size's
    parameter, ``url`` the collection's address)."""
    size, page = int(query.get(size_name, default_size)), int(query.get("page", "1"))
    headers: dict[str, str] = {}
    if page * size < len(items):
        following = {**query, "page": str(page + 1)}
        headers["Link"] = f'<{url}?{urlencode(following)}>; rel="next"'
    return 200, items[(page - 1) * size : page * size], headers


class ProviderState:
    """Repositories and pull requests, shared by the server's threads and the test.

    Attributes:
        token: The token every API request must carry.
        auto_merge: Merge every pull request opened through the API at once, as a
            repository whose reviewers approve everything immediately would.
        requests: ``(method, path)`` of every request, git ones included, in order.
        pulls: Every pull request, by ``(repository, number)``.
        repository_labels: The labels defined in each repository (Gitea's label list).
        completion_reads: Azure DevOps completes a pull request in the background: how many
            reads of a pull request asked to complete still show it active, by pull request
            (0 by default: completed at once).
        completing: The pull requests asked to complete and not merged yet.
        verified_commits: The commits GitHub's API created and signed (``github-push``).
        lock: Held while the pull requests change.
    """

    def __init__(self, *, token: str, auto_merge: bool = False) -> None:
        self.token = token
        self.auto_merge = auto_merge
        self.requests: list[tuple[str, str]] = []
        self.pulls: dict[tuple[str, int], FakePullRequest] = {}
        self._remotes: dict[str, GitRemote | None] = {}
        self.verified_commits: set[str] = set()
        self.repository_labels: dict[str, list[str]] = {}
        self.completion_reads: dict[tuple[str, int], int] = {}
        self.completing: set[tuple[str, int]] = set()
        self.lock = threading.RLock()

    # --- what tests set up and change ---------------------------------------------------

    def add_repository(self, repository: str, remote: GitRemote | None = None) -> None:
        """Make ``repository`` (``acme/app``) known, backed by ``remote`` when given.

        With a remote, pull requests record the head branch's real commit and merging
        creates a real merge commit on the base branch.
        """
        with self.lock:
            self._remotes[repository] = remote

    def define_labels(self, repository: str, *names: str) -> None:
        """Give ``repository`` labels of its own, which Gitea requires a pull request's to be."""
        with self.lock:
            self.repository_labels.setdefault(repository, []).extend(names)

    def open_pull(self, repository: str, head: str, base: str, **fields: Any) -> FakePullRequest:
        """Open a pull request directly, as someone else would have."""
        with self.lock:
            return self.create_pull(repository, head, base, **fields)

    def merge(self, repository: str, number: int) -> str:
        """Merge the pull request on the provider's side; returns the merge commit.

        With a backing remote this is a real merge commit of the head branch into the base
        branch, with both as parents.
        """
        with self.lock:
            pr = self.pulls[(repository, number)]
            remote = self._remotes.get(repository)
            if remote is not None:
                pr.merge_commit_sha = remote.merge(
                    pr.head, into=pr.base, message=f"Merge pull request #{number}"
                )
            else:
                pr.merge_commit_sha = _fake_sha(repository, number, "merge")
            pr.state = "merged"
            return pr.merge_commit_sha

    def close(self, repository: str, number: int) -> None:
        """Close the pull request without merging it."""
        with self.lock:
            self.pulls[(repository, number)].state = "closed"

    def set_mergeability(
        self, repository: str, number: int, state: str, *, draft: bool = False
    ) -> None:
        """Set GitHub's ``mergeable_state`` (GitLab: ``mergeable`` iff ``clean``) and draft."""
        with self.lock:
            pr = self.pulls[(repository, number)]
            pr.mergeable_state = state
            pr.draft = draft

    # --- the provider's logic (callers hold the lock) ---------------------------------------

    def remote(self, repository: str) -> GitRemote | None:
        """The bare repository backing ``repository``, if it has one."""
        return self._remotes.get(repository)

    def has_repository(self, repository: str) -> bool:
        """Whether ``repository`` was added."""
        return repository in self._remotes

    def create_pull(self, repository: str, head: str, base: str, **fields: Any) -> FakePullRequest:
        """Record a new open pull request."""
        remote = self._remotes.get(repository)
        number = 1 + max((n for (r, n) in self.pulls if r == repository), default=0)
        head_sha = remote.rev(f"refs/heads/{head}") if remote else _fake_sha(repository, head)
        pr = FakePullRequest(
            repository=repository,
            number=number,
            head=head,
            base=base,
            head_sha=head_sha,
            created_at=_FIRST_CREATED + timedelta(minutes=len(self.pulls)),
            **fields,
        )
        self.pulls[(repository, number)] = pr
        return pr

    def opened(self, pr: FakePullRequest) -> None:
        """What happens once the API has answered that ``pr`` is open: with
        :attr:`auto_merge`, it is merged."""
        if self.auto_merge:
            self.merge(pr.repository, pr.number)

    def open_duplicate(self, repository: str, head: str, base: str) -> FakePullRequest | None:
        """The open pull request from ``head`` into ``base``, which both APIs refuse to
        open twice."""
        for pr in self.pulls.values():
            if (pr.repository, pr.head, pr.base, pr.state) == (repository, head, base, "open"):
                return pr
        return None

    def newest_first(self, repository: str) -> list[FakePullRequest]:
        """The repository's pull requests, most recently opened first."""
        mine = [pr for pr in self.pulls.values() if pr.repository == repository]
        return sorted(mine, key=lambda pr: -pr.number)

    def for_commit(self, repository: str, commit: str) -> list[FakePullRequest]:
        """Pull requests whose head is ``commit`` or that ``commit`` merged.

        A real provider also lists those with ``commit`` anywhere in their history; the
        head and the merge commit are what the steps look up.
        """
        return [
            pr
            for pr in self.newest_first(repository)
            if commit in (pr.head_sha, pr.merge_commit_sha)
        ]

    def branch_exists(self, repository: str, branch: str) -> bool:
        """Whether the backing repository has ``branch`` (always, without one)."""
        remote = self._remotes.get(repository)
        return remote is None or branch in remote.branches()
