"""What a pull request is to the steps, and what a git provider's client must do.

GitHub calls them pull requests and GitLab merge requests; the steps see one model,
:class:`PullRequest`, and one interface, :class:`GitProvider`, implemented per provider in
:mod:`~kargo_dagster.clients.pull_requests.github`,
:mod:`~kargo_dagster.clients.pull_requests.gitlab`,
:mod:`~kargo_dagster.clients.pull_requests.gitea`,
:mod:`~kargo_dagster.clients.pull_requests.bitbucket` and
:mod:`~kargo_dagster.clients.pull_requests.azure`.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol, Self

from kargo_dagster.errors import RepositoryError

__all__ = ["GitProvider", "GitProviderError", "PullRequest", "PullRequestState"]

PullRequestState = Literal["open", "all"]


class GitProviderError(RepositoryError):
    """The provider refused or failed a request.

    Attributes:
        status: The HTTP status, when the provider answered.
        retryable: Whether asking again later may succeed (rate limits, server errors,
            network failures).
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, retry_after=retry_after)
        self.status = status
        self.retryable = retryable


@dataclass(frozen=True)
class PullRequest:
    """A pull (or merge) request as the steps see it.

    Attributes:
        number: The number users see (GitHub's and Gitea's ``number``, GitLab's ``iid``,
            Bitbucket's ``id``, Azure DevOps' ``pullRequestId``).
        url: Its web page.
        open: Whether it is still open.
        merged: Whether it was merged.
        merge_commit_sha: The merge commit, when there is one.
        head_sha: The source branch's commit the request is at.
        created_at: When it was opened.
        head_branch: The source branch.
        base_branch: The target branch.
    """

    number: int
    url: str
    open: bool
    merged: bool
    merge_commit_sha: str = ""
    head_sha: str = ""
    created_at: datetime | None = None
    head_branch: str = ""
    base_branch: str = ""


class GitProvider(Protocol):
    """What the pull request steps need from a provider's client."""

    def close(self) -> None:
        """Release the connections."""
        ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc_info: object) -> None: ...

    def create_pull_request(
        self, *, head: str, base: str, title: str, description: str, labels: Sequence[str]
    ) -> PullRequest:
        """Open a pull request from ``head`` into ``base``."""
        ...

    def get_pull_request(self, number: int) -> PullRequest:
        """The pull request ``number``."""
        ...

    def list_pull_requests(
        self,
        *,
        head_branch: str,
        base_branch: str,
        head_commit: str = "",
        state: PullRequestState = "open",
    ) -> list[PullRequest]:
        """Pull requests from ``head_branch`` into ``base_branch`` (at ``head_commit``).

        ``state`` is ``open`` for the open ones only, ``all`` for closed and merged too.
        """
        ...

    def pull_requests_for_commit(self, commit: str) -> list[PullRequest]:
        """The pull requests the provider associates with ``commit``, in any state."""
        ...

    def merge_pull_request(self, number: int, *, merge_method: str = "") -> PullRequest | None:
        """Merge it; the merged pull request, or None when it cannot be merged yet."""
        ...
