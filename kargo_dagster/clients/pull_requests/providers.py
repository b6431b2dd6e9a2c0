"""Pull requests on GitHub, GitLab, Gitea, Bitbucket and Azure DevOps: which provider, and
its client.

As in Kargo (``pkg/gitprovider``), the provider is named explicitly or inferred from the
repository URL's host: a host containing ``github`` or ending in ``.ghe.com`` is GitHub, a
host containing ``gitlab`` is GitLab, one containing ``gitea`` is Gitea, ``bitbucket.org`` is
Bitbucket Cloud, and ``dev.azure.com`` or a host ending in ``.visualstudio.com`` is Azure
DevOps. :func:`git_provider` returns the client, each implementing
:class:`~kargo_dagster.clients.pull_requests.provider.GitProvider`:

* :class:`~kargo_dagster.clients.pull_requests.github.GitHubProvider`;
* :class:`~kargo_dagster.clients.pull_requests.gitlab.GitLabProvider`;
* :class:`~kargo_dagster.clients.pull_requests.gitea.GiteaProvider`;
* :class:`~kargo_dagster.clients.pull_requests.bitbucket.BitbucketProvider`;
* :class:`~kargo_dagster.clients.pull_requests.azure.AzureDevOpsProvider`.

Each derives its API's address from the repository URL, so a self-hosted server (or a
local stand-in) needs no setting of its own: see each client's module.

This module is the one import path for all of it: the model and the error are re-exported.
The token never appears in an error message.
"""

from typing import Literal
from urllib.parse import urlsplit

import httpx

from kargo_dagster.clients.deadlines import DEFAULT_REQUEST_DEADLINE, DeadlineClient
from kargo_dagster.clients.pull_requests.azure import AzureDevOpsProvider
from kargo_dagster.clients.pull_requests.bitbucket import BitbucketProvider
from kargo_dagster.clients.pull_requests.gitea import GiteaProvider
from kargo_dagster.clients.pull_requests.github import GitHubProvider
from kargo_dagster.clients.pull_requests.gitlab import GitLabProvider
from kargo_dagster.clients.pull_requests.provider import (
    GitProvider,
    GitProviderError,
    PullRequest,
    PullRequestState,
)
from kargo_dagster.redaction import redact_text
from kargo_dagster.urls.normalize import normalize_git_url

__all__ = [
    "AnyGitProvider",
    "AzureDevOpsProvider",
    "BitbucketProvider",
    "GitHubProvider",
    "GitLabProvider",
    "GitProvider",
    "GitProviderError",
    "GiteaProvider",
    "ProviderName",
    "PullRequest",
    "PullRequestState",
    "git_provider",
    "infer_provider",
]

ProviderName = Literal["azure", "bitbucket", "gitea", "github", "gitlab"]
SUPPORTED: tuple[str, ...] = ("azure", "bitbucket", "gitea", "github", "gitlab")

AnyGitProvider = (
    AzureDevOpsProvider | BitbucketProvider | GiteaProvider | GitHubProvider | GitLabProvider
)

DEFAULT_TIMEOUT = 30.0


def infer_provider(repo_url: str) -> str | None:
    """The provider a repository URL's host suggests, as Kargo infers it, or None."""
    host = (urlsplit(normalize_git_url(repo_url)).hostname or "").lower()
    if "github" in host or host.endswith(".ghe.com"):
        return "github"
    if "gitlab" in host:
        return "gitlab"
    if "gitea" in host:
        return "gitea"
    if host == "bitbucket.org":
        return "bitbucket"
    if host == "dev.azure.com" or host.endswith(".visualstudio.com"):
        return "azure"
    return None


def git_provider(
    repo_url: str,
    *,
    token: str = "",
    username: str = "",
    name: str | None = None,
    insecure_skip_tls_verify: bool = False,
    timeout: float = DEFAULT_TIMEOUT,
    deadline: float = DEFAULT_REQUEST_DEADLINE,
    transport: httpx.BaseTransport | None = None,
) -> AnyGitProvider:
    """The provider client for ``repo_url``.

    Args:
        repo_url: The repository's URL (``https://github.com/acme/app.git``).
        token: The API token (the git credentials' password), or empty for anonymous calls.
        username: The git credentials' username (Bitbucket tells app passwords by it).
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
            f"cannot tell which git provider hosts repoURL {shown}; set 'provider' "
            f"(one of {', '.join(SUPPORTED)})"
        )
    if chosen not in SUPPORTED:
        raise GitProviderError(
            f"provider {chosen!r} is not supported by kargo-dagster (one of "
            f"{', '.join(SUPPORTED)}) for repoURL {shown}"
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
        if chosen == "gitlab":
            return GitLabProvider(repo_url, token=token, client=client)
        if chosen == "gitea":
            return GiteaProvider(repo_url, token=token, client=client)
        if chosen == "bitbucket":
            return BitbucketProvider(repo_url, token=token, client=client, username=username)
        return AzureDevOpsProvider(repo_url, token=token, client=client)
    except GitProviderError:
        client.close()
        raise
