"""Local bare mirrors of remote git repositories, kept up to date cheaply.

One mirror per repository lives under a root directory, in a directory named after a hash
of the repository's normalised URL (so ``https://Host/Org/Repo.git`` and
``https://host/org/repo`` share one)::

    <root>/<sha256 of the URL>/
        repo.git/      bare repository with every branch and tag of the remote
        state.json     the remote refs seen at the last successful fetch
        lock           held while the mirror is synced and read

:meth:`GitMirrors.synced` locks a mirror, asks the remote for its refs with one
``git ls-remote`` and fetches only when they differ from those recorded at the last fetch,
as Kargo v1.11 skips discovery when a repository's refs have not moved. The first use
initialises the mirror (``--filter=blob:none`` for blobless subscriptions); it is never
cloned afresh after that.
"""

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import socket
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kargo_dagster.clients.file_lock import advisory_lock
from kargo_dagster.clients.git.command import GitCommand, git_credentials
from kargo_dagster.credentials import NO_CREDENTIALS, CredentialStore
from kargo_dagster.errors import RepositoryError
from kargo_dagster.redaction import redact_url
from kargo_dagster.urls import normalize_git_url

__all__ = ["GitMirror", "GitMirrors", "RemoteRefs", "parse_ls_remote"]

_HEADS = "refs/heads/"
_TAGS = "refs/tags/"
_STATE_VERSION = 1
_FETCH_ATTEMPTS = 4


@dataclass(frozen=True)
class RemoteRefs:
    """The branches and tags a remote advertises, and its default branch.

    Attributes:
        refs: Full ref name (``refs/heads/main``, ``refs/tags/v1.0.0``) to object ID; for
            annotated tags the ID of the tag object.
        head: The ref ``HEAD`` points at (``refs/heads/main``), when the remote says.
        head_id: The commit ``HEAD`` resolves to, when the remote has one.
    """

    refs: Mapping[str, str] = field(default_factory=dict)
    head: str | None = None
    head_id: str | None = None

    def branch(self, name: str) -> str | None:
        """The commit branch ``name`` points at, or None if the remote has no such branch."""
        return self.refs.get(_HEADS + name)

    @property
    def default_branch(self) -> str | None:
        """The default branch's name (``main``), when the remote advertises it."""
        if self.head and self.head.startswith(_HEADS):
            return self.head.removeprefix(_HEADS)
        return None

    def to_json(self) -> dict[str, object]:
        """A JSON-ready form."""
        return {"refs": dict(sorted(self.refs.items())), "head": self.head, "headId": self.head_id}

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> "RemoteRefs":
        """The inverse of :meth:`to_json`."""
        refs = data.get("refs")
        head, head_id = data.get("head"), data.get("headId")
        if not isinstance(refs, dict):
            raise ValueError("refs must be an object")
        return cls(
            refs={str(k): str(v) for k, v in refs.items()},
            head=head if isinstance(head, str) else None,
            head_id=head_id if isinstance(head_id, str) else None,
        )


def parse_ls_remote(output: str) -> RemoteRefs:
    """Parse ``git ls-remote --symref`` output, keeping ``HEAD``, branches and tags.

    Peeled tag lines (``refs/tags/v1^{}``) are dropped: the tag's own ID already changes
    whenever it is moved.
    """
    refs: dict[str, str] = {}
    head = head_id = None
    for line in output.splitlines():
        value, tab, name = line.partition("\t")
        if not tab:
            continue
        if value.startswith("ref: "):
            if name == "HEAD":
                head = value.removeprefix("ref: ")
        elif name == "HEAD":
            head_id = value
        elif name.startswith((_HEADS, _TAGS)) and not name.endswith("^{}"):
            refs[name] = value
    return RemoteRefs(refs=refs, head=head, head_id=head_id)


@dataclass(frozen=True)
class GitMirror:
    """A synced, locked mirror, valid inside :meth:`GitMirrors.synced` only.

    Attributes:
        repo_url: The repository URL as given.
        path: The mirror's directory (stable across calls for the same repository).
        git_dir: The bare repository inside it.
        remote: The refs the remote advertised at this sync.
        fetched: Whether this sync fetched (False when the remote had not changed).
        command: Runs git for this repository (scrubbing errors); see :meth:`git`.
    """

    repo_url: str
    path: Path
    git_dir: Path
    remote: RemoteRefs
    fetched: bool
    command: GitCommand

    @property
    def label(self) -> str:
        """The repository as messages name it, credentials masked."""
        return self.command.repo_label

    def git(self, *args: str, action: str = "reading") -> bytes:
        """Run a local git command in the mirror and return its output.

        Raises:
            RepositoryError: The command failed; the message names the repository.
        """
        return self.command.run(args, action=action, git_dir=self.git_dir)


