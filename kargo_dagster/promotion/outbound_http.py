"""What the ``http`` and ``http-download`` steps share about the requests they make."""

import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.spec.durations import parse_go_duration

__all__ = ["refuse_link_local", "step_timeout", "with_query"]


def step_timeout(text: str | None, default: float) -> float:
    """A step's ``timeout`` (a Go duration) in seconds, ``default`` when not given.

    Raises:
        TerminalStepError: ``text`` is not a duration.
    """
    if not text:
        return default
    parsed = parse_go_duration(text)
    if parsed is None:
        raise TerminalStepError(f"timeout {text!r} is not a duration")
    return parsed.total_seconds()


def with_query(url: str, params: Sequence[tuple[str, str]]) -> str:
    """``url`` with ``params`` added to its query, encoded as Go's ``url.Values.Encode``."""
    if not params:
        return url
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    pairs += list(params)
    # Go's Values.Encode: sorted by name, values of one name in their order.
    pairs.sort(key=lambda pair: pair[0])
    return urlunsplit(parts._replace(query=urlencode(pairs)))


def _link_local(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_link_local
    except ValueError:
        return False


def refuse_link_local(request: httpx.Request) -> None:
    """An httpx request hook refusing hosts that resolve to link-local addresses only."""
    # Kargo's dialer refuses hosts that resolve to link-local addresses only: the cloud
    # metadata services live there. Checked on every request, redirects included.
    host = request.url.host
    port = request.url.port or (443 if request.url.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return  # httpx reports the resolution failure itself
    addresses = [str(info[4][0]) for info in infos]
    if addresses and all(_link_local(a) for a in addresses):
        raise httpx.ConnectError(
            f"connections to link-local addresses are not permitted (host {host!r} resolved "
            "to link-local IPs only)",
            request=request,
        )
