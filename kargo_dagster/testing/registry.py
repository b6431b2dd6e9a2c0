"""A real OCI registry for tests: Debian's ``docker-registry`` (distribution 2.8) on loopback.

Each :class:`LocalRegistry` runs its own registry process on ``127.0.0.1`` with a free port
and storage in a temporary directory, and stops that process (by its PID) on exit. It speaks
plain HTTP without authentication; put a ``TokenAuthRegistry``
(``kargo_dagster.testing.token_auth``) in front of it to test credentials. Push content with
``kargo_dagster.testing.oci_push``.

Examples:
    >>> with LocalRegistry() as registry:  # doctest: +SKIP
    ...     push_image(registry, "team/app", "v1.0.0")
    ...     registry.repo_url("team/app")
    '127.0.0.1:40123/team/app'
"""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

import httpx

from kargo_dagster.testing.server_process import (
    RegistryServerError,
    free_port,
    start_server_process,
    stop_process,
)

__all__ = ["DOCKER_REGISTRY", "LocalRegistry", "RegistryServerError", "free_port"]

DOCKER_REGISTRY = "/usr/bin/docker-registry"
_CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:{port}
  secret: kargo-dagster-test-registry
"""


def _default_temp_root() -> str | None:
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


class LocalRegistry:
    """A ``docker-registry`` process on 127.0.0.1; use it as a context manager.

    Args:
        binary: The registry executable (Debian package ``docker-registry``).
        startup_timeout: Seconds to wait for ``/v2/`` to answer.
        port: A fixed port (the demo's registry); default: any free port.
        storage: Where to keep the images (kept after stop); default: a temporary directory.
        temp_root: Where to create the storage directory; ``/dev/shm`` when it is available
            (a registry writes several small files per tag, and deleting thousands of them is
            slow on a disk), else the system's temporary directory.

    Attributes:
        host: ``127.0.0.1:<port>``, what image references start with.
        url: ``http://127.0.0.1:<port>``.
        pid: The registry process's PID while it runs.
    """

    def __init__(
        self,
        binary: str = DOCKER_REGISTRY,
        startup_timeout: float = 10.0,
        temp_root: str | None = None,
        port: int | None = None,
        storage: Path | None = None,
    ) -> None:
        self.binary = binary
        self.port = port
        self.storage = storage
        self.startup_timeout = startup_timeout
        self.temp_root = temp_root if temp_root is not None else _default_temp_root()
        self.host = ""
        self.url = ""
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None

    def repo_url(self, repository: str) -> str:
        """The image reference of ``repository`` in this registry (``127.0.0.1:port/name``)."""
        return f"{self.host}/{repository}"

    def start(self) -> "LocalRegistry":
        """Start the registry and wait until it answers.

        Raises:
            RegistryServerError: The binary is missing or the registry did not come up.
        """
        if shutil.which(self.binary) is None:
            raise RegistryServerError(
                f"{self.binary} is not installed; install the Debian package docker-registry "
                "(apt-get install -y docker-registry)"
            )
        workdir = Path(tempfile.mkdtemp(prefix="kargo-dagster-registry-", dir=self.temp_root))
        self._workdir = workdir
        config = workdir / "config.yml"
        storage = self.storage or workdir / "storage"
        log_path = workdir / "registry.log"

        def launch(port: int) -> "subprocess.Popen[bytes]":
            config.write_text(_CONFIG.format(storage=storage, port=port))
            with log_path.open("wb") as log:
                return subprocess.Popen(
                    [self.binary, "serve", str(config)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )

        try:
            self._process, port = start_server_process(
                launch,
                _answers,
                what="docker-registry",
                log=log_path,
                port=self.port,
                startup_timeout=self.startup_timeout,
            )
        except RegistryServerError:
            self._remove_workdir()
            raise
        self.pid = self._process.pid
        self.host = f"127.0.0.1:{port}"
        self.url = f"http://{self.host}"
        return self

    def _stop_process(self) -> None:
        process, self._process, self.pid = self._process, None, None
        stop_process(process)

    def _remove_workdir(self) -> None:
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def stop(self) -> None:
        """Stop the registry process and delete its storage."""
        self._stop_process()
        self._remove_workdir()

    def __enter__(self) -> "LocalRegistry":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _answers(port: int) -> bool:
    """Whether a registry on ``port`` answers its API's base endpoint."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False
