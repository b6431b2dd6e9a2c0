"""Total deadlines for HTTP requests, and budgets that bound many requests together.

A read timeout bounds each read, not the request: a server that answers one byte a second
holds a request for as long as it likes. Every HTTP client here is therefore a
:class:`DeadlineClient`, whose transports are :class:`DeadlineTransport` s giving each
request (each redirect hop is one) a total deadline, counted from when it is sent until its
body has been read:

* the socket operations of httpx's own transport wait at most until the deadline, so a
  server dribbling its status line or headers is cut off too;
* the body is checked after every chunk, which also bounds transports that are not ours;
* a request that runs out raises :class:`RequestDeadlineExceeded`, an
  ``httpx.TimeoutException`` saying which request (method, URL without its query and with
  credentials masked) and which deadline; every client turns it into its own error.

A :func:`budget` bounds everything done inside it (a discovery tick): each request's deadline
is then the sooner of its own and the budget's end, and :func:`remaining` tells other
waits (git's subprocesses) how long they may take.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx

from kargo_dagster.redaction import redact_text

__all__ = [
    "DEFAULT_REQUEST_DEADLINE",
    "DeadlineClient",
    "DeadlineTransport",
    "RequestDeadlineExceeded",
    "budget",
    "current_budget",
    "deadline_end",
    "remaining",
    "shown_url",
    "spent_budget",
]

DEFAULT_REQUEST_DEADLINE = 60.0


@dataclass(frozen=True)
class _End:
    """When a budget runs out (``time.monotonic()``), and what it is, for messages."""

    at: float
    what: str
    seconds: float


# The budget around the current call (a discovery tick), if any.
_budget: ContextVar[_End | None] = ContextVar("kargo_dagster_budget", default=None)
# The end of the request whose I/O is under way, for the network streams: they are shared by
# the requests of a connection pool, so the request tells them through the context.
_request_end: ContextVar[float | None] = ContextVar("kargo_dagster_request_end", default=None)


class RequestDeadlineExceeded(httpx.TimeoutException):
    """A request ran out of its total deadline (or of the budget around it).

    It is an ``httpx`` exception because it leaves ``httpx`` calls; the clients turn it into
    their own errors with this message, which is safe to show.

    Attributes:
        method: The request's method.
        url: Its URL, without the query and with credentials masked.
        seconds: The deadline or budget that ran out, in seconds.
        what: ``its deadline`` or the budget's name (``the discovery budget of Warehouse …``).
    """

    def __init__(self, method: str, url: str, seconds: float, what: str) -> None:
        self.method = method
        self.url = url
        self.seconds = seconds
        self.what = what
        super().__init__(f"{method} {url} exceeded {what} ({seconds:g} s)")


def shown_url(url: str | httpx.URL) -> str:
    """``url`` as deadline messages show it: no query or fragment, credentials masked."""
    try:
        parts = urlsplit(str(url))
    except ValueError:
        return "(an invalid URL)"
    return redact_text(urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")))


@contextmanager
def budget(seconds: float | None, what: str) -> Iterator[None]:
    """Bound everything done inside to ``seconds`` in all (None: no bound).

    Args:
        seconds: The budget.
        what: What the budget is for, as messages name it (``the discovery budget of
            Warehouse 'app'``).

    A budget inside another ends no later than the outer one.
    """
    if seconds is None:
        yield
        return
    end = _End(time.monotonic() + seconds, what, seconds)
    outer = _budget.get()
    token = _budget.set(end if outer is None or end.at < outer.at else outer)
    try:
        yield
    finally:
        _budget.reset(token)


def remaining() -> float | None:
    """Seconds left of the current budget (0 when spent), or None outside any budget."""
    end = _budget.get()
    return None if end is None else max(end.at - time.monotonic(), 0.0)


def current_budget() -> str | None:
    """The budget around the call, as messages name it (``the discovery budget of Warehouse
    'app' (30 s)``), or None when there is none."""
    end = _budget.get()
    return None if end is None else f"{end.what} ({end.seconds:g} s)"


def spent_budget() -> str | None:
    """:func:`current_budget` once it has run out, else None."""
    return current_budget() if remaining() == 0 else None


def deadline_end(deadline: float) -> tuple[float, float, str]:
    """When a request starting now must end (``time.monotonic()``), and what ends then.

    Returns:
        The end; the seconds and the name of what ends then, for messages: ``deadline`` and
        ``its deadline``, or the budget's when the budget ends first.
    """
    now = time.monotonic()
    outer = _budget.get()
    if outer is not None and outer.at < now + deadline:
        return outer.at, outer.seconds, outer.what
    return now + deadline, deadline, "its deadline"


class DeadlineTransport(httpx.BaseTransport):
    """Sends through ``inner``, giving every request a total deadline.

    Args:
        inner: The transport that does the I/O.
        deadline: Seconds a request may take in all, from sending to the end of its body.
    """

    def __init__(self, inner: httpx.BaseTransport, *, deadline: float) -> None:
        self._inner = inner
        self.deadline = deadline

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request``; its body is read under the same deadline.

        Raises:
            RequestDeadlineExceeded: The request (or the budget around it) ran out.
        """
        limit = _Limit.starting(request, self.deadline)
        limit.check()  # a spent budget sends nothing more
        limit.cap_timeouts(request)
        token = _request_end.set(limit.end)
        try:
            response = self._inner.handle_request(request)
        except httpx.TimeoutException as error:
            raise limit.exceeded_or(error) from None
        finally:
            _request_end.reset(token)
        if time.monotonic() >= limit.end:
            response.close()
            raise limit.exceeded()
        if not isinstance(response.stream, httpx.SyncByteStream):
            return response  # a synchronous client cannot read it anyway
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_BoundedBody(response.stream, limit),
            extensions=response.extensions,
        )

    def close(self) -> None:
        """Close the inner transport."""
        self._inner.close()


