"""Receiver URLs, derived exactly as Kargo derives them.

The path is ``<base path>/<receiver type>/<hex SHA-256 of project + receiver name + secret>``:
the same manifests and Secret give the same URL here and under Kargo, and nobody can guess it
without the secret, which is why Docker Hub, Quay, Azure and generic receivers need no other
signature.
"""

import hashlib
from urllib.parse import urlsplit, urlunsplit

__all__ = ["receiver_path", "receiver_url"]


def receiver_path(
    project: str, receiver_type: str, receiver_name: str, secret: str, base_path: str = "/"
) -> str:
    """The receiver's URL path, below ``base_path``.

    Examples:
        >>> receiver_path("demo", "github", "gh", "s3cret")[:15]
        '/github/4900852'
    """
    digest = hashlib.sha256((project + receiver_name + secret).encode()).hexdigest()
    return "/".join([base_path.rstrip("/"), receiver_type, digest])


def receiver_url(
    base_url: str, project: str, receiver_type: str, receiver_name: str, secret: str
) -> str:
    """The receiver's full URL below ``base_url`` (``https://hooks.example.com``)."""
    parts = urlsplit(base_url)
    path = receiver_path(project, receiver_type, receiver_name, secret, parts.path or "/")
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))
