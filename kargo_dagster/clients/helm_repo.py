"""Classic (HTTP) Helm chart repositories: the chart versions listed in ``<repo>/index.yaml``.

Kargo reads the whole index on every discovery. Indexes of big repositories are megabytes,
so this client keeps each index it read (reduced to chart names and versions) with its
``ETag`` and ``Last-Modified``, asks again with ``If-None-Match``/``If-Modified-Since``, and
reuses what it has on ``304 Not Modified``: a steady-state poll downloads nothing.

Every failure becomes a :class:`~kargo_dagster.errors.RepositoryError` (or, for a chart the
index does not list, :class:`ChartNotFoundError`) naming the repository; messages never
contain a password.
"""

import difflib
from types import TracebackType

import httpx

from kargo_dagster.clients.deadlines import DEFAULT_REQUEST_DEADLINE
from kargo_dagster.clients.helm_index import ChartIndex, parse_index
from kargo_dagster.clients.http_clients import ClientsByTLS
from kargo_dagster.clients.http_errors import transport_failure
from kargo_dagster.clients.retry_after import parse_retry_after
from kargo_dagster.credentials import NO_CREDENTIALS, Credentials, CredentialStore
from kargo_dagster.errors import DiscoveryError, RepositoryError
from kargo_dagster.redaction import ECHO_MASK, mask_secrets, redact_text


class ChartNotFoundError(DiscoveryError):
    """The repository's index does not list the chart."""