@dataclass(frozen=True)
class _Limit:
    """One request's end, and what to say when it comes."""

    method: str
    url: str
    end: float
    seconds: float
    what: str

    @classmethod
    def starting(cls, request: httpx.Request, deadline: float) -> "_Limit":
        end, seconds, what = deadline_end(deadline)
        return cls(request.method, shown_url(request.url), end, seconds, what)

    def exceeded(self) -> RequestDeadlineExceeded:
        return RequestDeadlineExceeded(self.method, self.url, self.seconds, self.what)

    def exceeded_or(self, error: httpx.TimeoutException) -> httpx.TimeoutException:
        """The deadline error when the deadline is what cut ``error`` short, else ``error``."""
        if isinstance(error, RequestDeadlineExceeded) or time.monotonic() < self.end:
            return error
        return self.exceeded()

    def check(self) -> None:
        if time.monotonic() >= self.end:
            raise self.exceeded()

    def cap_timeouts(self, request: httpx.Request) -> None:
        # Transports that are not ours still wait no longer than the deadline for each read.
        left = max(self.end - time.monotonic(), 0.0)
        timeouts: dict[str, Any] = dict(request.extensions.get("timeout") or {})
        for phase in ("connect", "read", "write", "pool"):
            value = timeouts.get(phase)
            timeouts[phase] = left if value is None else min(float(value), left)
        request.extensions = {**request.extensions, "timeout": timeouts}


class _BoundedBody(httpx.SyncByteStream):
    """A response body whose reading stops at the request's deadline."""

    def __init__(self, inner: httpx.SyncByteStream, limit: _Limit) -> None:
        self._inner = inner
        self._limit = limit

    def __iter__(self) -> Iterator[bytes]:
        chunks = iter(self._inner)
        while True:
            token = _request_end.set(self._limit.end)
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            except httpx.TimeoutException as error:
                raise self._limit.exceeded_or(error) from None
            finally:
                _request_end.reset(token)
            self._limit.check()
            yield chunk

    def close(self) -> None:
        self._inner.close()


class DeadlineClient(httpx.Client):
    """An ``httpx.Client`` whose every request has a total deadline.

    Args:
        deadline: Seconds each request may take in all, from sending it to the end of its
            body; a redirect is another request.
        **kwargs: ``httpx.Client``'s arguments, unchanged: a ``transport`` (tests) is
            wrapped, and so are the transports httpx makes itself, proxies from the
            environment included.
    """

    def __init__(self, *, deadline: float = DEFAULT_REQUEST_DEADLINE, **kwargs: Any) -> None:
        # httpx builds its transports in __init__, through the two methods below.
        self.deadline = deadline
        super().__init__(**kwargs)

    def _init_transport(self, *args: Any, **kwargs: Any) -> httpx.BaseTransport:
        return self._bounded(super()._init_transport(*args, **kwargs))

    def _init_proxy_transport(self, *args: Any, **kwargs: Any) -> httpx.BaseTransport:
        return self._bounded(super()._init_proxy_transport(*args, **kwargs))

    def _bounded(self, transport: httpx.BaseTransport) -> httpx.BaseTransport:
        _bound_sockets(transport)
        return DeadlineTransport(transport, deadline=self.deadline)


def _bound_sockets(transport: httpx.BaseTransport) -> None:
    """Make the socket operations of httpx's own transport wait no longer than the deadline.

    Without this, a server dribbling its status line or headers is bounded only by the read
    timeout of each read; the body is bounded either way. httpcore takes a network backend,
    but httpx does not pass one through, so the pool's is wrapped in place, before any
    connection is made. Should httpx's layout change, nothing is wrapped and the deadline is
    still checked between chunks of the body.
    """
    if not isinstance(transport, httpx.HTTPTransport):
        return
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if pool is not None and isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = _DeadlineBackend(backend)  # noqa: SLF001


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    end = _request_end.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise expired("the request's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.connect_tcp(host, port, bounded, local_address, socket_options)
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)
