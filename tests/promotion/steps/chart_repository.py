"""A classic Helm chart repository that serves real chart archives, over HTTP or HTTPS.

``helm dependency update`` downloads the archives an ``index.yaml`` lists, so the test
repository must serve both, with real digests; ``kargo_dagster.testing.helm_repo`` serves
indexes only. This one can demand HTTP Basic authentication and, given a certificate, speak
TLS (see :func:`self_signed_certificate`), and records whether each request carried
credentials.
"""

import base64
import datetime
import hashlib
import ipaddress
import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kargo_dagster.testing.oci_push import chart_archive


@dataclass(frozen=True)
class Request:
    """One request the repository received."""

    path: str
    authorization: str
    status: int


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as ``(cert.pem, key.pem)`` in ``directory``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class ChartRepository:
    """A chart repository on 127.0.0.1; use it as a context manager.

    Args:
        charts: Chart name → versions to serve (minimal charts made on the fly).
        username: With ``password``, require HTTP Basic authentication.
        password: The password to require.
        tls: ``(cert.pem, key.pem)`` to serve HTTPS with.

    Attributes:
        requests: Every request received, in order.
    """

    def __init__(
        self,
        charts: dict[str, list[str]],
        *,
        username: str | None = None,
        password: str | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self._credentials = (username or "", password) if password is not None else None
        self._tls = tls
        self._archives: dict[str, bytes] = {}
        self._charts = charts
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.requests: list[Request] = []
        self.port = 0

    @property
    def url(self) -> str:
        """The repository URL."""
        scheme = "https" if self._tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def __enter__(self) -> "ChartRepository":
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        if self._tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self._tls)
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self._server = server
        self.port = server.server_address[1]
        for name, versions in self._charts.items():
            for version in versions:
                self._archives[f"/charts/{name}-{version}.tgz"] = chart_archive(name, version)
        self._thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _index(self) -> bytes:
        entries: dict[str, list[dict[str, Any]]] = {}
        for name, versions in self._charts.items():
            for version in versions:
                archive = self._archives[f"/charts/{name}-{version}.tgz"]
                entries.setdefault(name, []).append(
                    {
                        "apiVersion": "v2",
                        "name": name,
                        "version": version,
                        "created": "2024-01-01T00:00:00Z",
                        "digest": hashlib.sha256(archive).hexdigest(),
                        "urls": [f"{self.url}/charts/{name}-{version}.tgz"],
                    }
                )
        return yaml.safe_dump({"apiVersion": "v1", "entries": entries}).encode()

    def answer(self, path: str, authorization: str) -> tuple[int, bytes]:
        """The status and body for a request (called by the handler)."""
        status, body = 404, b"not found\n"
        if self._credentials is not None:
            expected = base64.b64encode(":".join(self._credentials).encode()).decode()
            if authorization != f"Basic {expected}":
                status, body = 401, b"unauthorized\n"
        if status != 401:
            if path == "/index.yaml":
                status, body = 200, self._index()
            elif path in self._archives:
                status, body = 200, self._archives[path]
        with self._lock:
            self.requests.append(Request(path, authorization, status))
        return status, body


def _handler(repository: ChartRepository) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            status, body = repository.answer(
                self.path.split("?", 1)[0], self.headers.get("Authorization", "")
            )
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="charts"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests read repository.requests

    return Handler
