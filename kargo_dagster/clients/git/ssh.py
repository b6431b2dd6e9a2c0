"""git over SSH with a private key from the credentials, and host keys checked.

For the duration of one git command, the key and the trusted ``known_hosts`` lines are
written to files in a private temporary directory (the directory ``0700``, the files
``0600``) that is removed when the command ends. git runs ssh as ``GIT_SSH_COMMAND`` with
nothing of the user's SSH setup: no configuration file (``-F /dev/null``), no agent, no
identities besides the key, no user or system ``known_hosts``, and strict host key checking,
so a host whose key is not among the trusted lines is refused rather than trusted on first
use.

URLs are SSH URLs in git's two spellings: ``ssh://[user@]host[:port]/path`` (also
``git+ssh://``) and scp-like ``[user@]host:path``, where ``[user@host:port]:path`` gives a
port.
"""

import contextlib
import os
import re
import shlex
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from kargo_dagster.credentials import Credentials

__all__ = ["KEY_PLACEHOLDER", "is_ssh_url", "ssh_environment", "ssh_host"]

# scp-like: an optional user, a host (or a bracketed "user@host:port"), a colon, the path.
_SCP_LIKE = re.compile(r"^(?:\[(?P<bracketed>[^\]/]+)\]|(?P<host>[^/:@\s]+@?[^/:\s]*)):(?!//)")
_SSH_SCHEMES = ("ssh", "git+ssh", "ssh+git")

# What messages show instead of the temporary directory that held the key.
KEY_PLACEHOLDER = "<ssh credentials>"


def is_ssh_url(url: str) -> bool:
    """Whether git reaches ``url`` over SSH."""
    scheme, separator, _ = url.partition("://")
    if separator:
        return scheme.lower() in _SSH_SCHEMES
    # git treats "host:path" as SSH unless a slash comes before the colon (a local path).
    return _SCP_LIKE.match(url) is not None


def ssh_host(url: str) -> str:
    """The host of an SSH URL as ``known_hosts`` names it: ``host``, or ``[host]:port``."""
    if "://" in url:
        parts = urlsplit(url)
        host, port = parts.hostname or "", parts.port
    else:
        found = _SCP_LIKE.match(url)
        authority = (found.group("bracketed") or found.group("host")) if found else url
        host, _, port_text = authority.rpartition("@")[2].partition(":")
        port = int(port_text) if port_text.isdigit() else None
    return f"[{host}]:{port}" if port not in (None, 22) else host


@contextlib.contextmanager
def ssh_environment(credentials: Credentials | None) -> Iterator[tuple[dict[str, str], str]]:
    """The environment variables that make git use ``credentials``' SSH key, and their directory.

    Yields an empty environment and directory when there is no key. The files exist until
    the block ends.
    """
    key = credentials.ssh_private_key if credentials is not None else None
    if credentials is None or key is None:
        yield {}, ""
        return
    with tempfile.TemporaryDirectory(prefix="kargo-dagster-ssh-") as directory:
        key_file = Path(directory, "key")
        known_hosts = Path(directory, "known_hosts")
        # ssh refuses a key file without a final newline or with CR LF line ends.
        text = key.get_secret_value().replace("\r\n", "\n").strip() + "\n"
        _write_private(key_file, text)
        _write_private(known_hosts, credentials.ssh_known_hosts)
        options = {
            "IdentitiesOnly": "yes",
            "IdentityAgent": "none",
            "StrictHostKeyChecking": "yes",
            "UserKnownHostsFile": str(known_hosts),
            "GlobalKnownHostsFile": os.devnull,
            "UpdateHostKeys": "no",
            "BatchMode": "yes",
            "PasswordAuthentication": "no",
            "KbdInteractiveAuthentication": "no",
            "ConnectTimeout": "30",
        }
        command = ["ssh", "-F", os.devnull, "-i", str(key_file)]
        for name, value in options.items():
            command += ["-o", f"{name}={value}"]
        yield (
            {
                "GIT_SSH_COMMAND": shlex.join(command),
                "GIT_SSH_VARIANT": "ssh",
            },
            directory,
        )


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
