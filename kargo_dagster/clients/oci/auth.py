"""Registry authentication: ``WWW-Authenticate`` challenges and cached bearer tokens.

Registries either need nothing, HTTP Basic, or the Docker token flow: a ``401`` carries
``WWW-Authenticate: Bearer realm="…",service="…",scope="…"``; the client asks the realm for a
token (with Basic credentials when it has them) and repeats the request with
``Authorization: Bearer <token>``. Tokens are kept per realm, service, scope and user until
shortly before they expire, so a steady polling loop asks for one only when it runs out.
"""

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# Tokens without an ``expires_in`` last 60 s (distribution token spec); a token is dropped
# this many seconds early so that it does not expire in flight.
DEFAULT_TOKEN_LIFETIME = 60.0
_EXPIRY_MARGIN = 5.0

_PARAM = re.compile(r'\s*([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))\s*,?')


@dataclass(frozen=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge.

    Attributes:
        scheme: ``bearer`` or ``basic`` (lower case), or whatever else the server named.
        params: The auth-params (``realm``, ``service``, ``scope``, ``error``…).
    """

    scheme: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        """Where tokens come from (Bearer) or the protection space's name (Basic)."""
        return self.params.get("realm", "")

    @property
    def service(self) -> str:
        """The ``service`` the token is for, or ``""``."""
        return self.params.get("service", "")


def parse_challenge(header: str) -> Challenge | None:
    """The first challenge in a ``WWW-Authenticate`` header value, or None if it has none.

    Examples:
        >>> parse_challenge('Bearer realm="https://auth.example/token",service="reg"').params
        {'realm': 'https://auth.example/token', 'service': 'reg'}
    """
    text = header.strip()
    match = re.match(r"([A-Za-z][A-Za-z0-9_-]*)\s*", text)
    if match is None:
        return None
    scheme, position = match.group(1).lower(), match.end()
    params: dict[str, str] = {}
    while position < len(text):
        param = _PARAM.match(text, position)
        if param is None or param.end() == position:
            break
        quoted, bare = param.group(2), param.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare or ""
        params[param.group(1).lower()] = value
        position = param.end()
        # A second challenge (``…, Basic realm=…``) starts with a bare word: stop there.
        if re.match(r"\s*[A-Za-z][A-Za-z0-9_-]*\s+[A-Za-z0-9_.-]+\s*=", text[position:]):
            break
    return Challenge(scheme=scheme, params=params)


@dataclass(frozen=True)
class Token:
    """A bearer token and when (``time.monotonic``) it stops being usable."""

    value: str
    expires_at: float


def parse_token_response(
    body: bytes, *, now: float, max_lifetime: float | None = None
) -> Token | None:
    """The token in a token endpoint's JSON answer (``token`` or ``access_token``).

    Args:
        body: The response body.
        now: The current ``time.monotonic()``.
        max_lifetime: An upper bound on how long to keep it, if any.

    Returns:
        The token, or None when the answer holds none.
    """
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    value = data.get("token") or data.get("access_token")
    if not isinstance(value, str) or not value:
        return None
    lifetime = data.get("expires_in")
    seconds = (
        float(lifetime)
        if isinstance(lifetime, int | float) and lifetime > 0
        else DEFAULT_TOKEN_LIFETIME
    )
    if max_lifetime is not None:
        seconds = min(seconds, max_lifetime)
    return Token(value=value, expires_at=now + seconds - _EXPIRY_MARGIN)


TokenKey = tuple[str, str, str, str]  # realm, service, scope, username


class TokenCache:
    """Bearer tokens by realm, service, scope and user, dropped when they expire.

    Args:
        clock: The time source, ``time.monotonic`` unless a test replaces it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[TokenKey, Token] = {}

    def now(self) -> float:
        """The cache's current time."""
        return self._clock()

    def get(self, key: TokenKey) -> str | None:
        """The live token for ``key``, if any."""
        token = self._tokens.get(key)
        if token is None:
            return None
        if token.expires_at <= self._clock():
            del self._tokens[key]
            return None
        return token.value

    def put(self, key: TokenKey, token: Token) -> None:
        """Keep ``token`` for ``key``."""
        self._tokens[key] = token

    def forget(self, key: TokenKey) -> None:
        """Drop the token for ``key`` (the registry refused it)."""
        self._tokens.pop(key, None)

    def __len__(self) -> int:
        return len(self._tokens)
