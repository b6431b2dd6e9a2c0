"""Pull requests on GitHub and merge requests on GitLab: which provider, and its client.

As in Kargo (``pkg/gitprovider``), the provider is named explicitly or inferred from the
repository URL's host: a host containing ``github`` or ending in ``.ghe.com`` is GitHub, a
host containing ``gitlab`` is GitLab. :func:`git_provider` returns the client for either,
both implementing :class:`~kargo_dagster.clients.pull_requests.GitProvider`:

* :class:`~kargo_dagster.clients.github_pull_requests.GitHubProvider`;
* :class:`~kargo_dagster.clients.gitlab_merge_requests.GitLabProvider`.

This module is the one import path for all of it: the model and the error are re-exported.
The token never appears in an error message.
"""

from typing import Literal
from urllib.parse import urlsplit

import httpx

from kargo_dagster.clients.deadlines import DEFAULT_REQUEST_DEADLINE, DeadlineClient
from kargo_dagster.clients.github_pull_requests import GitHubProvider
from kargo_dagster.clients.gitlab_merge_requests import GitLabProvider
from kargo_dagster.clients.pull_requests import (
    GitProvider,
    GitProviderError,
    PullRequest,
    PullRequestState,
)
from kargo_dagster.redaction import redact_text
from kargo_dagster.urls.normalize import normalize_git_url

__all__ = [
    "GitHubProvider",
    "GitLabProvider",
    "GitProvider",
    "GitProviderError",
    "ProviderName",
    "PullRequest",
    "PullRequestState",
    "git_provider",
    "infer_provider",
]

ProviderName = Literal["azure", "bitbucket", "gitea", "github", "gitlab"]
SUPPORTED: tuple[str, ...] = ("github", "gitlab")

DEFAULT_TIMEOUT = 30.0


def infer_provider(repo_url: str) -> str | None:
    """The provider a repository URL's host suggests, as Kargo infers it, or None."""
    host = (urlsplit(normalize_git_url(repo_url)).hostname or "").lower()
    if "github" in host or host.endswith(".ghe.com"):
        return "github"
    if "gitlab" in host:
        return "gitlab"
    return None


def git_provider(
    repo_url: str,
    *,
    token: str = "",
    name: str | None = None,
    insecure_skip_tls_verify: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float = DEFAULT_REQUEST_DEADLINE,
    transport: httpx.BaseTransport | None = None,
) -> GitHubProvider | GitLabProvider:
    """The provider client for ``repo_url``.

    Args:
        repo_url: The repository's URL (``https://github.com/acme/app.git``).
        token: The API token (the git credentials' password), or empty for anonymous calls.
        name: The provider's name; inferred from the URL's host when None.
        insecure_skip_tls_verify: Do not verify the server's certificate.
        timeout: Seconds for each read of a request.
        deadline: Seconds each request may take in all.
        transport: An httpx transport, for tests.

    Raises:
        GitProviderError: The provider cannot be inferred or is not supported, or the URL
            does not name a repository.
    """
    shown = redact_text(repo_url)
    chosen = name or infer_provider(repo_url)
    if chosen is None:
        raise GitProviderError(
            f"cannot tell which git provider hosts {shown}; set 'provider' "
            f"({' or '.join(SUPPORTED)})"
        )
    if chosen not in SUPPORTED:
        raise GitProviderError(
            f"git provider {chosen!r} is not supported by kargo-dagster (only "
            f"{' and '.join(SUPPORTED)}) for {shown}"
        )
    client = DeadlineClient(
        deadline=deadline,
        verify=not insecure_skip_tls_verify,
        timeout=timeout,
        transport=transport,
        follow_redirects=True,
    )
    try:
        if chosen == "github":
            return GitHubProvider(repo_url, token=token, client=client)
        return GitLabProvider(repo_url, token=token, client=client)
    except GitProviderError:
        client.close()
        raise
