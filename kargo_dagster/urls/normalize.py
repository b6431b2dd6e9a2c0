"""Kargo's URL normalisers (``pkg/urls``): git repositories, chart repositories, images.

Each returns its input unchanged where Kargo's does, so that IDs computed here match Kargo's
for odd URLs too.
"""

import re

from kargo_dagster.urls.go_url import GoURLError, go_url_string, has_query_params, parse_go_url


def _sanitize(url: str) -> str:
    # Kargo's SanitizeURL keeps only runes Go's unicode.IsPrint accepts (letters, marks,
    # numbers, punctuation, symbols, ASCII space), exactly what str.isprintable accepts.
    return "".join(c for c in url if c.isprintable()).strip(" ")


def _go_lower(s: str) -> str:
    # Go lowers rune by rune (simple case mapping); str.lower differs for U+0130 and for a
    # word-final capital sigma, so lower one character at a time.
    return s.lower() if s.isascii() else "".join("i" if c == "\u0130" else c.lower() for c in s)


def _trim_repo_path(path: str) -> str:
    # One trailing slash, then one ".git", in that order: "repo.git//" keeps its ".git/".
    return path.removesuffix("/").removesuffix(".git")


_SCP_URL = re.compile(r"((?:[\w-]+@)?[\w-]+(?:\.[\w-]+)*)(?::(.*))?", re.ASCII)


def normalize_git_url(url: str) -> str:
    """Normalise a Git repository URL as Kargo's ``urls.NormalizeGit`` does.

    The URL is lower-cased (path included) and stripped of non-printable characters and
    surrounding spaces. ``http(s)://`` URLs lose their credentials; ``http(s)://`` and
    ``ssh://`` URLs lose one trailing ``/`` and then one ``.git``; SCP-style
    ``[user@]host[:path]`` becomes ``ssh://[user@]host[/path]``. A URL that Go's ``net/url``
    rejects, or one with query parameters, comes back exactly as given.

    Args:
        url: The repository URL as written in a Warehouse or Freight.

    Returns:
        The canonical form that Kargo puts into Freight IDs.

    Examples:
        >>> normalize_git_url("https://user:token@GitHub.com/Example/Repo.git/")
        'https://github.com/example/repo'
        >>> normalize_git_url("git@github.com:example/repo.git")
        'ssh://git@github.com/example/repo'
    """
    repo = _sanitize(_go_lower(url))
    if repo.startswith(("http://", "https://", "ssh://")):
        try:
            parsed = parse_go_url(repo)
        except GoURLError:
            return url
        if has_query_params(parsed.raw_query):
            return url
        if parsed.scheme != "ssh":
            parsed.user = None  # ssh://git@… keeps its user: Kargo drops only HTTP credentials
        parsed.path = _trim_repo_path(parsed.path)
        return go_url_string(parsed)
    match = _SCP_URL.fullmatch(repo)
    if match is None:
        return url
    try:
        parsed = parse_go_url(match.group(2) or "")
    except GoURLError:
        return url
    parsed.path = _trim_repo_path(parsed.path)
    if not parsed.path:
        return f"ssh://{match.group(1)}"
    return f"ssh://{match.group(1)}/{go_url_string(parsed)}"


# --- go-containerregistry v0.21.7 name.ParseReference (weak validation), as Kargo uses it ---

_DOCKER_HUB = "index.docker.io"
_REPOSITORY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-./")
_TAG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


def _repository(name: str) -> tuple[str, str] | None:
    """``NewRepository``: ``(registry, repository)`` with Docker Hub defaults, or None."""
    registry, repo = "", name
    first, slash, remainder = name.partition("/")
    if slash and (first == "localhost" or "." in first or ":" in first):
        registry, repo = first, remainder
    if not 2 <= len(repo) <= 255 or not set(repo) <= _REPOSITORY_CHARS:
        return None
    try:
        if parse_go_url("//" + registry).host != registry:
            return None  # a registry must be a bare RFC 3986 authority
    except GoURLError:
        return None
    registry = _DOCKER_HUB if registry in ("", "docker.io") else registry
    if "/" not in repo and registry == _DOCKER_HUB:
        repo = "library/" + repo
    return registry, repo


def _tagged_repository(name: str) -> tuple[str, str] | None:
    base, colon, tag = name.rpartition(":")
    if colon and "/" not in tag:  # a colon followed by a path is a registry port, not a tag
        if not 1 <= len(tag) <= 128 or not set(tag) <= _TAG_CHARS:
            return None
        name = base
    return _repository(name)


def _digested_repository(name: str) -> tuple[str, str] | None:
    parts = name.split("@")
    if len(parts) != 2 or re.fullmatch(r"sha256:[a-f0-9]{64}", parts[1]) is None:
        return None
    tagged = _tagged_repository(parts[0])
    return _repository("/".join(tagged) if tagged else parts[0])


def normalize_image_repo_url(repo_url: str) -> str:
    """Normalise an image repository as Kargo's ``urls.NormalizeImage`` does: lower case,
    and Docker Hub's hosts and its ``library/`` namespace dropped."""
    reference = _sanitize(_go_lower(repo_url))
    parsed = _tagged_repository(reference) or _digested_repository(reference)
    if parsed is None:
        return repo_url
    registry, repository = parsed
    if registry in (_DOCKER_HUB, "registry-1.docker.io"):
        return repository.removeprefix("library/")
    return f"{registry}/{repository}"


def normalize_chart_repo_url(url: str) -> str:
    """Normalise a Helm chart repository URL as Kargo's ``urls.NormalizeChart`` does.

    The URL is stripped of non-printable characters and surrounding spaces, lower-cased, and
    loses an ``oci://`` prefix; what remains is normalised as an image repository, so Docker
    Hub hosts (``docker.io``, ``index.docker.io``, ``registry-1.docker.io``) and a
    ``library/`` namespace are dropped and a ``:tag`` suffix is ignored. ``https://`` chart
    repositories are otherwise kept, trailing slash included. A URL that Go's ``net/url``
    rejects comes back exactly as given.

    Args:
        url: The chart repository URL as written in a Warehouse or Freight.

    Returns:
        The canonical form that Kargo puts into Freight IDs (before joining the chart name).

    Examples:
        >>> normalize_chart_repo_url("OCI://ghcr.io/Akuity/charts/kargo")
        'ghcr.io/akuity/charts/kargo'
        >>> normalize_chart_repo_url("oci://registry-1.docker.io/bitnamicharts/redis")
        'bitnamicharts/redis'
        >>> normalize_chart_repo_url("https://Charts.Example.com/")
        'https://charts.example.com/'
    """
    repo = _sanitize(url)
    try:
        parse_go_url(repo)
    except GoURLError:
        return url
    return normalize_image_repo_url(_go_lower(repo).removeprefix("oci://"))


def go_path_join(*elements: str) -> str:
    """Go's ``path.Join``: join the non-empty elements, then ``path.Clean`` the result."""
    joined = "/".join(e for e in elements if e)
    if not joined:
        return ""
    rooted, segments = joined.startswith("/"), list[str]()
    for segment in joined.split("/"):
        if segment == "..":
            if segments and segments[-1] != "..":
                segments.pop()
            elif not rooted:
                segments.append(segment)
        elif segment not in ("", "."):
            segments.append(segment)
    return ("/" if rooted else "") + "/".join(segments) or "."
