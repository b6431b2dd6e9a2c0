"""Keeping credentials out of messages, metadata and logs.

Repository URLs can carry credentials (``https://user:token@host/repo.git``). Go's
``URL.Redacted`` masks only the password, but for HTTP(S) a bare username is often a token
too, so both are masked there; an SSH user (``ssh://git@host``) is not a secret and stays.

A secret we send can come back in other shapes than the one configured: a server that echoes
the request puts the base64 of ``user:password`` of a Basic header, or the percent-encoded
form of a query or form value, into its answer. :func:`mask_secrets` masks those shapes too.

Every value shown to users passes through here, some of them megabytes long, so all of it
runs in time linear in the length of the text.
"""

import base64
import re
import string
from collections.abc import Iterable, Iterator
from urllib.parse import quote, quote_plus

MASK = "xxxxx"
"""What the credentials in a URL, and secrets read by a promotion, become when shown."""
ECHO_MASK = "*****"
"""What a secret becomes in an answer or output that echoed it (a server's error body, a
command's stderr)."""

# RFC 3986: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
_SCHEME_CHARS = string.ascii_letters + string.digits + "+.-"
_SCHEME_NOT_FIRST = string.digits + "+.-"
# "://", then a userinfo that ends at "@": it stops at the characters that end a URL
# authority or a quoted value in a message. Possessive, so a run without "@" is read once.
_USERINFO_AT = re.compile(r"://(?P<userinfo>[^/@\s'\"]++)@")


def _mask(scheme: str, userinfo: str) -> str:
    user, colon, _ = userinfo.partition(":")
    if colon:
        return f"{user}:{MASK}"
    return MASK if scheme.lower() in ("http", "https", "oci") else user


def redact_url(url: str) -> str:
    """``url`` with its credentials masked.

    Examples:
        >>> redact_url("https://me:s3cret@git.example.com/repo.git")
        'https://me:xxxxx@git.example.com/repo.git'
        >>> redact_url("https://ghp_token@git.example.com/repo.git")
        'https://xxxxx@git.example.com/repo.git'
    """
    return redact_text(url)


def redact_text(text: str) -> str:
    """``text`` with the credentials of every ``scheme://userinfo@`` in it masked.

    The scheme is the longest run of scheme characters before ``://`` that starts with a
    letter; the userinfo runs from ``://`` to ``@`` without crossing ``/``, ``@``,
    whitespace or a quote. Each character is read a bounded number of times: the userinfo
    runs after two separators cannot overlap (``/`` ends them), and the scheme is looked
    for only back to the end of the previous userinfo.
    """
    pieces: list[str] = []
    kept = 0  # text[:kept] is in pieces already
    floor = 0  # no scheme reaches back before the end of the previous userinfo
    for found in _USERINFO_AT.finditer(text):
        at = found.start()
        start = _scheme_start(text, floor, at)
        floor = found.end()
        if start == at:
            continue
        scheme, userinfo = text[start:at], found["userinfo"]
        pieces += [text[kept:start], f"{scheme}://{_mask(scheme, userinfo)}@"]
        kept = found.end()
    pieces.append(text[kept:])
    return "".join(pieces)


def _scheme_start(text: str, floor: int, at: int) -> int:
    """Where the scheme ending at ``at`` starts; ``at`` when there is none."""
    head = text[floor:at]
    run = head[len(head.rstrip(_SCHEME_CHARS)) :]
    # The scheme starts at the run's first letter: digits, "+", "-" and "." cannot begin it.
    return at - len(run.lstrip(_SCHEME_NOT_FIRST))


def has_credentials(url: str) -> bool:
    """Whether ``url`` carries a password, or a username that may be a token (HTTP(S))."""
    return redact_url(url) != url


def basic_auth_secrets(username: str, password: str) -> tuple[str, ...]:
    """What an HTTP Basic header for ``username``/``password`` carries besides the password.

    The base64 of ``username:password`` (UTF-8, as httpx and Go encode it), with its padding
    and without: some servers echo it unpadded. Nothing when there is no password.

    Examples:
        >>> basic_auth_secrets("bot", "s3cret")
        ('Ym90OnMzY3JldA==', 'Ym90OnMzY3JldA')
    """
    if not password:
        return ()
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode()
    unpadded = encoded.rstrip("=")
    return (encoded, unpadded) if unpadded != encoded else (encoded,)


def header_secrets(value: str) -> tuple[str, ...]:
    """The secrets an authentication header's value carries.

    The value as a whole, and the credentials after its scheme: the token of ``Bearer
    <token>``, the base64 of ``Basic <base64>`` with its padding and without. A value
    without a scheme (GitLab's ``PRIVATE-TOKEN``) is the secret itself.

    Examples:
        >>> header_secrets("Basic Ym90OnMzY3JldA==")
        ('Basic Ym90OnMzY3JldA==', 'Ym90OnMzY3JldA==', 'Ym90OnMzY3JldA')
    """
    value = value.strip()
    _, space, credentials = value.partition(" ")
    credentials = credentials.strip()
    if not (space and credentials):
        return (value,) if value else ()
    return tuple(dict.fromkeys((value, credentials, credentials.rstrip("="))))


def secret_forms(secret: str) -> set[str]:
    """``secret`` in every shape a request may carry it: as is, and URL-encoded.

    Percent-encoded as a path segment or query value (``/`` kept or not), and form-encoded
    with ``+`` for spaces, as httpx and Go's ``url.QueryEscape`` write query values.

    Examples:
        >>> sorted(secret_forms("a b/c"))
        ['a b/c', 'a%20b%2Fc', 'a%20b/c', 'a+b%2Fc', 'a+b/c']
    """
    if not secret:
        return set()
    return {secret} | {encode(secret, safe) for encode in (quote, quote_plus) for safe in ("", "/")}


def mask_secrets(text: str, secrets: Iterable[str], mask: str = MASK) -> str:
    """``text`` with every form of every secret (:func:`secret_forms`) and URL credential masked.

    Overlapping occurrences of different secrets are masked as one, so no part of either
    shows; the text is searched once per form.

    Args:
        text: What is about to be shown.
        secrets: The secrets known to be in play (empty strings are ignored).
        mask: What replaces each occurrence.

    Examples:
        >>> mask_secrets("Basic Ym90OnMzY3JldA== for s3cr%2Ft", ["s3cr/t", "Ym90OnMzY3JldA=="])
        'Basic xxxxx for xxxxx'
    """
    forms = {form for secret in secrets for form in secret_forms(secret)}
    spans = sorted(span for form in forms for span in _occurrences(text, form))
    pieces: list[str] = []
    kept = 0
    for start, end in _merged(spans):
        pieces += [text[kept:start], mask]
        kept = end
    pieces.append(text[kept:])
    return redact_text("".join(pieces))


def _occurrences(text: str, form: str) -> Iterator[tuple[int, int]]:
    # Non-overlapping, left to right, as str.replace finds them.
    at = text.find(form)
    while at >= 0:
        yield at, at + len(form)
        at = text.find(form, at + len(form))


def _merged(spans: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    # Spans that overlap become one; spans that only touch stay two masks, as replacing
    # each secret in turn would leave them.
    if not spans:
        return
    start, end = spans[0]
    for next_start, next_end in spans[1:]:
        if next_start < end:
            end = max(end, next_end)
        else:
            yield start, end
            start, end = next_start, next_end
    yield start, end