class GitMirrors:
    """The mirrors of every repository used, under one root directory.

    Args:
        root: Where the mirrors live; created when missing. Keep it across runs: that is
            what makes steady-state discovery cheap.
        credentials: Where HTTP(S) credentials come from (kind ``git``).
        timeout: Seconds a single git command, or waiting for a busy mirror, may take.
        executable: The git program.
    """

    def __init__(
        self,
        root: Path,
        credentials: CredentialStore = NO_CREDENTIALS,
        *,
        timeout: float = 600.0,
        executable: str = "git",
    ) -> None:
        self.root = root
        self.credentials = credentials
        self.timeout = timeout
        self.executable = executable

    def path_for(self, repo_url: str) -> Path:
        """The directory of ``repo_url``'s mirror (which may not exist yet)."""
        key = hashlib.sha256(normalize_git_url(repo_url).encode()).hexdigest()
        return self.root / key

    def command_for(self, repo_url: str, *, insecure_skip_tls_verify: bool = False) -> GitCommand:
        """How to run git against ``repo_url``, with its credentials (HTTP(S) or SSH)."""
        return GitCommand(
            repo_label=redact_url(repo_url),
            credentials=git_credentials(self.credentials, repo_url),
            insecure_skip_tls_verify=insecure_skip_tls_verify,
            timeout=self.timeout,
            executable=self.executable,
        )

    def ls_remote(self, repo_url: str, *, insecure_skip_tls_verify: bool = False) -> RemoteRefs:
        """The remote's ``HEAD``, branches and tags, from one ``git ls-remote``.

        Raises:
            RepositoryError: The remote is unreachable, refuses the credentials or is missing.
        """
        command = self.command_for(repo_url, insecure_skip_tls_verify=insecure_skip_tls_verify)
        return self._ls_remote(command, repo_url)

    def _ls_remote(self, command: GitCommand, repo_url: str) -> RemoteRefs:
        args = ["ls-remote", "--symref", repo_url, "HEAD", _HEADS + "*", _TAGS + "*"]
        # Run outside any repository: a local one's configuration must not apply.
        self.root.mkdir(parents=True, exist_ok=True)
        output = command.run(args, action="listing refs of", cwd=self.root)
        return parse_ls_remote(output.decode(errors="replace"))

    @contextlib.contextmanager
    def synced(
        self,
        repo_url: str,
        *,
        blobless: bool = False,
        insecure_skip_tls_verify: bool = False,
        fetch_first: bool = False,
    ) -> Iterator[GitMirror]:
        """Lock ``repo_url``'s mirror, bring it up to date and yield it.

        The lock (a file lock, so it works across processes) is held until the block ends,
        so nobody fetches into the mirror while it is read.

        Args:
            repo_url: The remote repository.
            blobless: Initialise a new mirror with ``--filter=blob:none``; an existing
                mirror keeps the form it was created with.
            insecure_skip_tls_verify: Do not verify the remote's TLS certificate.
            fetch_first: For callers that expect the remote to have moved (a promotion of a
                GitOps repository that others push to): fetch straight away instead of
                asking the remote for its refs first, saving a round trip when it did move
                and costing about the same when it did not. The refs are then read from
                the mirror; the remote's default branch is the one recorded at the last
                ``ls-remote``. A new mirror is made as usual.

        Raises:
            RepositoryError: The remote is unreachable, refuses the credentials, or git
                failed; the message names the repository with credentials masked.
        """
        command = self.command_for(repo_url, insecure_skip_tls_verify=insecure_skip_tls_verify)
        path = self.path_for(repo_url)
        path.mkdir(parents=True, exist_ok=True)
        with self._locked(path, command.repo_label):
            git_dir = path / "repo.git"
            if fetch_first and (mirror := self._fetched(command, path, repo_url)) is not None:
                yield mirror
                return
            remote = self._ls_remote(command, repo_url)
            created = not git_dir.is_dir()
            if created:
                self._initialise(command, path, repo_url)
            state = None if created else _read_state(path)
            wanted = {"url": repo_url, "remote": remote.to_json()}
            fetched = False
            if state is None or any(state.get(key) != value for key, value in wanted.items()):
                if not created and (state is None or state.get("url") != repo_url):
                    # Another spelling of the same repository (or an unknown past): fetch
                    # from the URL given now.
                    command.run(
                        ["config", "remote.origin.url", repo_url],
                        action="configuring the mirror of",
                        git_dir=git_dir,
                    )
                _remove_abandoned_locks(git_dir, self.timeout)
                fetch = ["fetch", "--quiet", "--prune", "--prune-tags", "origin"]
                if blobless and state is None:
                    # The first fetch with a filter makes the mirror a partial clone; later
                    # fetches keep using the filter on their own.
                    fetch.insert(1, "--filter=blob:none")
                _fetch(command, fetch, git_dir)
                # Recorded after the fetch: what was fetched is at least this new, so a
                # later ls-remote showing the same refs means nothing is missing.
                _write_state(path, wanted)
                fetched = True
            yield GitMirror(
                repo_url=repo_url,
                path=path,
                git_dir=git_dir,
                remote=remote,
                fetched=fetched,
                command=command,
            )

    def _fetched(self, command: GitCommand, path: Path, repo_url: str) -> GitMirror | None:
        """Fetch into an existing mirror and read the refs it now has; None without one."""
        git_dir = path / "repo.git"
        state = _read_state(path) if git_dir.is_dir() else None
        recorded = state.get("remote") if state is not None else None
        if state is None or state.get("url") != repo_url or not isinstance(recorded, dict):
            return None
        try:
            head = RemoteRefs.from_json(recorded).head
        except ValueError:
            return None
        _remove_abandoned_locks(git_dir, self.timeout)
        _fetch(command, ["fetch", "--quiet", "--prune", "--prune-tags", "origin"], git_dir)
        listed = command.run(
            ["for-each-ref", "--format=%(objectname) %(refname)", _HEADS, _TAGS],
            action="reading the mirror of",
            git_dir=git_dir,
        ).decode()
        refs: dict[str, str] = {}
        for line in listed.splitlines():
            value, _, name = line.partition(" ")
            refs[name] = value
        remote = RemoteRefs(refs=refs, head=head, head_id=refs.get(head) if head else None)
        _write_state(path, {"url": repo_url, "remote": remote.to_json()})
        return GitMirror(
            repo_url=repo_url, path=path, git_dir=git_dir, remote=remote, fetched=True,
            command=command,
        )  # fmt: skip

    def forget(self, repo_url: str) -> None:
        """Make the next :meth:`synced` of ``repo_url`` fetch, whatever the remote says."""
        with contextlib.suppress(FileNotFoundError):
            (self.path_for(repo_url) / "state.json").unlink()

    def absorb_push(self, repo_url: str, source: Path, branch: str, commit: str) -> bool:
        """Record that ``commit``, pushed from the clone at ``source``, is now ``branch``.

        The mirror takes the commit from the local clone and notes the branch's new position
        in its state, so the next :meth:`synced` finds the remote unchanged instead of
        fetching back what this machine just pushed. A mirror that was not up to date with
        the remote before the push is left alone (its next sync fetches anyway).

        A clone that borrows the mirror's objects (``git clone --shared``) and holds only
        loose objects of its own hands them over by moving the files, which are named by
        their content and stay visible to the clone through the mirror; any other clone is
        fetched from.

        Returns:
            Whether the mirror took the commit.

        Raises:
            RepositoryError: git failed to copy the commit.
        """
        path = self.path_for(repo_url)
        git_dir = path / "repo.git"
        if not git_dir.is_dir():
            return False
        command = self.command_for(repo_url)
        with self._locked(path, command.repo_label):
            state = _read_state(path)
            if state is None or state.get("url") != repo_url:
                return False
            remote = state.get("remote")
            if not isinstance(remote, dict):
                return False
            try:
                refs = RemoteRefs.from_json(remote)
            except ValueError:
                return False
            ref = _HEADS + branch
            action = "recording a push in the mirror of"
            if _hand_over_objects(source, git_dir):
                command.run(["update-ref", ref, commit], action=action, git_dir=git_dir)
            else:
                command.run(
                    ["fetch", "--quiet", "--no-tags", str(source), f"+{commit}:{ref}"],
                    action=action,
                    git_dir=git_dir,
                )
            head_id = commit if refs.head == ref else refs.head_id
            moved = RemoteRefs(refs={**refs.refs, ref: commit}, head=refs.head, head_id=head_id)
            _write_state(path, {**state, "remote": moved.to_json()})
            return True

    def _initialise(self, command: GitCommand, path: Path, repo_url: str) -> None:
        # Built under a temporary name and renamed, so a crash never leaves a half-configured
        # mirror behind that later calls would trust.
        staging = path / f"repo.git.tmp-{_unique()}"
        action = "creating the mirror of"
        command.run(["init", "--quiet", "--bare", str(staging)], action=action, cwd=path)
        for key, value in (
            ("remote.origin.url", repo_url),
            ("remote.origin.fetch", "+refs/heads/*:refs/heads/*"),
            ("remote.origin.fetch", "+refs/tags/*:refs/tags/*"),
            # Tags come through the refspec above; following them separately adds nothing.
            ("remote.origin.tagOpt", "--no-tags"),
            # Automatic housekeeping keeps a mirror fast; run in the foreground, it finishes
            # while the lock is held instead of racing the next fetch.
            ("gc.autoDetach", "false"),
            ("maintenance.autoDetach", "false"),
        ):
            command.run(["config", "--add", key, value], action=action, git_dir=staging)
        try:
            staging.rename(path / "repo.git")
        except OSError:
            # Another machine sharing the volume made it first; theirs is as good.
            shutil.rmtree(staging, ignore_errors=True)
            if not (path / "repo.git").is_dir():
                raise

    @contextlib.contextmanager
    def _locked(self, path: Path, label: str) -> Iterator[None]:
        def busy() -> RepositoryError:
            return RepositoryError(
                f"the local mirror of git repository {label} stayed locked by another process "
                f"for {self.timeout:g}s"
            )

        with advisory_lock(path / "lock", timeout=self.timeout, on_timeout=busy):
            yield


