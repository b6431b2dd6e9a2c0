"""Google Artifact Registry (and Container Registry) access tokens for a service account key.

An image or helm credential for ``<region>-docker.pkg.dev`` or ``gcr.io`` may hold a
service account key file (Kargo's ``gcpServiceAccountKey``) instead of a password. Google's
OAuth token endpoint trades a JSON Web Token signed with the key for an access token valid
for an hour, which registries accept as the password of user ``oauth2accesstoken``. Each
token is kept (per key, in memory for the process) until five minutes before it expires.

The exchange is google-auth's; it comes with the Kubernetes client this project depends
on, and ``kargo-dagster[gcp]`` names it. Without it, such a credential is a
:class:`~kargo_dagster.errors.CredentialsError` saying so.
"""

import json
import re
import time
from collections.abc import Callable
from datetime import UTC

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


def _fetch(key: GcpServiceAccountKey) -> tuple[SecretStr, float]:
    where = f"Google service account {key.client_email}"
    try:
        from google.auth.exceptions import GoogleAuthError
        from google.auth.transport.requests import Request
        from google.oauth2 import service_account
    except ImportError:
        raise CredentialsError(
            f"{where}: Google registry credentials need google-auth: install kargo-dagster[gcp]"
        ) from None
    info = json.loads(key.key_json.get_secret_value())
    try:
        credentials = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
        credentials.refresh(Request())
    except (GoogleAuthError, ValueError) as error:
        # google-auth puts its message first and the endpoint's whole answer after it.
        message = error.args[0] if error.args and isinstance(error.args[0], str) else str(error)
        detail = mask_secrets(message[:300], key.secrets())
        raise CredentialsError(f"{where}: no access token ({detail})") from None
    if not credentials.token or credentials.expiry is None:
        raise CredentialsError(f"{where}: Google answered with no access token")
    # google-auth gives the expiry as a naive UTC time.
    expires_at = credentials.expiry.replace(tzinfo=UTC).timestamp()
    return SecretStr(credentials.token), expires_at
