"""A real HTTP Helm chart repository for tests: ``index.yaml`` served from loopback.

:class:`HelmRepoServer` runs a threaded ``http.server`` on ``127.0.0.1`` with a free port.
It serves an index built from ``{chart: [versions]}`` (and, when asked, the chart archives
it lists, minimal charts made by :func:`~kargo_dagster.testing.oci_push.chart_archive`, for
clients such as ``helm dependency update`` that download them), answers conditional
requests from ``ETag`` and ``Last-Modified``, can demand Basic authentication, can speak
HTTPS, and can be told to fail (any status, malformed YAML, slow answers) so that clients
can be tested against every way a repository misbehaves.

Examples:
    >>> with HelmRepoServer({"app": ["1.0.0", "1.1.0"]}) as repo:  # doctest: +SKIP
    ...     repo.add_version("app", "1.2.0")
    ...     repo.url
    'http://127.0.0.1:40123'
"""

import base64
import email.utils
import hashlib
import io
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Self

from ruamel.yaml import YAML

from kargo_dagster.testing.loopback import LoopbackService, QuietHandler
from kargo_dagster.testing.oci_push import chart_archive

_CREATED = "2024-01-01T00:00:00Z"

# One chart version of a large index, written out as text: building it through a YAML
# emitter would take longer than the parse it is made to measure.
_LARGE_ENTRY = (
    "  - apiVersion: v2\n    name: c{c}\n    version: 1.{v}.0\n    appVersion: '1.{v}'\n"
    f"    created: '{_CREATED}'\n    digest: {'a' * 64}\n"
    "    urls:\n    - https://example.com/c{c}-1.{v}.0.tgz\n"
)