def _hand_over_objects(source: Path, git_dir: Path) -> bool:
    """Move ``source``'s own loose objects into the mirror at ``git_dir``; False if it cannot."""
    objects = source / ".git" / "objects"
    target = git_dir / "objects"
    try:
        borrowed = (objects / "info" / "alternates").read_text().split()
    except OSError:
        return False
    if [Path(line).resolve() for line in borrowed] != [target.resolve()]:
        return False
    if any((objects / "pack").glob("*.pack")):
        return False  # packs need git's care; fetching copies them correctly
    for fanout in objects.iterdir():
        if len(fanout.name) != 2 or not fanout.is_dir():
            continue
        for loose in fanout.iterdir():
            destination = target / fanout.name / loose.name
            if destination.exists():
                loose.unlink()
                continue
            destination.parent.mkdir(exist_ok=True)
            try:
                # Objects are immutable and named by content: a rename is a complete copy.
                loose.rename(destination)
            except OSError:
                return False  # another file system: fetch instead
    return True


def _fetch(command: GitCommand, args: list[str], git_dir: Path) -> None:
    """Fetch into the mirror, waiting out another machine's fetch into the same volume.

    The file lock keeps this machine's processes from fetching at once, but pods on other
    machines fetching into a shared volume are kept apart only by git's own ref lock files:
    a fetch that meets one was merely too early.
    """
    for attempt in range(_FETCH_ATTEMPTS):
        try:
            command.run(args, action="fetching", git_dir=git_dir)
            return
        except RepositoryError as error:
            if ".lock" not in str(error) or attempt == _FETCH_ATTEMPTS - 1:
                raise
            time.sleep(1.0 + attempt)


def _unique() -> str:
    # Process IDs repeat across the pods that may share one volume; names must not.
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}"


def _remove_abandoned_locks(git_dir: Path, older_than: float) -> None:
    """Delete git lock files left by a process that died mid-fetch (a pod evicted).

    git makes them with ``O_EXCL`` and holds them for the length of one command; every
    command here is stopped after ``older_than`` seconds, so an older one has no owner, and
    would otherwise refuse every later fetch for good.
    """
    now = time.time()
    candidates = [git_dir / name for name in ("packed-refs.lock", "shallow.lock", "config.lock")]
    candidates += (git_dir / "refs").rglob("*.lock")
    for lock in candidates:
        try:
            if now - lock.stat().st_mtime > older_than:
                lock.unlink()
        except FileNotFoundError:
            continue


def _read_state(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads((path / "state.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != _STATE_VERSION:
        return None
    return data


def _write_state(path: Path, data: dict[str, object]) -> None:
    staging = path / f"state.json.tmp-{_unique()}"
    staging.write_text(json.dumps({"version": _STATE_VERSION, **data}, indent=2) + "\n")
    staging.replace(path / "state.json")
