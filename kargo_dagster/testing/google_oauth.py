"""A local stand-in for Google's OAuth 2.0 token endpoint, for service account keys.

:class:`FakeGoogleTokenServer` serves ``POST /token`` on ``127.0.0.1`` the way
``oauth2.googleapis.com`` answers a service account: the form carries
``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and an ``assertion``, a JSON Web
Token signed (RS256) with the key of a service account this server made
(:meth:`~FakeGoogleTokenServer.service_account_key`), naming the account as issuer, Google's
token endpoint as audience and the scopes asked for. A valid assertion gets an access token
valid for an hour; anything else gets ``400 invalid_grant``.

Examples:
    >>> with FakeGoogleTokenServer() as google:  # doctest: +SKIP
    ...     key_file = json.dumps(google.service_account_key("puller"))
"""

import json
import secrets
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kargo_dagster.testing.loopback import LoopbackService, QuietHandler

__all__ = ["FakeGoogleTokenServer", "IssuedAccessToken"]

_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Google checks assertions for its own endpoint as audience, wherever they are posted.
_AUDIENCE = "https://oauth2.googleapis.com/token"
_LIFETIME = 3600


@dataclass(frozen=True)
class IssuedAccessToken:
    """An access token the fake issued, to whom and for which scopes."""

    token: str
    client_email: str
    scopes: tuple[str, ...]


class FakeGoogleTokenServer(LoopbackService):
    """Google's token endpoint on loopback, for the service accounts it made.

    Attributes:
        issued: Every access token issued, oldest first.
        refused: How many token requests were refused.
    """

    def __init__(self) -> None:
        self.issued: list[IssuedAccessToken] = []
        self.refused = 0
        self._public_keys: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    @property
    def token_uri(self) -> str:
        """``http://127.0.0.1:<port>/token``."""
        return f"{self.url}/token"

    def service_account_key(self, name: str, *, known: bool = True) -> dict[str, str]:
        """A new service account's key file, as Google issues it (``known=False``: a key
        for an account the server does not know, which it refuses)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        email = f"{name}@kargo-dagster-tests.iam.gserviceaccount.com"
        if known:
            with self._lock:
                self._public_keys[email] = key.public_key()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        return {
            "type": "service_account",
            "project_id": "kargo-dagster-tests",
            "private_key_id": secrets.token_hex(20),
            "private_key": pem,
            "client_email": email,
            "client_id": str(secrets.randbelow(10**20)),
            "token_uri": self.token_uri,
        }

    def answer(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """The endpoint's status and JSON answer to a token request's form."""
        claims = self._claims(form)
        if claims is None:
            with self._lock:
                self.refused += 1
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        issued = IssuedAccessToken(
            f"ya29.{secrets.token_urlsafe(24)}",
            str(claims["iss"]),
            tuple(str(claims.get("scope", "")).split()),
        )
        with self._lock:
            self.issued.append(issued)
        return 200, {"access_token": issued.token, "expires_in": _LIFETIME, "token_type": "Bearer"}

    def _claims(self, form: dict[str, str]) -> dict[str, Any] | None:
        if form.get("grant_type") != _JWT_BEARER:
            return None
        assertion = form.get("assertion", "")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
            with self._lock:
                public_key = self._public_keys.get(str(unverified.get("iss")))
            if public_key is None:
                return None
            claims = jwt.decode(assertion, public_key, algorithms=["RS256"], audience=_AUDIENCE)
        except jwt.PyJWTError:
            return None
        lifetime = int(claims.get("exp", 0)) - int(claims.get("iat", 0))
        return claims if 0 < lifetime <= _LIFETIME and claims.get("exp", 0) > time.time() else None


def _handler_for(server: FakeGoogleTokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            raw = self.read_body().decode()
            form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            status, answer = server.answer(form) if self.path == "/token" else (404, {})
            self.reply(status, json.dumps(answer).encode(), [("Content-Type", "application/json")])

    return Handler
