"""HTTP to OCI registries: authentication, request counting, and errors that say what failed.

Every request goes through :meth:`RegistryHTTP.send`, which adds the credentials the registry
asked for (nothing, Basic, or a cached bearer token), answers one ``401`` challenge by
authenticating and retrying, counts what it sent, and turns every failure into a
:class:`~kargo_dagster.errors.RepositoryError` naming the repository and the operation.
Messages never carry a password or token.
"""

import base64
import json
from collections import Counter
from dataclasses import dataclass

import httpx

from kargo_dagster.clients.deadlines import DEFAULT_REQUEST_DEADLINE
from kargo_dagster.clients.http_clients import ClientsByTLS
from kargo_dagster.clients.http_errors import transport_failure
from kargo_dagster.clients.oci.auth import Challenge, TokenCache, TokenKey, parse_challenge
from kargo_dagster.clients.oci.auth import parse_token_response as _parse_token
from kargo_dagster.clients.oci.registry_ref import RegistryRef
from kargo_dagster.clients.retry_after import parse_retry_after
from kargo_dagster.credentials import Credentials
from kargo_dagster.errors import RepositoryError
from kargo_dagster.redaction import ECHO_MASK, header_secrets, mask_secrets, redact_text


class RegistryNotFoundError(RepositoryError):
    """The registry answered 404: no such repository, tag, manifest or blob."""


@dataclass(frozen=True)
class Target:
    """The repository a request is for, and how to reach it.

    Attributes:
        ref: The repository.
        base_url: ``http(s)://host``.
        credentials: What to authenticate with, if anything.
        verify_tls: Whether to check the registry's certificate.
        actions: What the requests do, as a token scope asks for it (``pull``, or
            ``pull,push`` to write).
    """

    ref: RegistryRef
    base_url: str
    credentials: Credentials | None
    verify_tls: bool = True
    actions: str = "pull"

    @property
    def label(self) -> str:
        """The repository as messages name it."""
        return repr(redact_text(self.ref.repo_url))

    @property
    def scope(self) -> str:
        """The token scope for the repository and :attr:`actions`."""
        return f"repository:{self.ref.repository}:{self.actions}"


