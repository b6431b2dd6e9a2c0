"""Updating a Helm chart's dependencies with ``helm dependency update``, as Kargo does it.

Kargo drives Helm's dependency manager with a throw-away Helm home: a repository file
listing every classic (``http://``, ``https://``) repository the chart depends on, a
repository cache, and registry logins for its OCI dependencies. Here the helm program does
the same work against the same kind of throw-away home, so nothing is read from or left in
the Helm configuration of the account that runs the promotion.

Credentials (kind ``helm``) are looked up exactly where Kargo looks them up: for
``https://`` repositories by repository URL, and for OCI dependencies by
``oci://<normalised repository>/<chart name>``; ``http://`` repositories never get any, so
that no password crosses the network in clear. They are written only into the throw-away
home (a private temporary directory outside the work directory, removed afterwards), never
onto a command line, and are scrubbed from every message.

Local dependencies (``file://``) must be relative and stay inside the work directory, and so
must every symlink under them (Helm follows symlinks when it packages them).
"""

import base64
import hashlib
import json
import os
import posixpath
import socket
import ssl
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from kargo_dagster.credentials import Credentials, CredentialStore
from kargo_dagster.errors import RetryableStepError, StepError, TerminalStepError
from kargo_dagster.promotion.tools import run_tool
from kargo_dagster.redaction import ECHO_MASK, mask_secrets
from kargo_dagster.urls.normalize import go_path_join, normalize_chart_repo_url

__all__ = [
    "ChartDependency",
    "HelmHome",
    "check_local_dependencies",
    "compare_versions",
    "helm_home",
    "oci_host",
    "read_dependencies",
    "serves_plain_http",
    "update_dependencies",
]

DEPENDENCY_TIMEOUT = 600.0
_PROBE_TIMEOUT = 10.0
_MAX_SYMLINK_DEPTH = 100
# What ``helm repo update`` says before it starts, which explains no failure.
_HELM_CHATTER = "Hang tight while we grab the latest from your chart repositories...\n"
# The content types a TLS record starts with (change cipher spec, alert, handshake, data).
_TLS_RECORD_TYPES = frozenset({0x14, 0x15, 0x16, 0x17})


@dataclass(frozen=True)
class ChartDependency:
    """One entry of ``dependencies`` in ``Chart.yaml`` or ``Chart.lock``."""

    repository: str
    name: str
    version: str


