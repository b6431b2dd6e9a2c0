"""The registry client discovery uses: one per process, reused across polls.

It owns the HTTP connection pools, the bearer-token cache and the :class:`ImageCache`, and
counts every request it sends so that a benchmark can report requests per tick.

Examples:
    >>> client = RegistryClient(cache=ImageCache())  # doctest: +SKIP
    >>> repo = client.repository("ghcr.io/akuity/guestbook")  # doctest: +SKIP
    >>> repo.list_tags()[:3]  # doctest: +SKIP
    ['v0.0.1', 'v0.0.2', 'v0.0.3']
"""

from collections import Counter
from collections.abc import Collection
from types import TracebackType

import httpx

from kargo_dagster.clients.deadlines import DEFAULT_REQUEST_DEADLINE
from kargo_dagster.clients.oci.artifacts import ArtifactRepository
from kargo_dagster.clients.oci.cache import ImageCache
from kargo_dagster.clients.oci.registry_ref import parse_repo_url
from kargo_dagster.clients.oci.repository import Repository
from kargo_dagster.clients.oci.transport import RegistryHTTP, Target
from kargo_dagster.credentials import NO_CREDENTIALS, CredentialStore, CredentialType

DEFAULT_PAGE_SIZE = 1000


class RegistryClient:
    """Reads OCI registries (Docker Registry HTTP API v2 / OCI distribution).

    Registries on loopback (``localhost``, 127.0.0.0/8, ``::1``) and those listed in
    ``insecure_registries`` are spoken to over plain HTTP; every other registry over HTTPS.
    ``insecure_skip_tls_verify`` on a repository only turns off certificate checks.

    Args:
        credentials: Where repository credentials come from (looked up per repository).
        transport: An httpx transport replacing the network, for tests of answers that no
            real registry gives.
        timeout: Seconds (or an ``httpx.Timeout``) allowed for each read of a request.
        deadline: Seconds each request may take in all, however steadily the registry
            answers.
        cache: Image metadata kept across polls; a fresh one when omitted.
        insecure_registries: ``host[:port]`` entries to reach over plain HTTP.
        page_size: How many tags to ask for per page (``n=``).

    Attributes:
        cache: The image metadata cache (serialise it with ``cache.to_json()``).
    """

    def __init__(
        self,
        credentials: CredentialStore = NO_CREDENTIALS,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout = 30.0,
        deadline: float = DEFAULT_REQUEST_DEADLINE,
        cache: ImageCache | None = None,
        insecure_registries: Collection[str] = (),
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self._credentials = credentials
        self._http = RegistryHTTP(transport=transport, timeout=timeout, deadline=deadline)
        self.cache = cache if cache is not None else ImageCache()
        self._insecure_registries = tuple(insecure_registries)
        self._page_size = page_size

    @property
    def requests_made(self) -> int:
        """How many HTTP requests this client has sent (token requests and redirects too)."""
        return self._http.requests_made

    @property
    def request_counts(self) -> Counter[str]:
        """Requests by kind: ``tags``, ``manifest-head``, ``manifest``, ``blob``, ``token``."""
        return self._http.request_counts

    def repository(
        self,
        repo_url: str,
        *,
        kind: CredentialType = "image",
        insecure_skip_tls_verify: bool = False,
    ) -> Repository:
        """A handle on one repository.

        Args:
            repo_url: ``ghcr.io/org/app``, ``nginx``, ``localhost:5000/app`` or
                ``oci://host/charts/app``.
            kind: Which credentials apply: ``image`` for images, ``helm`` for OCI charts.
            insecure_skip_tls_verify: Accept any certificate.

        Raises:
            DiscoveryError: ``repo_url`` is not an image repository reference.
        """
        target = self._target(repo_url, kind, insecure_skip_tls_verify, "pull")
        return Repository(self._http, target, self.cache, self._page_size)

    def _target(
        self, repo_url: str, kind: CredentialType, insecure_skip_tls_verify: bool, actions: str
    ) -> Target:
        ref = parse_repo_url(repo_url)
        return Target(
            ref=ref,
            base_url=ref.base_url(self._insecure_registries),
            credentials=self._credentials.lookup(kind, repo_url),
            verify_tls=not insecure_skip_tls_verify,
            actions=actions,
        )

    def artifact_repository(
        self,
        repo_url: str,
        *,
        kind: CredentialType = "image",
        insecure_skip_tls_verify: bool = False,
        push: bool = False,
    ) -> ArtifactRepository:
        """A handle on one repository's manifests and blobs as bytes, to copy or download.

        Args:
            repo_url: As for :meth:`repository`.
            kind: Which credentials apply: ``image`` for images, ``helm`` for OCI charts.
            insecure_skip_tls_verify: Accept any certificate.
            push: Ask the registry for permission to write too.

        Raises:
            DiscoveryError: ``repo_url`` is not an image repository reference.
        """
        actions = "pull,push" if push else "pull"
        target = self._target(repo_url, kind, insecure_skip_tls_verify, actions)
        return ArtifactRepository(self._http, target, self.cache, self._page_size)

    def close(self) -> None:
        """Close the connection pools."""
        self._http.close()

    def __enter__(self) -> "RegistryClient":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