class RegistryHTTP:
    """Authenticated, counted HTTP to registries.

    Args:
        transport: An httpx transport to use instead of the network (tests only).
        timeout: Seconds (or an ``httpx.Timeout``) for each read of a request.
        deadline: Seconds each request may take in all (a redirect is another request).
        tokens: Where bearer tokens are cached.
    """

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float | httpx.Timeout = 30.0,
        deadline: float = DEFAULT_REQUEST_DEADLINE,
        tokens: TokenCache | None = None,
    ) -> None:
        self._timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self._clients = ClientsByTLS(deadline=deadline, transport=transport, timeout=self._timeout)
        self.tokens = tokens or TokenCache()
        # The last challenge each registry host sent, so later requests (other repositories
        # too) authenticate up front instead of collecting a 401 first.
        self._challenges: dict[str, Challenge] = {}
        self.requests_made = 0
        self.request_counts: Counter[str] = Counter()

    def close(self) -> None:
        """Close the connection pools."""
        self._clients.close()

    def send(
        self,
        target: Target,
        kind: str,
        method: str,
        url: str | httpx.URL,
        action: str,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send one registry request, authenticating as the registry demands.

        Args:
            target: The repository and how to reach it.
            kind: What the request is, for :attr:`request_counts` (``tags``, ``manifest``…).
            method: ``GET`` or ``HEAD``; ``POST``, ``PUT`` or ``PATCH`` to write.
            url: The full URL.
            action: What is being done, for messages (``listing the tags``).
            headers: Extra headers.
            content: The request body, for writes.

        Returns:
            A successful (2xx) response.

        Raises:
            RepositoryError: The request failed; :class:`RegistryNotFoundError` for 404.
        """
        authorization, fresh = self._authorization(target, self._challenges.get(target.ref.host))
        response = self._exchange(
            target, kind, method, url, action, headers, authorization, content
        )
        if response.status_code == 401 and not fresh:
            challenge = parse_challenge(response.headers.get("www-authenticate", ""))
            if challenge is not None and challenge.scheme in ("bearer", "basic"):
                self._challenges[target.ref.host] = challenge
                if challenge.scheme == "bearer":
                    self.tokens.forget(self._token_key(target, challenge))
                authorization, fresh = self._authorization(target, challenge)
                if fresh:
                    response = self._exchange(
                        target, kind, method, url, action, headers, authorization, content
                    )
        self._check(target, response, action)
        return response

    def _exchange(
        self,
        target: Target,
        kind: str,
        method: str,
        url: str | httpx.URL,
        action: str,
        headers: dict[str, str] | None,
        authorization: str | None,
        content: bytes | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if authorization:
            sent["Authorization"] = authorization
        client = self._clients.get(target.verify_tls)
        try:
            # Redirects are followed everywhere: blobs live in storage back ends, and some
            # registries (registry.k8s.io) redirect the whole API. httpx drops the
            # Authorization header when a redirect leaves the origin.
            response = client.request(
                method, url, headers=sent, content=content, follow_redirects=True
            )
        except httpx.HTTPError as exc:
            self._count(kind, 1)
            raise self._transport_error(target, action, exc) from None
        self._count(kind, 1 + len(response.history))
        return response

    def _count(self, kind: str, requests: int) -> None:
        self.requests_made += requests
        self.request_counts[kind] += requests

    # --- authentication ---

    def _token_key(self, target: Target, challenge: Challenge) -> TokenKey:
        user = target.credentials.username if target.credentials else ""
        return (challenge.realm, challenge.service, target.scope, user)

    def _authorization(
        self, target: Target, challenge: Challenge | None
    ) -> tuple[str | None, bool]:
        """The Authorization header value, and whether it is freshly obtained.

        A fresh value that is refused again is final; a cached token or no header at all
        earns one retry after the registry's challenge.
        """
        creds = target.credentials
        if challenge is None:
            return None, False
        if challenge.scheme == "basic":
            return (_basic(creds), True) if creds is not None else (None, False)
        key = self._token_key(target, challenge)
        cached = self.tokens.get(key)
        if cached is not None:
            return f"Bearer {cached}", False
        return f"Bearer {self._fetch_token(target, challenge, key)}", True

    def _fetch_token(self, target: Target, challenge: Challenge, key: TokenKey) -> str:
        realm = challenge.realm
        host = target.ref.host
        if not realm.startswith(("http://", "https://")):
            raise RepositoryError(
                f"registry {host} asked for a bearer token for image repository "
                f"{target.label} without a usable token service (realm {realm!r})"
            )
        params = {"scope": target.scope}
        if challenge.service:
            params["service"] = challenge.service
        creds = target.credentials
        headers = {"Authorization": _basic(creds)} if creds is not None else {}
        if creds is not None:
            params["account"] = creds.username
        url = httpx.URL(realm).copy_merge_params(params)
        action = "getting a registry token for"
        try:
            response = self._clients.get(target.verify_tls).get(url, headers=headers)
        except httpx.HTTPError as exc:
            self._count("token", 1)
            raise self._transport_error(target, action, exc) from None
        self._count("token", 1)
        if response.status_code in (401, 403):
            who = "the configured credentials" if target.credentials else "anonymous access"
            hint = (
                "check the image credentials for this repository"
                if target.credentials
                else "configure image credentials for this repository"
            )
            raise RepositoryError(
                f"the token service of registry {host} refused {who} for image repository "
                f"{target.label} (HTTP {response.status_code}); {hint}"
            )
        self._check(target, response, action)
        token = _parse_token(response.content, now=self.tokens.now())
        if token is None:
            raise RepositoryError(
                f"the token service of registry {host} answered without a token for image "
                f"repository {target.label} (expected JSON with 'token' or 'access_token')"
            )
        self.tokens.put(key, token)
        return token.value

    # --- errors ---

    def _transport_error(
        self, target: Target, action: str, exc: httpx.HTTPError
    ) -> RepositoryError:
        host = target.ref.host
        where = f"{action} image repository {target.label}"
        return RepositoryError(
            transport_failure(
                exc,
                server=f"registry {host}",
                during=where,
                timeout=self._timeout,
                scrub=lambda text: _scrub(text, target),
                connect_to=f"registry {host} ({target.base_url}) while {where}",
            )
        )

    def _check(self, target: Target, response: httpx.Response, action: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        host = target.ref.host
        where = f"while {action} image repository {target.label}"
        detail = _error_detail(response, target)
        if status == 401:
            hint = (
                "the configured credentials were not accepted"
                if target.credentials
                else "it requires credentials; configure image credentials for this repository"
            )
            raise RepositoryError(f"registry {host} answered HTTP 401 {where}: {hint}{detail}")
        if status == 403:
            raise RepositoryError(
                f"registry {host} denied access (HTTP 403) {where}: the credentials lack "
                f"permission to {target.actions.replace(',', ' or ')}{detail}"
            )
        if status == 404:
            raise RegistryNotFoundError(f"registry {host} answered HTTP 404 {where}{detail}")
        if status == 429:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
            raise RepositoryError(
                f"registry {host} is rate limiting requests (HTTP 429) {where}{wait}{detail}",
                retry_after=retry_after,
            )
        if status >= 500:
            raise RepositoryError(
                f"registry {host} failed with HTTP {status} {where}{detail}",
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        raise RepositoryError(f"registry {host} answered HTTP {status} {where}{detail}")


def _basic(credentials: Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password.get_secret_value()}"
    return "Basic " + base64.b64encode(pair.encode()).decode()


def _scrub(text: str, target: Target, request: httpx.Request | None = None) -> str:
    secrets = list(target.credentials.secrets()) if target.credentials is not None else []
    if request is not None:
        # What was sent, bearer tokens included: a registry may echo it back.
        secrets += header_secrets(request.headers.get("authorization", ""))
    return mask_secrets(text, secrets, mask=ECHO_MASK)


def _error_detail(response: httpx.Response, target: Target) -> str:
    """`` (CODE: message)`` from a distribution-style error body, if there is one."""
    try:
        errors = json.loads(response.content).get("errors")
        first = errors[0]
        text = f"{first.get('code', '')}: {first.get('message', '')}".strip(": ")
    except (ValueError, AttributeError, IndexError, KeyError, TypeError):
        return ""
    # Masked before it is cut, so a secret cut in two is still masked.
    text = _scrub(str(text), target, response.request)[:200]
    return f" ({text})" if text else ""