def large_index(charts: int = 400, versions: int = 20) -> bytes:
    """An ``index.yaml`` of ``charts`` charts ``c0``… with ``versions`` versions each
    (``1.0.0``…), about 2.3 MB at the defaults: the size of a busy public repository."""
    parts = ["apiVersion: v1\nentries:\n"]
    for c in range(charts):
        parts.append(f"  c{c}:\n")
        parts.extend(_LARGE_ENTRY.format(c=c, v=v) for v in range(versions))
    return "".join(parts).encode()


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received.

    Attributes:
        method: ``GET``, ``HEAD``…
        path: The request path with its query.
        headers: The request headers (names lower-cased).
        status: The status the server answered with.
    """

    method: str
    path: str
    headers: Mapping[str, str]
    status: int

    @property
    def authorization(self) -> str:
        """The ``Authorization`` header sent, or ``""``."""
        return self.headers.get("authorization", "")


@dataclass
class _Failure:
    status: int
    headers: Mapping[str, str]
    body: bytes
    times: int | None  # None: until cleared


@dataclass
class _State:
    charts: dict[str, list[str]] = field(default_factory=dict)
    raw: bytes | None = None
    body: bytes = b""
    etag: str = ""
    modified: float = 0.0


class HelmRepoServer(LoopbackService):
    """A Helm chart repository on 127.0.0.1; use it as a context manager.

    Args:
        charts: Chart name → versions, as the index lists them.
        username: With ``password``, require HTTP Basic authentication.
        password: The password to require.
        path: Where the repository lives on the server (``/charts``); the index is
            ``<path>/index.yaml``.
        etag: Send an ``ETag`` and honour ``If-None-Match``.
        last_modified: Send ``Last-Modified`` and honour ``If-Modified-Since``.
        archives: Serve the chart archives the index lists, at
            ``<path>/charts/<name>-<version>.tgz``, with their digests in the index.
        tls: ``(cert.pem, key.pem)`` to serve HTTPS with; the URLs are then ``https://``.

    Attributes:
        requests: Every request received, in order.
        delay: Seconds to wait before answering (to provoke client timeouts).
    """

    _thread_name = "helm-repo"
    _poll_interval = 0.02

    def __init__(
        self,
        charts: Mapping[str, Iterable[str]] | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        path: str = "/",
        etag: bool = True,
        last_modified: bool = True,
        archives: bool = False,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self._certificate = tls
        self._serve_archives = archives
        self._archives: dict[tuple[str, str], bytes] = {}
        self._credentials = (username, password) if password is not None else None
        self._path = "/" + path.strip("/") if path.strip("/") else ""
        self._use_etag = etag
        self._use_last_modified = last_modified
        self._lock = threading.Lock()
        self._state = _State()
        self._failures: list[_Failure] = []
        self.requests: list[RecordedRequest] = []
        self.delay = 0.0
        self._initial = {name: list(versions) for name, versions in (charts or {}).items()}

    # --- lifecycle ---

    @property
    def url(self) -> str:
        """The repository URL to subscribe to (``http://127.0.0.1:<port>[/path]``)."""
        scheme = "https" if self._certificate else "http"
        return f"{scheme}://127.0.0.1:{self.port}{self._path}"

    @property
    def index_url(self) -> str:
        """The URL of ``index.yaml``."""
        return f"{self.url}/index.yaml"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    def start(self) -> Self:
        """Start serving (``with`` does this)."""
        super().start()
        # The index lists chart URLs on this server, so it is built once the port is known.
        self.set_charts(self._initial)
        return self

    # --- content ---

    def set_charts(self, charts: Mapping[str, Iterable[str]]) -> None:
        """Replace the index with ``charts`` (and stop serving raw content)."""
        with self._lock:
            self._state.charts = {name: list(versions) for name, versions in charts.items()}
            self._state.raw = None
            self._publish()

    def add_version(self, chart: str, version: str) -> None:
        """List one more version of ``chart`` (a new chart if it is not listed yet)."""
        with self._lock:
            self._state.charts.setdefault(chart, []).append(version)
            self._state.raw = None
            self._publish()

    def serve_raw(self, body: bytes | str) -> None:
        """Serve ``body`` as ``index.yaml`` (malformed YAML, odd shapes) until the next change."""
        with self._lock:
            self._state.raw = body.encode() if isinstance(body, str) else body
            self._publish()

    def fail(
        self,
        status: int,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
        times: int | None = None,
    ) -> None:
        """Answer the next ``times`` requests (all, when None) with ``status``."""
        with self._lock:
            self._failures.append(_Failure(status, dict(headers or {}), body, times))

    def recover(self) -> None:
        """Stop failing."""
        with self._lock:
            self._failures.clear()

    @property
    def index_downloads(self) -> int:
        """How many times the full index was sent (``200`` answers for ``index.yaml``)."""
        index = f"{self._path}/index.yaml"
        return sum(1 for r in self.requests if r.status == 200 and r.path.startswith(index))

    @property
    def not_modified(self) -> int:
        """How many conditional requests were answered ``304 Not Modified``."""
        return sum(1 for r in self.requests if r.status == 304)

    def index_text(self) -> str:
        """The ``index.yaml`` being served."""
        with self._lock:
            return self._state.body.decode(errors="replace")

    def _publish(self) -> None:
        state = self._state
        state.body = state.raw if state.raw is not None else self._render(state.charts)
        state.etag = '"' + hashlib.sha256(state.body).hexdigest()[:32] + '"'
        # Last-Modified has one-second resolution: move it on by at least a second per change
        # so If-Modified-Since never hides a change made within the same second.
        state.modified = max(_now(), state.modified + 1)

    def _render(self, charts: Mapping[str, list[str]]) -> bytes:
        entries: dict[str, Any] = {}
        for name, versions in charts.items():
            entries[name] = [
                {
                    "apiVersion": "v2",
                    "name": name,
                    "version": version,
                    "created": _CREATED,
                    "digest": hashlib.sha256(self._content(name, version)).hexdigest(),
                    "urls": [f"{self.url}/charts/{name}-{version}.tgz"],
                }
                for version in versions
            ]
        buffer = io.StringIO()
        yaml = YAML(typ="safe", pure=True)
        yaml.default_flow_style = False
        yaml.dump({"apiVersion": "v1", "entries": entries, "generated": _CREATED}, buffer)
        return buffer.getvalue().encode()

    def _content(self, name: str, version: str) -> bytes:
        """What the index's digest of a chart version is of: its archive when archives are
        served, else its name and version (a digest nobody downloads to check)."""
        if not self._serve_archives:
            return f"{name}-{version}".encode()
        if (name, version) not in self._archives:
            self._archives[(name, version)] = chart_archive(name, version)
        return self._archives[(name, version)]

    # --- answering ---

    def answer(self, method: str, path: str, headers: Mapping[str, str]) -> "_Answer":
        """How the server answers one request (called by the request handler)."""
        if self.delay and self._stopping.wait(self.delay):
            return _Answer(503, {}, b"")
        with self._lock:
            answer = self._decide(path, headers)
            self.requests.append(RecordedRequest(method, path, dict(headers), answer.status))
        return answer

    def _decide(self, path: str, headers: Mapping[str, str]) -> "_Answer":
        if self._failures:
            failure = self._failures[0]
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.pop(0)
            return _Answer(failure.status, failure.headers, failure.body)
        if self._credentials is not None and not self._authorized(headers):
            return _Answer(401, {"WWW-Authenticate": 'Basic realm="helm"'}, b"unauthorized\n")
        target = path.split("?", 1)[0]
        if target != f"{self._path}/index.yaml":
            return self._archive(target)
        state = self._state
        modified = email.utils.formatdate(state.modified, usegmt=True)
        validators: dict[str, str] = {}
        if self._use_etag:
            validators["ETag"] = state.etag
        if self._use_last_modified:
            validators["Last-Modified"] = modified
        if self._not_modified(headers, state):
            return _Answer(304, validators, b"")
        return _Answer(200, {"Content-Type": "application/x-yaml", **validators}, state.body)

    def _archive(self, target: str) -> "_Answer":
        charts = f"{self._path}/charts/"
        if self._serve_archives and target.startswith(charts) and target.endswith(".tgz"):
            for name, versions in self._state.charts.items():
                for version in versions:
                    if target == f"{charts}{name}-{version}.tgz":
                        body = self._content(name, version)
                        return _Answer(200, {"Content-Type": "application/gzip"}, body)
        return _Answer(404, {}, b"not found\n")

    def _authorized(self, headers: Mapping[str, str]) -> bool:
        assert self._credentials is not None
        username, password = self._credentials
        expected = base64.b64encode(f"{username or ''}:{password}".encode()).decode()
        return headers.get("authorization", "") == f"Basic {expected}"

    def _not_modified(self, headers: Mapping[str, str], state: _State) -> bool:
        # RFC 9110: If-None-Match decides when present; If-Modified-Since only otherwise.
        if self._use_etag and "if-none-match" in headers:
            tags = [t.strip() for t in headers["if-none-match"].split(",")]
            return state.etag in tags or "*" in tags
        if self._use_last_modified and "if-modified-since" in headers:
            try:
                since = email.utils.parsedate_to_datetime(headers["if-modified-since"])
            except (TypeError, ValueError):
                return False
            return int(state.modified) <= since.timestamp()
        return False


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


def _now() -> float:
    return float(int(time.time()))


def _handler_for(repo: HelmRepoServer) -> type[BaseHTTPRequestHandler]:
    class Handler(QuietHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._respond(send_body=True)

        def do_HEAD(self) -> None:
            self._respond(send_body=False)

        def _respond(self, *, send_body: bool) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            answer = repo.answer(self.command, self.path, headers)
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if answer.status != 304:
                    self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if send_body and answer.status != 304:
                    self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test); nothing to tell it

    return Handler
