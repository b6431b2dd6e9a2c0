"""Running the git command line against remote repositories without leaking credentials.

Credentials reach git through a credential helper defined inline in ``GIT_CONFIG_*``
environment variables; the helper reads the username and password from two more
environment variables. Nothing is written to disk, nothing appears on a command line (where
``ps`` shows it) or in a repository's configuration, and any helper the user configured is
disabled for the call so that git cannot hand the password to a credential store.

For SSH remotes, the credentials' private key reaches ssh through a private temporary file
that lives as long as the command, and the server's host key must be among the trusted
``known_hosts`` lines (:mod:`kargo_dagster.clients.git.ssh`).

Everything git prints is scrubbed of the password and username (also as the base64 of an
HTTP Basic header and URL-encoded) and of the private key before it becomes part of a
:class:`~kargo_dagster.errors.RepositoryError`.
"""

import contextlib
import os
import re
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kargo_dagster.clients.deadlines import current_budget, remaining
from kargo_dagster.clients.git.ssh import KEY_PLACEHOLDER, is_ssh_url, ssh_environment, ssh_host
from kargo_dagster.credentials import Credentials, CredentialStore
from kargo_dagster.errors import RepositoryError
from kargo_dagster.redaction import ECHO_MASK, mask_secrets

__all__ = ["GitCommand", "git_credentials", "scrub"]

_USERNAME_VAR = "KARGO_DAGSTER_GIT_USERNAME"
_PASSWORD_VAR = "KARGO_DAGSTER_GIT_PASSWORD"

# Answers git's "get" requests only: "store" and "erase" must not persist anything.
_CREDENTIAL_HELPER = (
    '!f() { test "$1" = get || return 0; '
    f'printf "username=%s\\npassword=%s\\n" "${_USERNAME_VAR}" "${_PASSWORD_VAR}"; }}; f'
)

# As in Kargo: give up on transfers slower than 1 KiB/s for 30 s instead of hanging.
_LOW_SPEED_LIMIT = "1024"
_LOW_SPEED_TIME = "30"

