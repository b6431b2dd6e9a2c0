"""Keeping credentials that users put into URLs out of messages, metadata and logs.

Repository URLs can carry credentials (``https://user:token@host/repo.git``). Go's
``URL.Redacted`` masks only the password, but for HTTP(S) a bare username is often a token
too, so both are masked there; an SSH user (``ssh://git@host``) is not a secret and stays.
"""

import re

MASK = "xxxxx"

# scheme://userinfo@ inside any text; userinfo stops at the characters that end a URL
# authority or a quoted value in a message.
_USERINFO_IN_TEXT = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*)://(?P<userinfo>[^/@\s'\"]+)@")


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
    """``text`` with the credentials of every URL in it masked."""
    return _USERINFO_IN_TEXT.sub(
        lambda m: f"{m['scheme']}://{_mask(m['scheme'], m['userinfo'])}@", text
    )


def has_credentials(url: str) -> bool:
    """Whether ``url`` carries a password, or a username that may be a token (HTTP(S))."""
    return redact_url(url) != url
