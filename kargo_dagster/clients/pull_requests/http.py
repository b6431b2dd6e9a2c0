"""The HTTP plumbing the git provider clients share: requests, errors, JSON.

A failed request becomes a :class:`~kargo_dagster.clients.pull_requests.provider.GitProviderError`
naming the provider, the repository (credentials redacted) and what was being done; the
token is only ever in a request header, never in a message (not even when an API echoes it).
"""

from collections.abc import Iterator, Sequence
from typing import Any, Self
from urllib.parse import urlsplit

import httpx

from kargo_dagster.clients.deadlines import RequestDeadlineExceeded
from kargo_dagster.clients.http_clients import USER_AGENT
from kargo_dagster.clients.pull_requests.provider import GitProviderError
from kargo_dagster.clients.retry_after import parse_retry_after
from kargo_dagster.redaction import ECHO_MASK, header_secrets, mask_secrets, redact_text
from kargo_dagster.urls.normalize import normalize_git_url

__all__ = [
    "PAGE_SIZE",
    "ProviderClient",
    "api_object",
    "owner_and_name",
    "split_repo_url",
]

# The largest page both APIs serve.
PAGE_SIZE = 100


def split_repo_url(repo_url: str) -> tuple[str, str, str]:
    """``(scheme, host[:port], path)`` of a normalised repository URL, scheme http(s)."""
    parts = urlsplit(normalize_git_url(repo_url))
    scheme = parts.scheme if parts.scheme in ("http", "https") else "https"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return scheme, host, parts.path.strip("/")


def owner_and_name(path: str, shown: str) -> tuple[str, str]:
    """``(owner, name)`` of a repository path that has exactly these two parts.

    Raises:
        GitProviderError: The path has other parts (``shown`` is the repository's URL).
    """
    parts = path.split("/")
    if len(parts) != 2 or not all(parts):
        raise GitProviderError(f"could not extract repository owner and name from repoURL {shown}")
    return parts[0], parts[1]


def api_object(value: Any, what: str, label: str) -> dict[str, Any]:
    """``value`` when it is a JSON object.

    Raises:
        GitProviderError: It is not (``what`` names the object, ``label`` the repository).
    """
    if not isinstance(value, dict):
        raise GitProviderError(f"{label}: the API returned a malformed {what}")
    return value


class ProviderClient:
    """One provider API for one repository over an ``httpx`` client.

    Attributes:
        provider_label: The provider's name (``GitHub``, ``Azure DevOps``), for messages.
        repo_label: The repository's URL with any credentials redacted.
    """

    provider_label = ""

    def __init__(
        self,
        repo_url: str,
        client: httpx.Client,
        headers: dict[str, str],
        *,
        secrets: Sequence[str] = (),
    ) -> None:
        self.repo_label = redact_text(repo_url)
        self.client = client
        # Sent with every request, after the User-Agent every provider sees: the token, Accept.
        self.headers = {"User-Agent": USER_AGENT, **headers}
        # What the headers carry encoded (a Basic pair's password), for masking echoes.
        self._secrets = [secret for secret in secrets if secret]

    def close(self) -> None:
        """Release the connections."""
        self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(self, method: str, url: str, *, action: str, **kwargs: Any) -> httpx.Response:
        """Send a request; answers of 400 and above raise.

        Raises:
            GitProviderError: The API is unreachable or refused (``action`` says what the
                request was for).
        """
        try:
            response = self.client.request(method, url, headers=self.headers, **kwargs)
        except RequestDeadlineExceeded as error:
            raise GitProviderError(
                f"{self.provider_label} API for {self.repo_label} was too slow while trying "
                f"to {action}: {error}",
                retryable=True,
            ) from None
        except httpx.HTTPError as error:
            raise GitProviderError(
                f"{self.provider_label} API for {self.repo_label} is unreachable while trying "
                f"to {action}: {type(error).__name__}",
                retryable=True,
            ) from error
        if response.status_code >= 400:
            raise self.failure(response, action)
        return response

    def request_json(self, method: str, url: str, *, action: str, **kwargs: Any) -> Any:
        """Send a request (as :meth:`request` does) and read its answer's JSON body.

        Raises:
            GitProviderError: The API is unreachable, refused, or answered without JSON.
        """
        return self.json(self.request(method, url, action=action, **kwargs), action)

    def failure(self, response: httpx.Response, action: str) -> GitProviderError:
        """The error for a refused request, retryable when the provider may recover."""
        status = response.status_code
        # Masked before it is cut, so a secret cut in two is still masked.
        detail = mask_secrets(_error_detail(response), self._sent_secrets(), mask=ECHO_MASK)[:500]
        where = f"{self.provider_label} API for {self.repo_label}"
        if status in (401, 403) and not _rate_limited(response):
            reason = "authentication failed (check the git credentials' token)"
        elif status == 404:
            reason = "not found (or the token may not see it)"
        else:
            reason = f"HTTP {status}"
        message = f"failed to {action}: {where}: {reason}"
        if detail:
            message += f": {detail}"
        retryable = status >= 500 or status == 429 or _rate_limited(response)
        return GitProviderError(
            redact_text(message),
            status=status,
            retryable=retryable,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )

    def _sent_secrets(self) -> list[str]:
        # An API may echo the token it refused.
        sent = (self.headers.get("Authorization", ""), self.headers.get("PRIVATE-TOKEN", ""))
        return [secret for value in sent for secret in header_secrets(value)] + self._secrets

    def json(self, response: httpx.Response, action: str) -> Any:
        """The answer's JSON body.

        Raises:
            GitProviderError: The body is not JSON.
        """
        try:
            return response.json()
        except ValueError as error:
            raise GitProviderError(
                f"failed to {action}: {self.provider_label} API for {self.repo_label} "
                "answered with something that is not JSON",
                status=response.status_code,
            ) from error

    def link_pages(self, url: str, params: dict[str, str], action: str) -> Iterator[list[Any]]:
        """The pages of a list the API links with ``Link: <...>; rel="next"`` headers.

        Raises:
            GitProviderError: A page could not be had, or is not a JSON list.
        """
        next_url: str | None = url
        query: dict[str, str] | None = params
        while next_url:
            response = self.request("GET", next_url, action=action, params=query)
            yield self.json_list(response, action)
            # The "next" link carries every parameter already.
            next_url = response.links.get("next", {}).get("url")
            query = None

    def json_list(self, response: httpx.Response, action: str) -> list[Any]:
        """The answer's JSON body, which must be a list.

        Raises:
            GitProviderError: The body is not a JSON list.
        """
        items = self.json(response, action)
        if not isinstance(items, list):
            raise GitProviderError(f"{self.repo_label}: the API returned a malformed list")
        return items


def _rate_limited(response: httpx.Response) -> bool:
    return response.status_code in (403, 429) and response.headers.get("X-RateLimit-Remaining") in (
        "0",
    )


def _error_detail(response: httpx.Response) -> str:
    # The APIs put a human-readable reason in "message" (GitLab sometimes a list or map).
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    message = body.get("message") or body.get("error") or ""
    # Bitbucket nests its reason: {"error": {"message": ...}}.
    if isinstance(message, dict):
        message = message.get("message") or ""
    if isinstance(message, list):
        message = "; ".join(str(item) for item in message)
    message = str(message)
    # GitHub's validation failures say what failed in "errors".
    errors = body.get("errors")
    if isinstance(errors, list):
        details = [
            str(e.get("message")) for e in errors if isinstance(e, dict) and e.get("message")
        ]
        if details:
            message = f"{message} ({'; '.join(details)})"
    return message
