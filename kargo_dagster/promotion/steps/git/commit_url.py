"""The web page of a pushed commit, for ``git-push``'s ``commitURL`` output.

Kargo asks its git provider for the URL: the provider named by the step's ``provider``, or
else the one whose host test matches the repository URL (a host containing ``github`` or
ending in ``.ghe.com``; containing ``gitlab``; containing ``gitea``; exactly
``bitbucket.org``). Azure DevOps needs an API token that ``git-push`` never has, so it never
yields a URL there; a repository no provider recognises has no ``commitURL`` at all.
"""

from urllib.parse import urlsplit

from kargo_dagster.urls import normalize_git_url

__all__ = ["commit_url", "provider_for"]

_TWO_PART_PATH = ("github", "gitea", "bitbucket")


def _host(url: str) -> str:
    # Go's URL.Host: host and port, without the user information.
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        return ""
    return netloc.rpartition("@")[2]


def provider_for(repo_url: str) -> str | None:
    """The provider Kargo infers for ``repo_url``, or None."""
    host = _host(repo_url)
    if "github" in host or host.endswith(".ghe.com"):
        return "github"
    if "gitlab" in host:
        return "gitlab"
    if "gitea" in host:
        return "gitea"
    if host == "dev.azure.com" or host.endswith("visualstudio.com"):
        return "azure"
    if host.partition(":")[0] == "bitbucket.org":
        return "bitbucket"
    return None


def commit_url(repo_url: str, commit: str, provider: str | None = None) -> str | None:
    """The commit's web URL, or None when Kargo would not know it.

    Examples:
        >>> commit_url("https://github.com/acme/app.git", "abc123")
        'https://github.com/acme/app/commit/abc123'
        >>> commit_url("https://gitlab.example.com/group/sub/app", "abc123")
        'https://gitlab.example.com/group/sub/app/-/commit/abc123'
        >>> commit_url("https://git.example.com/acme/app", "abc123") is None
        True
    """
    name = provider or provider_for(repo_url)
    if name is None or name == "azure":
        return None
    normalized = normalize_git_url(repo_url)
    try:
        parts = urlsplit(normalized)
    except ValueError:
        return None
    host = parts.netloc.rpartition("@")[2]
    path = parts.path
    if name in _TWO_PART_PATH and len(path.removeprefix("/").split("/")) != 2:
        return None
    if name == "gitlab":
        return f"https://{host}{path}/-/commit/{commit}"
    if name == "bitbucket":
        return f"https://{host}{path}/commits/{commit}"
    return f"https://{host}{path}/commit/{commit}"