class HelmRepoClient:
    """Reads chart versions from HTTP(S) Helm chart repositories.

    Args:
        credentials: Where repository credentials come from (kind ``helm``, sent with HTTP
            Basic authentication).
        timeout: Seconds (or an ``httpx.Timeout``) allowed for each read of a request.
        deadline: Seconds each request may take in all, however steadily the server answers.
        transport: An httpx transport replacing the network, for tests of answers that no
            real server gives.

    Attributes:
        requests_made: HTTP requests sent so far (redirects count).
        downloads: Responses that carried a full index (not ``304``).
    """

    def __init__(
        self,
        credentials: CredentialStore = NO_CREDENTIALS,
        *,
        timeout: float | httpx.Timeout = 30.0,
        deadline: float = DEFAULT_REQUEST_DEADLINE,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._credentials = credentials
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._clients = ClientsByTLS(
            deadline=deadline, transport=transport, timeout=self._timeout, follow_redirects=True
        )
        self._cache: dict[tuple[str, str, bool], ChartIndex] = {}
        self.requests_made = 0
        self.downloads = 0

    def __enter__(self) -> "HelmRepoClient":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pools (the index cache stays)."""
        self._clients.close()

    def chart_versions(
        self, repo_url: str, name: str, *, insecure_skip_tls_verify: bool = False
    ) -> list[str]:
        """The versions the repository's index lists for chart ``name``, in index order.

        Args:
            repo_url: ``https://…`` repository URL (``/index.yaml`` is appended).
            name: The chart's name.
            insecure_skip_tls_verify: Do not check the server's certificate.

        Raises:
            ChartNotFoundError: The index does not list the chart.
            RepositoryError: The repository could not be read, or its index is malformed.
        """
        index = self.index(repo_url, insecure_skip_tls_verify=insecure_skip_tls_verify)
        where = _label(repo_url)
        if name in index.malformed:
            raise RepositoryError(
                f"the index of Helm chart repository {where} is malformed for chart {name!r}: "
                f"{index.malformed[name]}"
            )
        if name not in index.versions:
            raise ChartNotFoundError(
                f"chart {name!r} is not in Helm chart repository {where}{_suggest(name, index)}"
            )
        return list(index.versions[name])

    def index(self, repo_url: str, *, insecure_skip_tls_verify: bool = False) -> ChartIndex:
        """The repository's index, downloaded only when it changed since the last call.

        Raises:
            RepositoryError: The repository could not be read, or its index is malformed.
        """
        credentials = self._credentials.lookup("helm", repo_url)
        key = (repo_url, credentials.username if credentials else "", insecure_skip_tls_verify)
        cached = self._cache.get(key)
        headers: dict[str, str] = {}
        if cached is not None and cached.etag:
            headers["If-None-Match"] = cached.etag
        if cached is not None and cached.last_modified:
            headers["If-Modified-Since"] = cached.last_modified
        response = self._get(repo_url, headers, credentials, not insecure_skip_tls_verify)
        if response.status_code == 304 and cached is not None:
            return cached
        self._check(repo_url, response, credentials)
        self.downloads += 1
        parsed = parse_index(response.content, f"Helm chart repository {_label(repo_url)}")
        index = ChartIndex(
            parsed.versions,
            parsed.malformed,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
        )
        if index.etag or index.last_modified:
            self._cache[key] = index
        else:
            self._cache.pop(key, None)
        return index

    def _get(
        self,
        repo_url: str,
        headers: dict[str, str],
        credentials: Credentials | None,
        verify: bool,
    ) -> httpx.Response:
        url = index_url(repo_url)
        auth = (
            httpx.BasicAuth(credentials.username, credentials.password.get_secret_value())
            if credentials is not None
            else None
        )
        try:
            response = self._clients.get(verify).get(
                url, headers=headers, auth=auth if auth is not None else httpx.USE_CLIENT_DEFAULT
            )
        except httpx.InvalidURL as exc:
            self.requests_made += 1
            raise RepositoryError(
                f"Helm chart repository URL {_label(repo_url)} is not a valid URL "
                f"({_scrub(str(exc), credentials)})"
            ) from None
        except httpx.HTTPError as exc:
            self.requests_made += 1
            raise self._transport_error(repo_url, exc, credentials) from None
        self.requests_made += 1 + len(response.history)
        return response

    def _transport_error(
        self, repo_url: str, exc: httpx.HTTPError, credentials: Credentials | None
    ) -> RepositoryError:
        return RepositoryError(
            transport_failure(
                exc,
                server=f"Helm chart repository {_label(repo_url)}",
                during="its index was read",
                timeout=self._timeout,
                scrub=lambda text: _scrub(text, credentials),
            )
        )

    def _check(
        self, repo_url: str, response: httpx.Response, credentials: Credentials | None
    ) -> None:
        status = response.status_code
        if status == 200:
            return
        where = f"Helm chart repository {_label(repo_url)}"
        url = redact_text(str(response.url))
        if status == 401:
            hint = (
                "the configured helm credentials were not accepted"
                if credentials is not None
                else "it requires credentials; configure helm credentials for this repository"
            )
            raise RepositoryError(f"{where} answered HTTP 401 for {url}: {hint}")
        if status == 403:
            raise RepositoryError(
                f"{where} denied access (HTTP 403) to {url}: the credentials lack permission"
            )
        if status == 404:
            raise RepositoryError(
                f"{where} has no index at {url} (HTTP 404); check that repoURL is the "
                "repository's address (the one given to 'helm repo add')"
            )
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        if status == 429:
            raise RepositoryError(
                f"{where} is rate limiting requests (HTTP 429) for {url}{wait}",
                retry_after=retry_after,
            )
        if status >= 500:
            raise RepositoryError(
                f"{where} failed with HTTP {status} for {url}{wait}", retry_after=retry_after
            )
        raise RepositoryError(f"{where} answered HTTP {status} for {url}; expected 200")


def index_url(repo_url: str) -> str:
    """``<repo_url>/index.yaml``, as Kargo builds it (one trailing slash dropped)."""
    return f"{repo_url.removesuffix('/')}/index.yaml"


def _label(repo_url: str) -> str:
    return repr(redact_text(repo_url))


def _scrub(text: str, credentials: Credentials | None) -> str:
    return mask_secrets(text, credentials.secrets() if credentials else (), mask=ECHO_MASK)


def _suggest(name: str, index: ChartIndex) -> str:
    names = sorted({*index.versions, *index.malformed})
    if not names:
        return " (its index lists no charts)"
    close = difflib.get_close_matches(name, names, n=3)
    if close:
        return f" (did you mean {', '.join(repr(c) for c in close)}?)"
    shown = ", ".join(repr(n) for n in names[:10])
    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
    return f" (its index lists {shown}{more})"
