"""A real SSH git server for tests: OpenSSH's ``sshd`` on loopback, serving bare repositories.

:class:`SshGitServer` starts ``/usr/sbin/sshd -D`` (Debian package ``openssh-server``) as the
current user on a free port of ``127.0.0.1``, with a host key and a client key pair of its
own made by ``ssh-keygen``. Clients log in as the current user with
:attr:`SshGitServer.client_key` (or any key passed in ``authorized_keys``), and each key may
only run git (``git-shell``), so git's ``git-upload-pack`` and ``git-receive-pack`` serve
the bare repositories (:class:`~kargo_dagster.testing.git_remote.GitRemote`) by their
absolute paths. :attr:`SshGitServer.known_hosts_line` is what a client must trust.

Examples:
    >>> remote = GitRemote.create(tmp_path / "remotes", "app")  # doctest: +SKIP
    >>> with SshGitServer(tmp_path / "ssh") as server:  # doctest: +SKIP
    ...     url = server.url_for(remote)
    ...     key = server.client_key.private_key
    ...     trusted = server.known_hosts_line
"""

import getpass
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from kargo_dagster.testing.git_remote import GitRemote
from kargo_dagster.testing.server_process import (
    RegistryServerError,
    start_server_process,
    stop_process,
)

__all__ = ["SSHD", "SshGitServer", "SshKeyPair", "generate_key_pair"]

SSHD = "/usr/sbin/sshd"
# sshd started as root insists on its privilege separation directory (Debian's).
_PRIVSEP_DIR = Path("/run/sshd")
_CONFIG = """\
Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile none
AuthorizedKeysFile {authorized_keys}
AllowUsers {user}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
PrintMotd no
X11Forwarding no
AllowTcpForwarding no
LogLevel INFO
"""


@dataclass(frozen=True)
class SshKeyPair:
    """An SSH key pair: the private key (OpenSSH format) and the ``authorized_keys`` line."""

    private_key: str
    public_key: str


def generate_key_pair(directory: Path, name: str, *, kind: str = "ed25519") -> SshKeyPair:
    """A new key pair without a passphrase, made by ``ssh-keygen`` in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", name, "-f", str(path)],
        check=True,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    return SshKeyPair(path.read_text(), path.with_suffix(".pub").read_text().strip())


class SshGitServer:
    """``sshd`` on 127.0.0.1 serving git over SSH; use it as a context manager.

    Args:
        workdir: Where the keys, configuration and log go (created if missing).
        authorized_keys: Public keys allowed besides :attr:`client_key`.
        startup_timeout: Seconds to wait for sshd to greet.

    Attributes:
        user: Who clients log in as (the current user).
        port: The port sshd listens on, once started.
        client_key: A key pair the server accepts.
        host_key: The server's public host key (``<type> <base64>``).
        pid: sshd's PID while it runs.
    """

    def __init__(
        self,
        workdir: Path,
        *,
        authorized_keys: Sequence[str] = (),
        startup_timeout: float = 10.0,
    ) -> None:
        self.workdir = workdir
        self.user = getpass.getuser()
        self.port = 0
        self.startup_timeout = startup_timeout
        self._extra_keys = list(authorized_keys)
        self.client_key = SshKeyPair("", "")
        self.host_key = ""
        self.pid: int | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def known_hosts_line(self) -> str:
        """The ``known_hosts`` line that trusts this server's host key."""
        return f"[127.0.0.1]:{self.port} {self.host_key}"

    def url_for(self, remote: GitRemote) -> str:
        """``ssh://user@127.0.0.1:<port>/<absolute path>`` of ``remote``."""
        return f"ssh://{self.user}@127.0.0.1:{self.port}{remote.git_dir.resolve()}"

    def scp_url_for(self, remote: GitRemote) -> str:
        """``remote`` in git's scp-like form, ``[user@127.0.0.1:<port>]:<absolute path>``."""
        return f"[{self.user}@127.0.0.1:{self.port}]:{remote.git_dir.resolve()}"

    def start(self) -> "SshGitServer":
        """Make the keys, start sshd and wait until it greets.

        Raises:
            RegistryServerError: sshd is missing or did not come up.
        """
        if not Path(SSHD).is_file():
            raise RegistryServerError(
                f"{SSHD} is not installed; install the Debian package openssh-server "
                "(apt-get install -y openssh-server)"
            )
        if os.geteuid() == 0 and not _PRIVSEP_DIR.is_dir():
            _PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
        self.workdir.mkdir(parents=True, exist_ok=True)
        keys = Path(tempfile.mkdtemp(prefix="keys-", dir=self.workdir))
        host = generate_key_pair(keys, "host_key")
        self.host_key = " ".join(host.public_key.split()[:2])
        self.client_key = generate_key_pair(keys, "client_key")
        # Every key may run git and nothing else.
        restricted = 'restrict,command="git-shell -c \\"$SSH_ORIGINAL_COMMAND\\"" '
        authorized = keys / "authorized_keys"
        lines = [self.client_key.public_key, *self._extra_keys]
        authorized.write_text("".join(f"{restricted}{line}\n" for line in lines))
        log_path = keys / "sshd.log"
        config = keys / "sshd_config"

        def launch(port: int) -> "subprocess.Popen[bytes]":
            config.write_text(
                _CONFIG.format(
                    port=port,
                    host_key=keys / "host_key",
                    authorized_keys=authorized,
                    user=self.user,
                )
            )
            return subprocess.Popen(
                [SSHD, "-D", "-f", str(config), "-E", str(log_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )

        self._process, self.port = start_server_process(
            launch, _greets, what="sshd", log=log_path, startup_timeout=self.startup_timeout
        )
        self.pid = self._process.pid
        return self

    def _stop_process(self) -> None:
        process, self._process, self.pid = self._process, None, None
        stop_process(process)

    def stop(self) -> None:
        """Stop sshd and delete its keys and configuration."""
        self._stop_process()
        for path in self.workdir.glob("keys-*"):
            shutil.rmtree(path, ignore_errors=True)

    def __enter__(self) -> "SshGitServer":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def _greets(port: int) -> bool:
    """Whether an SSH server on ``port`` sends its greeting."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as sock:
            return sock.recv(8).startswith(b"SSH-")
    except OSError:
        return False
