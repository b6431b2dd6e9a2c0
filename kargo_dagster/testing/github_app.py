"""A fake GitHub App for tests: its key pair, and the installation tokens GitHub would issue.

:class:`FakeGitHubApp` makes an RSA key pair for an App, checks the JSON Web Tokens signed
with its private key the way GitHub does (RS256, issued by the App, valid for at most ten
minutes) and issues installation access tokens that expire after ``token_lifetime``
seconds of its clock. Give it to
:class:`~kargo_dagster.testing.git_provider_api.GitProviderAPI` (``github_app=``) and that
server answers ``POST /api/v3/app/installations/{id}/access_tokens``, accepts the tokens
for its GitHub API and for git over HTTP (Basic authentication, any username), and refuses
them once expired.

Examples:
    >>> app = FakeGitHubApp()  # doctest: +SKIP
    >>> with GitProviderAPI(token="unused", git_backend=..., github_app=app) as api:
    ...     key = app.private_key  # what a githubAppPrivateKey holds
"""

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kargo_dagster.testing.provider_state import Reply

__all__ = ["FakeGitHubApp", "IssuedToken"]

# GitHub refuses App JWTs that are valid for longer than this.
_MAX_JWT_LIFETIME = 600
# How far ahead of the server's clock an "iat" may be, for clock drift.
_LEEWAY = 60


@dataclass(frozen=True)
class IssuedToken:
    """An installation access token the fake issued."""

    token: str
    expires_at: float
    repositories: tuple[str, ...]


class FakeGitHubApp:
    """A GitHub App with one installation, issuing expiring installation tokens.

    Args:
        app_id: The App's ID, which its JWTs must name as issuer.
        installation_id: The installation tokens are issued for.
        token_lifetime: Seconds each installation token is valid (GitHub: an hour).
        clock: Seconds since the epoch; share a fake one with the client to test expiry.

    Attributes:
        private_key: The App's PEM private key (a ``githubAppPrivateKey``).
        issued: Every token issued, oldest first.
        refused: How many token requests were refused (bad JWT or installation).
    """

    def __init__(
        self,
        *,
        app_id: str = "123456",
        installation_id: int = 4242,
        token_lifetime: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_id = app_id
        self.installation_id = installation_id
        self.token_lifetime = token_lifetime
        self.clock = clock
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_key = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        ).decode()
        self._public_key = key.public_key()
        self.issued: list[IssuedToken] = []
        self.refused = 0
        self._lock = threading.Lock()

    def accepts(self, token: str) -> bool:
        """Whether ``token`` is an installation token this App issued that has not expired."""
        now = self.clock()
        with self._lock:
            return any(t.token == token and now < t.expires_at for t in self.issued)

    def access_token_reply(self, method: str, path: str, authorization: str, body: Any) -> Reply:
        """GitHub's answer to ``method`` on ``path`` (``/api/v3/app/...``)."""
        parts = [part for part in path.removeprefix("/api/v3").split("/") if part]
        shape = len(parts) == 4 and parts[:2] == ["app", "installations"]
        if method != "POST" or not shape or parts[3] != "access_tokens":
            return 404, {"message": "Not Found"}, {}
        if not self._valid_jwt(authorization):
            with self._lock:
                self.refused += 1
            return 401, {"message": "A JSON web token could not be decoded"}, {}
        if parts[2] != str(self.installation_id):
            with self._lock:
                self.refused += 1
            return 404, {"message": "Not Found"}, {}
        repositories = tuple(str(r) for r in (body or {}).get("repositories", []))
        expires_at = self.clock() + self.token_lifetime
        issued = IssuedToken(f"ghs_{secrets.token_hex(18)}", expires_at, repositories)
        with self._lock:
            self.issued.append(issued)
        when = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        answer = {
            "token": issued.token,
            "expires_at": when,
            "permissions": {"contents": "write", "pull_requests": "write"},
            "repository_selection": "selected",
        }
        return 201, answer, {}

    def _valid_jwt(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not token:
            return False
        try:
            # Times are checked against this App's clock below, not the machine's.
            claims = jwt.decode(
                token,
                self._public_key,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            return False
        now = self.clock()
        issued_at, expires = claims.get("iat"), claims.get("exp")
        if not isinstance(issued_at, int) or not isinstance(expires, int):
            return False
        return (
            str(claims.get("iss")) == self.app_id
            and issued_at <= now + _LEEWAY
            and now < expires
            and expires - issued_at <= _MAX_JWT_LIFETIME
        )
