"""A Kubernetes API server for tests: real HTTP on 127.0.0.1, objects kept in memory.

The real ``kubernetes`` client talks to it unchanged, so code under test uses exactly the
calls it makes against a cluster. It serves the core ``v1`` resources tests need and any
namespaced custom resource registered with :meth:`FakeKubeAPI.add`, with ``list`` (label
selectors ``key``, ``!key``, ``key=value``, ``key!=value``) and ``get``.

Examples:
    >>> with FakeKubeAPI() as api:  # doctest: +SKIP
    ...     api.add(secret("kargo-demo", "ghcr", {"repoURL": "ghcr.io/acme/app"}))
    ...     client = api.api_client()
"""

import base64
import json
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes

_CORE_PLURALS = {"Secret": "secrets", "ConfigMap": "configmaps", "Event": "events"}


def secret(
    namespace: str,
    name: str,
    data: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ``v1/Secret`` manifest with ``data`` base64-encoded, as the API server stores it."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
        "type": "Opaque",
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def _matches(labels: Mapping[str, str], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.strip().rstrip("=")) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


class FakeKubeAPI:
    """An in-memory Kubernetes API server; use as a context manager to run it."""

    def __init__(self) -> None:
        # (api path, plural, namespace, name) -> object
        self._objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The server's base URL."""
        assert self._server is not None, "the server is not running"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, obj: Mapping[str, Any], plural: str | None = None) -> None:
        """Store ``obj`` (replacing one with the same name); ``plural`` for custom kinds."""
        api_version = obj["apiVersion"]
        api_path = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        plural = str(plural or _CORE_PLURALS.get(obj["kind"]) or obj["kind"].lower() + "s")
        meta = obj["metadata"]
        with self._lock:
            key = (api_path, plural, str(meta.get("namespace", "")), str(meta["name"]))
            self._objects[key] = json.loads(json.dumps(obj))

    def api_client(self) -> kubernetes.client.ApiClient:
        """A real ``kubernetes`` client configured for this server."""
        configuration = kubernetes.client.Configuration()
        configuration.host = self.url
        return kubernetes.client.ApiClient(configuration)

    def __enter__(self) -> "FakeKubeAPI":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _respond(self, method: str, path: str, query: Mapping[str, list[str]]) -> tuple[int, Any]:
        self.requests.append((method, path))
        if path == "/version":
            return 200, {"major": "1", "minor": "31", "gitVersion": "v1.31.0-fake"}
        parts = path.strip("/").split("/")
        # /api/v1/namespaces/{ns}/{plural}[/{name}] or /apis/{group}/{version}/namespaces/...
        head = 2 if parts[:1] == ["api"] else 3
        api_path = "/" + "/".join(parts[:head])
        rest = parts[head:]
        if method != "GET" or len(rest) < 3 or rest[0] != "namespaces":
            return 404, _status(404, f"the fake API server does not serve {method} {path}")
        namespace, plural = rest[1], rest[2]
        with self._lock:
            if len(rest) == 4:
                found = self._objects.get((api_path, plural, namespace, rest[3]))
                if found is None:
                    return 404, _status(404, f'{plural} "{rest[3]}" not found')
                return 200, found
            selector = query.get("labelSelector", [""])[0]
            items = [
                obj
                for (a, p, ns, _), obj in sorted(self._objects.items())
                if (a, p, ns) == (api_path, plural, namespace)
                and _matches(obj["metadata"].get("labels") or {}, selector)
            ]
        kind = items[0]["kind"] if items else plural.rstrip("s").capitalize()
        return 200, {
            "apiVersion": api_path.removeprefix("/apis/").removeprefix("/api/"),
            "kind": f"{kind}List",
            "metadata": {"resourceVersion": "1"},
            "items": items,
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlsplit(self.path)
                status, body = api._respond("GET", url.path, parse_qs(url.query))
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: Any) -> None:
                # Test output stays readable; requests are recorded in api.requests.
                pass

        return Handler


def _status(code: int, message: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "message": message,
        "reason": HTTPStatus(code).phrase.replace(" ", ""),
        "code": code,
    }
