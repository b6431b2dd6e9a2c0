"""What a user is told when an HTTP request to a repository got no answer at all.

The OCI registry client and the Helm chart repository client word these failures alike:
whether the request ran out of its total deadline, timed out waiting, could not connect
(with a hint when the certificate was refused) or failed otherwise, and what was being done.
An ``httpx`` message may echo a URL or header that was sent, so the caller's ``scrub``, which
masks the secrets it sent, is applied to everything taken from it; a
:class:`~kargo_dagster.clients.deadlines.RequestDeadlineExceeded` is shown as it is, since
its message masks credentials already.
"""

from collections.abc import Callable

import httpx

from kargo_dagster.clients.deadlines import RequestDeadlineExceeded

__all__ = ["transport_failure"]

_SELF_SIGNED_HINT = "; if the certificate is self-signed, set insecureSkipTLSVerify"


def transport_failure(
    error: httpx.HTTPError,
    *,
    server: str,
    during: str,
    timeout: httpx.Timeout,
    scrub: Callable[[str], str],
    connect_to: str | None = None,
) -> str:
    """The message for ``error``, raised while sending a request or reading its answer.

    Args:
        error: What ``httpx`` raised.
        server: Who did not answer, as the message's subject (``registry ghcr.io``).
        during: What was being done, to follow "while" (``its index was read``).
        timeout: The client's timeouts, to say how long it waited.
        scrub: Masks the secrets the request carried.
        connect_to: What could not be connected to, when it should say more than ``server``.

    Examples:
        >>> error = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] self-signed")
        >>> transport_failure(
        ...     error, server="repo 'r'", during="x", timeout=httpx.Timeout(5), scrub=str
        ... )
        "could not connect to repo 'r': [SSL: CERTIFICATE_VERIFY_FAILED] self-signed; if the \
certificate is self-signed, set insecureSkipTLSVerify"
    """
    if isinstance(error, RequestDeadlineExceeded):
        return f"{server} was too slow while {during}: {error}"
    if isinstance(error, httpx.TimeoutException):
        connecting = isinstance(error, httpx.ConnectTimeout)
        seconds = (timeout.connect if connecting else timeout.read) or 0.0
        return (
            f"{server} did not answer within {seconds:g} s while {during} ({type(error).__name__})"
        )
    detail = scrub(str(error) or type(error).__name__)
    if isinstance(error, httpx.ConnectError):
        hint = _SELF_SIGNED_HINT if "CERTIFICATE_VERIFY_FAILED" in detail else ""
        return f"could not connect to {connect_to or server}: {detail}{hint}"
    return f"{server} failed while {during}: {detail}"
