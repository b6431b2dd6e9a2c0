"""How the Argo CD simulator resolves an Application source's ``targetRevision``.

Argo CD's repo server turns a branch, tag or ``HEAD`` into a commit SHA before comparing.
:class:`RevisionTable` does it from, in order:

* the target revision itself when it is a full SHA, or a Helm chart's version;
* the table tests fill with :meth:`RevisionTable.set` (repository URL and target
  revision to commit SHA);
* for repositories on this machine (``file://`` URLs, paths, and ``http(s)://`` on
  127.0.0.1 or localhost, as served by
  :class:`~kargo_dagster.testing.git_remote.GitRemote` and
  :class:`~kargo_dagster.testing.git_remote.GitHTTPServer`), the real repository, read
  with ``git ls-remote``.

A revision none of these resolve is :class:`UnresolvableRevision`, which the simulator
reports as a ``ComparisonError``.
"""

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kargo_dagster.clients.git.command import GitCommand
from kargo_dagster.errors import RepositoryError
from kargo_dagster.redaction import redact_url
from kargo_dagster.urls import normalize_git_url

__all__ = ["RevisionTable", "UnresolvableRevision"]

_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class UnresolvableRevision(Exception):
    """A source revision the simulator cannot resolve (becomes a ComparisonError)."""


def _is_sha(revision: str) -> bool:
    return len(revision) == 40 and all(c in "0123456789abcdef" for c in revision.lower())


class RevisionTable:
    """Target revisions of repositories, resolved to commit SHAs. Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._revisions: dict[tuple[str, str], str] = {}

    def set(self, repo_url: str, target_revision: str, sha: str) -> None:
        """Resolve ``target_revision`` (a branch, tag or ``HEAD``) of ``repo_url`` to ``sha``."""
        with self._lock:
            self._revisions[(normalize_git_url(repo_url), target_revision or "HEAD")] = sha

    def resolve(self, source: Mapping[str, Any], *, local_git: bool) -> str:
        """The revision an Application source's ``targetRevision`` stands for.

        Args:
            source: One ``spec.source`` (``repoURL``, ``targetRevision``, ``chart``).
            local_git: Ask repositories on this machine with ``git ls-remote`` when the
                table has no entry.

        Raises:
            UnresolvableRevision: Nothing resolves it.
        """
        target = str(source.get("targetRevision") or "HEAD")
        repo_url = str(source.get("repoURL", ""))
        if source.get("chart"):
            return target  # a Helm chart's revision is its version
        if _is_sha(target):
            return target.lower()
        with self._lock:
            known = self._revisions.get((normalize_git_url(repo_url), target))
        if known:
            return known
        if local_git and _is_local(repo_url):
            found = _ls_remote(repo_url, target)
            if found:
                return found
        raise UnresolvableRevision(
            f"rpc error: code = Unknown desc = unable to resolve '{target}' to a commit SHA"
        )


def _is_local(repo_url: str) -> bool:
    if repo_url.startswith("file://") or Path(repo_url).is_absolute():
        return True
    parts = urlsplit(repo_url)
    return parts.scheme in ("http", "https") and parts.hostname in _LOCAL_HOSTS


def _ls_remote(repo_url: str, target: str) -> str | None:
    command = GitCommand(repo_label=redact_url(repo_url), timeout=30)
    try:
        output = command.run(["ls-remote", repo_url], action="listing refs of")
    except RepositoryError:
        return None
    refs: dict[str, str] = {}
    for line in output.decode(errors="replace").splitlines():
        sha, _, ref = line.partition("\t")
        refs[ref] = sha
    if target == "HEAD" or target.startswith("refs/"):
        return refs.get(target)
    # An annotated tag resolves to the commit it points at (the peeled ^{} line).
    for ref in (f"refs/heads/{target}", f"refs/tags/{target}^{{}}", f"refs/tags/{target}"):
        if ref in refs:
            return refs[ref]
    return None
