"""Total deadlines for requests through the ``kubernetes`` client.

The client (urllib3 underneath) passes ``_request_timeout`` to each socket read, so an API
server that keeps sending holds a request for as long as it sends. :func:`call_within` makes
the call with the body left unread (``_preload_content=False``), reads it in chunks and stops
at the deadline (or at the budget around the call, see
:func:`~kargo_dagster.clients.deadlines.budget`), raising
:class:`~kargo_dagster.clients.deadlines.RequestDeadlineExceeded` with the method, the URL
and the deadline. The status line and headers are bounded by the read timeout, cut to what
is left of the deadline, for each of urllib3's attempts.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import urllib3

from kargo_dagster.clients.deadlines import RequestDeadlineExceeded, deadline_end, shown_url

__all__ = ["KubeAnswer", "call_within"]

_CHUNK = 64 * 1024


@dataclass(frozen=True)
class KubeAnswer:
    """An answer read in full, in the shape ``ApiClient.deserialize`` reads (``data``)."""

    data: bytes


def call_within(
    call: Callable[..., Any],
    *args: Any,
    method: str,
    host: str,
    timeout: float,
    deadline: float,
    **kwargs: Any,
) -> KubeAnswer:
    """``call(*args, **kwargs)`` with its answer read within ``deadline`` seconds.

    Args:
        call: A ``kubernetes`` API method (``CustomObjectsApi.get_namespaced_custom_object``).
        method: The HTTP method it sends, for messages.
        host: The API server's address (``configuration.host``), for messages when the
            answer never came.
        timeout: Seconds for each read.
        deadline: Seconds for the whole request.

    Raises:
        RequestDeadlineExceeded: The request (or the budget around it) ran out.
        kubernetes.client.ApiException: The API server refused (as the call raises it).
        urllib3.exceptions.HTTPError: The API server could not be reached.
    """
    end, seconds, what = deadline_end(deadline)
    left = max(end - time.monotonic(), 0.001)
    url = shown_url(host)
    try:
        response = call(
            *args,
            _request_timeout=(min(timeout, left), min(timeout, left)),
            _preload_content=False,
            **kwargs,
        )
        url = shown_url(host.rstrip("/") + str(response.url or ""))
        chunks: list[bytes] = []
        try:
            # read1, not stream(): stream() waits for whole chunks, which a dribbling server
            # takes forever to fill; read1 returns what one read brought.
            while chunk := response.read1(_CHUNK):
                chunks.append(chunk)
                if time.monotonic() >= end:
                    raise RequestDeadlineExceeded(method, url, seconds, what)
        finally:
            # A body left unread makes the connection unusable: closed, not pooled.
            response.close()
            response.release_conn()
    except urllib3.exceptions.HTTPError:
        if time.monotonic() >= end:
            raise RequestDeadlineExceeded(method, url, seconds, what) from None
        raise
    return KubeAnswer(b"".join(chunks))
