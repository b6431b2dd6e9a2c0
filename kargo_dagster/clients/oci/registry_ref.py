"""Where an image repository lives: its registry host and repository path.

Image references are read the way Docker and Kargo read them: the first path component is a
registry only when it looks like a host (it has a ``.`` or a ``:``, is ``localhost`` or is a
bracketed IPv6 address); otherwise the image is on Docker Hub, whose one-component names live
under ``library/``. ``oci://`` (how Helm charts are written) is accepted and ignored.
"""

import ipaddress
import re
from collections.abc import Collection
from dataclasses import dataclass

from kargo_dagster.errors import DiscoveryError
from kargo_dagster.redaction import redact_text

DOCKER_HUB_HOST = "registry-1.docker.io"
_DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

# One path component of a repository name, as the distribution spec defines it.
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_HOST = re.compile(r"(?:\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::[0-9]{1,5})?")


@dataclass(frozen=True)
class RegistryRef:
    """An image repository in a registry.

    Attributes:
        host: The registry's ``host[:port]`` (``ghcr.io``, ``127.0.0.1:5000``, ``[::1]:5000``).
        repository: The repository path inside the registry (``library/nginx``).
        repo_url: The URL as the subscription wrote it, for credential look-ups and messages.
    """

    host: str
    repository: str
    repo_url: str

    @property
    def hostname(self) -> str:
        """The host without its port or IPv6 brackets."""
        if self.host.startswith("["):
            return self.host[1 : self.host.index("]")]
        return self.host.rsplit(":", 1)[0] if ":" in self.host else self.host

    @property
    def is_loopback(self) -> bool:
        """Whether the registry runs on this machine (``localhost``, 127.0.0.0/8, ``::1``)."""
        if self.hostname == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.hostname).is_loopback
        except ValueError:
            return False

    def uses_plain_http(self, insecure_registries: Collection[str] = ()) -> bool:
        """Whether to talk plain HTTP: only to loopback or explicitly insecure registries.

        Args:
            insecure_registries: ``host[:port]`` entries (Docker's ``insecure-registries``);
                an entry without a port matches the host on any port.
        """
        if self.is_loopback:
            return True
        wanted = {entry.strip().lower().rstrip("/") for entry in insecure_registries}
        return self.host in wanted or self.hostname in wanted

    def base_url(self, insecure_registries: Collection[str] = ()) -> str:
        """``http(s)://host`` for this registry."""
        scheme = "http" if self.uses_plain_http(insecure_registries) else "https"
        return f"{scheme}://{self.host}"

    def __str__(self) -> str:
        return f"{self.host}/{self.repository}"


def parse_repo_url(repo_url: str) -> RegistryRef:
    """Split an image repository URL into registry host and repository path.

    Args:
        repo_url: ``ghcr.io/org/app``, ``docker.io/library/nginx``, ``nginx``,
            ``localhost:5000/app`` or ``oci://registry.example.com/charts/app``; no tag or
            digest.

    Returns:
        The registry host (Docker Hub is ``registry-1.docker.io``) and the repository path.

    Raises:
        DiscoveryError: The URL is not an image repository reference.

    Examples:
        >>> str(parse_repo_url("nginx"))
        'registry-1.docker.io/library/nginx'
        >>> parse_repo_url("localhost:5000/team/app").host
        'localhost:5000'
    """
    text = repo_url.strip()
    if text[:6].lower() == "oci://":
        text = text[6:]
    text = text.rstrip("/").lower()
    shown = redact_text(repo_url)
    if "@" in text:
        raise DiscoveryError(
            f"image repository {shown!r} must not carry a digest or credentials; "
            "write the repository alone (e.g. ghcr.io/org/app)"
        )
    first, slash, rest = text.partition("/")
    if slash and (first == "localhost" or "." in first or ":" in first or first.startswith("[")):
        host, path = first, rest
        if not _HOST.fullmatch(host):
            raise DiscoveryError(f"image repository {shown!r} has an invalid registry {host!r}")
    else:
        host, path = "", text
    if ":" in path:
        raise DiscoveryError(
            f"image repository {shown!r} must not include a tag; put the tag selection in the "
            "subscription (constraint, allowTagsRegexes) instead"
        )
    components = path.split("/")
    if not path or not all(_COMPONENT.fullmatch(c) for c in components):
        raise DiscoveryError(
            f"image repository {shown!r} is not a valid repository name (lower-case letters, "
            "digits and separators . _ - between slash-separated components)"
        )
    if host in ("", *_DOCKER_HUB_ALIASES):
        host = DOCKER_HUB_HOST
        if len(components) == 1:
            path = f"library/{path}"
    return RegistryRef(host=host, repository=path, repo_url=repo_url)
