"""Google Artifact Registry (and Container Registry) access tokens for a service account key.

An image or helm credential for ``<region>-docker.pkg.dev`` or ``gcr.io`` may hold a
service account key file (Kargo's ``gcpServiceAccountKey``) instead of a password. Google's
OAuth token endpoint trades a JSON Web Token signed with the key for an access token valid
for an hour, which registries accept as the password of user ``oauth2accesstoken``. Each
token is kept (per key, in memory for the process) until five minutes before it expires.

Without a key, :meth:`GoogleTokens.ambient_credentials` asks with the machine's own Google
identity instead (google-auth's default credentials: ``GOOGLE_APPLICATION_CREDENTIALS``,
GKE Workload Identity, the metadata server), as Kargo does with workload identity.

The exchange is google-auth's; it comes with the Kubernetes client this project depends
on, and ``kargo-dagster[gcp]`` names it. Without it, such a credential is a
:class:`~kargo_dagster.errors.CredentialsError` saying so.
"""

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from pydantic import SecretStr

from kargo_dagster.clients.token_cache import TokenCache
from kargo_dagster.credentials import Credentials, GcpServiceAccountKey
from kargo_dagster.errors import CredentialsError
from kargo_dagster.redaction import mask_secrets

__all__ = ["TOKEN_USERNAME", "GoogleTokens", "is_google_registry_url"]

TOKEN_USERNAME = "oauth2accesstoken"
# Reading images and charts needs no more (Kargo asks for the same scope).
SCOPE = "https://www.googleapis.com/auth/devstorage.read_only"
_GOOGLE_REGISTRY = re.compile(r"^(?:oci://)?(?:(?:[^/]+\.)?gcr\.io|[^/]+-docker\.pkg\.dev)/")


def is_google_registry_url(repo_url: str) -> bool:
    """Whether ``repo_url`` is in Artifact Registry or Container Registry."""
    return _GOOGLE_REGISTRY.match(repo_url.strip().lower()) is not None


class GoogleTokens:
    """Access tokens for service account keys, kept until shortly before expiry.

    Args:
        clock: Seconds since the epoch (``time.time``); replaceable in tests.
    """

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._tokens: TokenCache[SecretStr] = TokenCache(clock=clock)

    def credentials_for(self, key: GcpServiceAccountKey) -> Credentials:
        """User ``oauth2accesstoken`` and an access token for ``key``.

        Raises:
            CredentialsError: google-auth is missing, or Google refused the key or could
                not be reached. The message names the service account, never the key.
        """
        token = self._tokens.get([key.key_json.get_secret_value()], lambda: _fetch(key))
        return Credentials(TOKEN_USERNAME, token)

    def ambient_credentials(self) -> Credentials:
        """User ``oauth2accesstoken`` and an access token for the machine's own identity.

        Raises:
            CredentialsError: google-auth is missing, no identity was found, or Google
                refused it.
        """
        return Credentials(TOKEN_USERNAME, self._tokens.get(["ambient"], _fetch_ambient))


def _fetch(key: GcpServiceAccountKey) -> tuple[SecretStr, float]:
    where = f"Google service account {key.client_email}"
    google = _google_auth(where)
    info = json.loads(key.key_json.get_secret_value())

    def credentials() -> Any:
        return google.service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])

    return _refreshed(google, credentials, where, key.secrets())


def _fetch_ambient() -> tuple[SecretStr, float]:
    where = "Google registries with the machine's Google identity"
    google = _google_auth(where)

    def credentials() -> Any:
        found, _ = google.auth.default(scopes=[SCOPE])
        return found

    return _refreshed(google, credentials, where, ())


@dataclass(frozen=True)
class _GoogleAuth:
    """google-auth's modules, imported only when a Google credential is used."""

    auth: Any
    service_account: Any
    request: Any
    error: type[Exception]


def _google_auth(where: str) -> _GoogleAuth:
    try:
        import google.auth
        from google.auth.exceptions import GoogleAuthError
        from google.auth.transport.requests import Request
        from google.oauth2 import service_account
    except ImportError:
        raise CredentialsError(
            f"{where}: Google registry credentials need google-auth: install kargo-dagster[gcp]"
        ) from None
    return _GoogleAuth(google.auth, service_account, Request, GoogleAuthError)


def _refreshed(
    google: _GoogleAuth, make: Callable[[], Any], where: str, secrets: Sequence[str]
) -> tuple[SecretStr, float]:
    try:
        credentials = make()
        credentials.refresh(google.request())
    except (google.error, ValueError) as error:
        # google-auth puts its message first and the endpoint's whole answer after it.
        message = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
        detail = mask_secrets(message[:300], secrets)
        raise CredentialsError(f"{where}: no access token ({detail})") from None
    if not credentials.token or credentials.expiry is None:
        raise CredentialsError(f"{where}: Google answered with no access token")
    # google-auth gives the expiry as a naive UTC time.
    expires_at = credentials.expiry.replace(tzinfo=UTC).timestamp()
    return SecretStr(credentials.token), expires_at