# Shorter strings are too likely to occur in ordinary text to be worth masking, and a
# username that short is not a token.
_MIN_SCRUBBED_LENGTH = 4


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every form of every secret as ``*****`` and URL credentials masked."""
    kept = [secret for secret in secrets if len(secret) >= _MIN_SCRUBBED_LENGTH]
    return mask_secrets(text, kept, mask=ECHO_MASK)


_HTTP_STATUS = re.compile(r"returned error: (\d{3})")
_AUTH_HINTS = (
    "authentication failed",
    "could not read username",
    "could not read password",
    "permission denied",
    "access denied",
)
_MISSING_HINTS = ("not found", "does not appear to be a git repository", "no such repository")
_UNREACHABLE_HINTS = (
    "could not resolve host",
    "failed to connect",
    "connection refused",
    "connection reset",
    "timed out",
    "network is unreachable",
    "no route to host",
    "certificate",
    "ssl connect",
    "tls connect",
)


def git_credentials(store: CredentialStore, repo_url: str) -> Credentials | None:
    """The credentials git can use for ``repo_url``: a password over HTTP(S), a key over SSH.

    Other URLs (``file://``, local paths) take none.
    """
    if repo_url.lower().startswith(("http://", "https://")):
        found = store.lookup("git", repo_url)
        return found if found is not None and found.ssh_private_key is None else None
    if is_ssh_url(repo_url):
        found = store.lookup("git", repo_url)
        return found if found is not None and found.ssh_private_key is not None else None
    return None


_SSH_UNKNOWN_HOST = re.compile(r"no \S+ host key is known for|host key verification failed")
_SSH_CHANGED_HOST = "remote host identification has changed"
_SSH_UNREADABLE_KEY = re.compile(r'load key "[^"\n]*": ([^\r\n]+)')


def _ssh_failure_reason(lowered: str, repo_label: str) -> str | None:
    if _SSH_CHANGED_HOST in lowered:
        return (
            f"the SSH host key of {ssh_host(repo_label)} does not match the one in the known "
            "hosts (ssh_known_hosts / KARGO_DAGSTER_SSH_KNOWN_HOSTS)"
        )
    if _SSH_UNKNOWN_HOST.search(lowered):
        return (
            f"the SSH host key of {ssh_host(repo_label)} is not in the known hosts (add its "
            "known_hosts line to ssh_known_hosts or KARGO_DAGSTER_SSH_KNOWN_HOSTS)"
        )
    unreadable = _SSH_UNREADABLE_KEY.search(lowered)
    if unreadable:
        return f"the SSH private key configured for it cannot be read ({unreadable.group(1)})"
    if "permission denied (publickey" in lowered:
        return "authentication failed (the server refused the SSH key configured for it)"
    return None


def _failure_reason(stderr: str) -> str:
    lowered = stderr.lower()
    status = _HTTP_STATUS.search(lowered)
    code = status.group(1) if status else ""
    if code in ("401", "403") or any(hint in lowered for hint in _AUTH_HINTS):
        return "authentication failed (check the git credentials configured for it)"
    if code == "404" or any(hint in lowered for hint in _MISSING_HINTS):
        return "repository not found"
    if any(hint in lowered for hint in _UNREACHABLE_HINTS):
        return "repository unreachable"
    return "git failed"


@dataclass(frozen=True)
class GitCommand:
    """How to run git for one repository.

    Attributes:
        repo_label: The repository as error messages name it (already redacted).
        credentials: Username and password for HTTP(S) remotes, or None.
        insecure_skip_tls_verify: Turn off TLS certificate verification for this call only.
        timeout: Seconds before a command is killed.
        executable: The git program.
    """

    repo_label: str
    credentials: Credentials | None = None
    insecure_skip_tls_verify: bool = False
    timeout: float = 600.0
    executable: str = "git"

    def _secrets(self) -> list[str]:
        if self.credentials is None:
            return []
        return [*self.credentials.secrets(), self.credentials.username]

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment for a git process: no prompts, optional credentials and TLS off."""
        env = dict(os.environ if base is None else base)
        for key in ("GIT_ASKPASS", "SSH_ASKPASS"):
            env.pop(key, None)
        env.update(
            GIT_TERMINAL_PROMPT="0",
            GIT_HTTP_LOW_SPEED_LIMIT=_LOW_SPEED_LIMIT,
            GIT_HTTP_LOW_SPEED_TIME=_LOW_SPEED_TIME,
            LC_ALL="C",  # error classification reads git's English messages
        )
        if "GIT_SSH_COMMAND" not in env and "GIT_SSH" not in env:
            # ssh would otherwise ask for passphrases or host confirmation on a terminal.
            env["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes"
        config: list[tuple[str, str]] = [("core.askPass", "")]
        if self.credentials is not None:
            # An empty value clears the helpers configured so far (the user's, the system's).
            config += [("credential.helper", ""), ("credential.helper", _CREDENTIAL_HELPER)]
            env[_USERNAME_VAR] = self.credentials.username
            env[_PASSWORD_VAR] = self.credentials.password.get_secret_value()
        if self.insecure_skip_tls_verify:
            config.append(("http.sslVerify", "false"))
        count = int(env.get("GIT_CONFIG_COUNT", "0") or "0")
        for offset, (key, value) in enumerate(config):
            env[f"GIT_CONFIG_KEY_{count + offset}"] = key
            env[f"GIT_CONFIG_VALUE_{count + offset}"] = value
        env["GIT_CONFIG_COUNT"] = str(count + len(config))
        return env

    def run(
        self,
        args: Sequence[str],
        *,
        action: str,
        git_dir: Path | None = None,
        cwd: Path | None = None,
        ok_codes: Sequence[int] = (0,),
        stdin: bytes | None = None,
    ) -> bytes:
        """Run ``git <args>`` and return its standard output.

        Args:
            args: The git subcommand and its arguments (never secrets).
            action: What the command does, for error messages (``"fetching"``).
            git_dir: The repository to run in (``--git-dir``).
            cwd: The working directory.
            ok_codes: Exit codes that count as success.
            stdin: What to write to git's standard input (nothing by default).

        Raises:
            RepositoryError: git failed or timed out; the message names the repository and
                carries git's scrubbed error output.
        """
        command = [self.executable]
        if git_dir is not None:
            command += ["--git-dir", str(git_dir)]
        code, stdout, stderr = self.execute([*command, *args], cwd=cwd, action=action, stdin=stdin)
        if code not in ok_codes:
            raise self.failure(action, stderr.decode(errors="replace"))
        return stdout

    def execute(
        self, command: Sequence[str], *, cwd: Path | None, action: str, stdin: bytes | None = None
    ) -> tuple[int, bytes, bytes]:
        """Run ``command`` with this environment; its exit code and raw output.

        ``stdin`` is written to the command's standard input (none by default).

        The command is killed after :attr:`timeout` seconds, or sooner when the budget around
        the call (:func:`~kargo_dagster.clients.deadlines.budget`) runs out.

        Raises:
            RepositoryError: git could not be started or timed out.
        """
        left = remaining()
        budgeted = left is not None and left < self.timeout
        seconds = left if left is not None and budgeted else self.timeout
        if seconds <= 0:
            raise RepositoryError(
                f"{action} git repository {self.repo_label} was not started: "
                f"{current_budget()} was spent"
            )
        with ssh_environment(self.credentials) as (ssh, key_directory):
            code, stdout, stderr = self._execute(command, cwd, action, stdin, seconds, ssh)
        if key_directory:
            # The key's file is gone, but its temporary path would still tell about the machine.
            stderr = stderr.replace(key_directory.encode(), KEY_PLACEHOLDER.encode())
        return code, stdout, stderr

    def _execute(
        self,
        command: Sequence[str],
        cwd: Path | None,
        action: str,
        stdin: bytes | None,
        seconds: float,
        extra_environment: Mapping[str, str],
    ) -> tuple[int, bytes, bytes]:
        budgeted = seconds < self.timeout
        try:
            process = subprocess.Popen(
                list(command),
                cwd=cwd,
                env={**self.environment(), **extra_environment},
                stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # so a timeout can stop git's helpers too
            )
        except OSError as error:
            raise RepositoryError(
                f"cannot run {self.executable!r} while {action} git repository "
                f"{self.repo_label}: {error.strerror}"
            ) from None
        # A watchdog rather than communicate(timeout=...): with a timeout, waiting for the
        # exit polls with sleeps, which costs milliseconds on every one of a promotion's
        # many short git commands.
        expired = threading.Event()

        def stop() -> None:
            expired.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)

        watchdog = threading.Timer(seconds, stop)
        watchdog.daemon = True
        watchdog.start()
        try:
            stdout, stderr = process.communicate(stdin)
        finally:
            watchdog.cancel()
        if expired.is_set() and budgeted:
            raise RepositoryError(
                f"{action} git repository {self.repo_label} was stopped: {current_budget()} ran out"
            )
        if expired.is_set():
            raise RepositoryError(
                f"{action} git repository {self.repo_label} timed out after {self.timeout:g}s"
            )
        return process.returncode, stdout, stderr

    def failure(self, action: str, stderr: str) -> RepositoryError:
        """A :class:`RepositoryError` for a failed command, with its output scrubbed."""
        text = scrub(stderr, self._secrets())
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        # git states the cause on "fatal:"/"error:" lines (and the server on "remote:" ones);
        # the rest is progress chatter and advice.
        causes = [line for line in lines if line.startswith(("fatal:", "error:", "remote:"))]
        detail = "; ".join((causes or lines[-3:])[:3]) or "no error output"
        reason = None
        if is_ssh_url(self.repo_label):
            reason = _ssh_failure_reason(text.lower(), self.repo_label)
        reason = reason or _failure_reason(text)
        return RepositoryError(f"{action} git repository {self.repo_label}: {reason}: {detail}")
