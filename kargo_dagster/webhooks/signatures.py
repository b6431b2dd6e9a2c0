"""Checking what senders sign requests with, in constant time.

GitHub, Gitea and Bitbucket send ``<algorithm>=<hex HMAC of the body>`` (GitHub and Gitea
``X-Hub-Signature-256`` with SHA-256; Bitbucket ``X-Hub-Signature``); Artifactory sends the bare
hex SHA-256 HMAC in ``X-Jfrog-Event-Auth``; GitLab and Harbor send the shared token itself.
"""

import hashlib
import hmac

from kargo_dagster.webhooks.inbound import InboundRequest, unauthorized

__all__ = ["check_prefixed_signature", "hmac_hex", "same_text", "valid_prefixed_signature"]

_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def hmac_hex(key: str, body: bytes, algorithm: str = "sha256") -> str:
    """The hex HMAC of ``body`` under ``key``."""
    return hmac.new(key.encode(), body, _ALGORITHMS[algorithm]).hexdigest()


def same_text(given: str, expected: str) -> bool:
    """Whether ``given`` equals ``expected``, taking as long whatever ``given`` holds."""
    return hmac.compare_digest(given.encode(), expected.encode())


def valid_prefixed_signature(header: str, body: bytes, key: str) -> bool:
    """Whether ``header`` (``sha256=<hex>``, ``sha1=`` or ``sha512=``) signs ``body`` with
    ``key``, as go-github's ``ValidateSignature`` accepts it."""
    algorithm, _, given = header.partition("=")
    if algorithm not in _ALGORITHMS or not given:
        return False
    return same_text(given.lower(), hmac_hex(key, body, algorithm))


def check_prefixed_signature(request: InboundRequest, header: str, key: str) -> None:
    """Refuse ``request`` (401) unless ``header`` holds a valid ``<algorithm>=<hex>`` signature.

    Raises:
        WebhookRefusedError: 401, the header is missing or does not sign the body.
    """
    signature = request.header(header)
    if not signature:
        raise unauthorized("missing signature")
    if not valid_prefixed_signature(signature, request.body, key):
        raise unauthorized()