def read_dependencies(path: Path, shown: str) -> list[ChartDependency]:
    """The ``dependencies`` of a ``Chart.yaml`` or ``Chart.lock``.

    Args:
        path: The file.
        shown: The file as messages name it.

    Raises:
        FileNotFoundError: The file does not exist (a missing ``Chart.lock`` is normal).
        TerminalStepError: The file cannot be read or is not a chart's metadata.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as error:
        raise TerminalStepError(f"cannot read {shown}: {error}") from error
    try:
        # Helm reads these files as YAML 1.1 (through JSON), as PyYAML does.
        document: Any = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise TerminalStepError(f"cannot parse {shown}: {error}") from error
    if document is None:
        return []
    if not isinstance(document, dict):
        raise TerminalStepError(f"{shown} is not a mapping")
    entries: Any = document.get("dependencies") or []
    if not isinstance(entries, list):
        raise TerminalStepError(f"{shown}: dependencies is not a list")
    dependencies: list[ChartDependency] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise TerminalStepError(f"{shown}: dependencies[{index}] is not a mapping")
        fields = {k: entry.get(k) for k in ("repository", "name", "version")}
        dependencies.append(
            ChartDependency(**{k: "" if v is None else str(v) for k, v in fields.items()})
        )
    return dependencies


def _inside(root: Path, path: Path) -> bool:
    return path == root or root in path.parents


def check_local_dependencies(
    work_dir: Path, chart_dir: Path, dependencies: Sequence[ChartDependency]
) -> None:
    """Refuse ``file://`` dependencies that reach outside the work directory.

    Raises:
        TerminalStepError: A local dependency is absolute, does not exist, leaves the work
            directory, or holds a symlink that does.
    """
    root = work_dir.resolve()
    for dependency in dependencies:
        if not dependency.repository.startswith("file://"):
            continue
        location = dependency.repository.removeprefix("file://")
        problem = _local_dependency_problem(root, chart_dir, location)
        if problem:
            raise TerminalStepError(f"invalid dependency {dependency.repository!r}: {problem}")


def _local_dependency_problem(root: Path, chart_dir: Path, location: str) -> str:
    if os.path.isabs(location):
        return f"dependency path {location!r} must be relative"
    path = chart_dir / location
    if not path.exists():
        return "the dependency path does not exist"
    if not _inside(root, path.resolve()):
        return "dependency path is outside the work directory"
    return _symlink_problem(root, path, set[Path](), 0)


def _symlink_problem(root: Path, directory: Path, visited: set[Path], depth: int) -> str:
    absolute = Path(os.path.abspath(directory))
    if absolute in visited:
        return ""
    visited.add(absolute)
    if depth >= _MAX_SYMLINK_DEPTH:
        return "maximum recursion depth exceeded"
    try:
        entries = sorted(absolute.iterdir())
    except OSError as error:
        return f"failed to read directory: {error.strerror}"
    for entry in entries:
        if entry.is_symlink():
            target = entry.resolve()
            if not _inside(root, target):
                shown = entry.relative_to(root) if _inside(root, entry) else entry.name
                return f"symlink at {shown} points outside the path boundary"
            if target.is_dir() and target not in visited:
                problem = _symlink_problem(root, target, visited, depth + 1)
                if problem:
                    return problem
            visited.add(target)
        elif entry.is_dir():
            problem = _symlink_problem(root, entry, visited, depth + 1)
            if problem:
                return problem
    return ""


def oci_host(repository: str, name: str) -> str:
    """The registry host Helm dials for chart ``name`` of OCI ``repository``."""
    reference = repository.removeprefix("oci://") + "/" + name
    host = reference.split("/", 1)[0]
    # ORAS dials Docker Hub's registry under its API host.
    return "registry-1.docker.io" if host == "docker.io" else host


def _repository_name(url: str) -> str:
    # Kargo names each repository after a hash of its cleaned-up URL; the name only has to
    # be unique and stable.
    parts = urlsplit(url)
    path = posixpath.normpath(parts.path or "/")
    return hashlib.sha256(urlunsplit(parts._replace(path=path)).encode()).hexdigest()


def serves_plain_http(host: str, *, timeout: float = _PROBE_TIMEOUT) -> bool:
    """Whether the registry at ``host`` answers a TLS handshake with something that is not TLS.

    Kargo sends a TLS handshake and takes an ``HTTP/`` reply for a registry that speaks plain
    HTTP. Any reply that is not a TLS record counts here (some servers answer a garbled
    request with an error page and no status line): such a server cannot be spoken to over
    HTTPS at all. No reply, or a TLS one, means HTTPS, and the real request reports what is
    wrong.
    """
    hostname, port = _host_and_port(host)
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    handshake = context.wrap_bio(incoming, outgoing, server_hostname=hostname)
    try:
        handshake.do_handshake()
    except ssl.SSLWantReadError:
        pass  # the ClientHello is ready to send
    try:
        with socket.create_connection((hostname, port), timeout=timeout) as connection:
            connection.sendall(outgoing.read())
            answer = connection.recv(1)
    except OSError:
        return False
    return bool(answer) and answer[0] not in _TLS_RECORD_TYPES


def _host_and_port(host: str) -> tuple[str, int]:
    """``registry.example.com:5000`` or ``[::1]:5000`` split; port 443 when none is given."""
    name, colon, port = host.rpartition(":")
    bracketed = name.startswith("[") and name.endswith("]")
    if colon and port.isdigit() and (bracketed or ":" not in name):
        return name.strip("[]"), int(port)
    return host.strip("[]"), 443


@dataclass(frozen=True)
class HelmHome:
    """A throw-away Helm home: repository file, repository cache and registry logins.

    Attributes:
        root: The private directory holding it all.
        secrets: What the credentials written into it look like in messages (each password,
            and the base64 ``user:password`` of its Basic header and registry login).
        classic_repositories: How many classic repositories the repository file lists.
        plain_http: Whether every OCI registry of the chart speaks plain HTTP.
    """

    root: Path
    secrets: tuple[str, ...] = ()
    classic_repositories: int = 0
    plain_http: bool = False

    @property
    def env(self) -> Mapping[str, str]:
        """The environment that points helm at this home."""
        return MappingProxyType(
            {
                "HELM_REPOSITORY_CONFIG": str(self.root / "repositories.yaml"),
                "HELM_REPOSITORY_CACHE": str(self.root / "cache"),
                "HELM_REGISTRY_CONFIG": str(self.root / "registry" / "config.json"),
            }
        )

    def scrub(self, text: str) -> str:
        """``text`` without any of the passwords of this home, in any form a request carries."""
        # Not str.replace: helm and the servers it quotes may show a password percent-encoded
        # (in a URL) or inside the base64 of a Basic header or a registry login.
        return mask_secrets(text, self.secrets, mask=ECHO_MASK)


def _credential_secret(credentials: Credentials) -> str:
    return credentials.password.get_secret_value()


@contextmanager
def helm_home(
    dependencies: Sequence[ChartDependency], credentials: CredentialStore
) -> Iterator[HelmHome]:
    """A Helm home set up for ``dependencies``, removed on exit.

    Raises:
        RetryableStepError: The home could not be written.
    """
    with tempfile.TemporaryDirectory(prefix="kargo-dagster-helm-") as directory:
        root = Path(directory)
        repositories: dict[str, dict[str, str]] = {}
        logins: dict[str, Credentials] = {}
        classic_credentials: list[Credentials] = []
        oci_hosts: list[str] = []
        for dependency in dependencies:
            repository = dependency.repository
            if repository.startswith(("http://", "https://")):
                entry = {"name": _repository_name(repository), "url": repository}
                if repository.startswith("https://"):
                    found = credentials.lookup("helm", repository)
                    if found is not None:
                        entry["username"] = found.username
                        entry["password"] = _credential_secret(found)
                        classic_credentials.append(found)
                repositories[entry["name"]] = entry
            elif repository.startswith("oci://"):
                host = oci_host(repository, dependency.name)
                oci_hosts.append(host)
                if host in logins:
                    continue
                key = "oci://" + go_path_join(normalize_chart_repo_url(repository), dependency.name)
                found = credentials.lookup("helm", key)
                if found is not None:
                    logins[host] = found
        try:
            _write_private(
                root / "repositories.yaml",
                json.dumps({"apiVersion": "", "repositories": list(repositories.values())}),
            )
            _write_private(root / "registry" / "config.json", _registry_config(logins))
        except OSError as error:
            raise RetryableStepError(f"cannot prepare Helm's home: {error.strerror}") from error
        used = [*classic_credentials, *logins.values()]
        secrets = tuple(dict.fromkeys(secret for c in used for secret in c.secrets()))
        plain = bool(oci_hosts) and all(serves_plain_http(h) for h in dict.fromkeys(oci_hosts))
        yield HelmHome(root, secrets, len(repositories), plain)


def _registry_config(logins: Mapping[str, Credentials]) -> str:
    auths: dict[str, dict[str, str]] = {}
    for host, credentials in logins.items():
        pair = f"{credentials.username}:{_credential_secret(credentials)}"
        # Docker Hub's logins are kept under its historical index address.
        key = "https://index.docker.io/v1/" if host == "registry-1.docker.io" else host
        auths[key] = {"auth": base64.b64encode(pair.encode()).decode()}
    return json.dumps({"auths": auths})


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)


def _run(home: HelmHome, argv: Sequence[str], action: str) -> None:
    try:
        run_tool(argv, action=action, timeout=DEPENDENCY_TIMEOUT, env=home.env)
    except StepError as error:
        message = str(error).replace(_HELM_CHATTER, "")
        raise type(error)(home.scrub(message)) from None


def compare_versions(
    before: Sequence[ChartDependency], after: Sequence[ChartDependency]
) -> dict[str, str]:
    """What changed between two ``Chart.lock`` dependency lists, by chart name.

    ``old -> new`` for a changed version, the version for an added chart, and an empty
    string for a removed one.
    """
    previous = {d.name: d.version for d in before}
    changes: dict[str, str] = {}
    for dependency in after:
        if dependency.name in previous:
            old = previous.pop(dependency.name)
            if old != dependency.version:
                changes[dependency.name] = f"{old} -> {dependency.version}"
        else:
            changes[dependency.name] = dependency.version
    for name in previous:
        changes[name] = ""
    return changes


def update_dependencies(
    helm: str,
    chart_dir: Path,
    shown: str,
    dependencies: Sequence[ChartDependency],
    credentials: CredentialStore,
) -> dict[str, str]:
    """Run ``helm dependency update`` on the chart; what changed in its ``Chart.lock``.

    When nothing changed, the previous ``Chart.lock`` is put back, so that its ``generated``
    time does not make a change of its own.

    Args:
        helm: The helm program.
        chart_dir: The chart's directory.
        shown: The chart's path as the configuration gave it.
        dependencies: The chart's dependencies (from ``Chart.yaml``).
        credentials: Where repository credentials come from.

    Raises:
        RetryableStepError: helm failed (the message holds its error, passwords scrubbed).
        TerminalStepError: ``Chart.lock`` cannot be read.
    """
    lock = chart_dir / "Chart.lock"
    lock_shown = posixpath.join(shown, "Chart.lock")
    try:
        before = read_dependencies(lock, lock_shown)
        original: bytes | None = lock.read_bytes()
    except FileNotFoundError:
        before, original = [], None
    with helm_home(dependencies, credentials) as home:
        if home.classic_repositories:
            # Kargo downloads every repository's index before resolving anything, so that a
            # repository that cannot be read is reported as such. helm prints why on stdout.
            _run(
                home,
                ["/bin/sh", "-c", 'exec "$@" 2>&1', "sh", helm, "repo", "update"],
                f"download the chart repository indexes for chart {shown}",
            )
        argv = [helm, "dependency", "update", "--skip-refresh", str(chart_dir)]
        if home.plain_http:
            argv.append("--plain-http")
        _run(home, argv, f"update the dependencies of chart {shown}")
    try:
        after = read_dependencies(lock, lock_shown)
    except FileNotFoundError:
        after = []
    changes = compare_versions(before, after)
    if not changes and original is not None:
        lock.write_bytes(original)
    return changes
