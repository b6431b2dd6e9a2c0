"""GitHub App installation access tokens, as Kargo gets them for a GitHub App credential.

A git credential may name a GitHub App instead of a password: the App's ID (or client ID),
the installation and the App's private key. For each repository, this module signs a JSON
Web Token with the key (RS256, valid for nine minutes), trades it at
``POST /app/installations/{id}/access_tokens`` for an installation access token scoped to
that repository, and hands out username ``x-access-token`` with the token as password, which
git over HTTPS and GitHub's REST API both accept.

Tokens live an hour; each is kept (per App, installation, key and repository, in memory for
the process) and used until five minutes before it expires, then a new one is fetched. The
API is ``https://api.github.com`` for github.com and ``<scheme>://<host>/api/v3`` for GitHub
Enterprise Server, as the repository URL says.
"""

import time
from collections.abc import Callable

import httpx
import jwt
from pydantic import SecretStr

from kargo_dagster.clients.api_timestamps import api_timestamp
from kargo_dagster.clients.pull_requests.http import split_repo_url
from kargo_dagster.clients.token_cache import TokenCache
from kargo_dagster.credentials import Credentials, GitHubApp
from kargo_dagster.errors import CredentialsError
from kargo_dagster.redaction import mask_secrets, redact_url

__all__ = ["TOKEN_USERNAME", "GitHubAppTokens", "api_base_url"]

TOKEN_USERNAME = "x-access-token"

# GitHub accepts App JWTs valid for at most ten minutes; the issue time is set back a minute
# for clocks that run ahead of GitHub's.
_JWT_LIFETIME = 540
_JWT_BACKDATE = 60


def api_base_url(repo_url: str) -> str:
    """GitHub's REST API for the server ``repo_url`` is on."""
    scheme, host, _ = split_repo_url(repo_url)
    return "https://api.github.com" if host == "github.com" else f"{scheme}://{host}/api/v3"


class GitHubAppTokens:
    """Installation access tokens, fetched when needed and kept until shortly before expiry.

    Args:
        clock: Seconds since the epoch (``time.time``); replaceable in tests.
        transport: The HTTP transport; default: httpx's.
        timeout: Seconds allowed for each request.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._clock = clock
        self._transport = transport
        self._timeout = timeout
        self._tokens: TokenCache[SecretStr] = TokenCache(clock=clock)

    def credentials_for(
        self, app: GitHubApp, repo_url: str, *, insecure_skip_tls_verify: bool = False
    ) -> Credentials:
        """Username ``x-access-token`` and an installation token good for ``repo_url``.

        Raises:
            CredentialsError: The key is not an RSA private key, GitHub refused the App or
                the installation, or could not be reached. The message names the App and
                the installation, never the key or a token.
        """
        made_from = [
            app.app_id,
            str(app.installation_id),
            app.private_key.get_secret_value(),
            repo_url,
        ]
        token = self._tokens.get(
            made_from, lambda: self._fetch(app, repo_url, insecure_skip_tls_verify)
        )
        return Credentials(TOKEN_USERNAME, token)

    def _fetch(self, app: GitHubApp, repo_url: str, insecure: bool) -> tuple[SecretStr, float]:
        where = f"GitHub App {app.app_id} installation {app.installation_id}"
        now = int(self._clock())
        claims = {"iat": now - _JWT_BACKDATE, "exp": now + _JWT_LIFETIME, "iss": app.app_id}
        try:
            signed = jwt.encode(claims, app.private_key.get_secret_value(), algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError):
            raise CredentialsError(
                f"{where}: githubAppPrivateKey is not a PEM-encoded RSA private key"
            ) from None
        url = f"{api_base_url(repo_url)}/app/installations/{app.installation_id}/access_tokens"
        _, _, path = split_repo_url(repo_url)
        headers = {
            "Authorization": f"Bearer {signed}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        body = {"repositories": [path.rsplit("/", 1)[-1]]} if "/" in path else {}
        try:
            with httpx.Client(
                transport=self._transport, timeout=self._timeout, verify=not insecure
            ) as client:
                response = client.post(url, headers=headers, json=body)
        except httpx.HTTPError as error:
            raise CredentialsError(
                f"{where}: cannot reach {redact_url(url)} for an access token "
                f"({type(error).__name__})"
            ) from None
        if response.status_code != 201:
            detail = mask_secrets(response.text[:300], [signed])
            raise CredentialsError(
                f"{where}: GitHub refused an access token for {redact_url(repo_url)} "
                f"(HTTP {response.status_code}: {detail.strip() or 'no detail'})"
            )
        return _token(response, where)


def _token(response: httpx.Response, where: str) -> tuple[SecretStr, float]:
    try:
        answer = response.json()
        value, expiry = answer["token"], api_timestamp(answer["expires_at"])
    except (ValueError, KeyError, TypeError):
        value = expiry = None
    if expiry is None:
        raise CredentialsError(f"{where}: GitHub answered with no readable access token") from None
    if not isinstance(value, str) or not value:
        raise CredentialsError(f"{where}: GitHub answered with an empty access token")
    return SecretStr(value), expiry.timestamp()
