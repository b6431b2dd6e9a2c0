"""A checked-out git work tree that promotion steps read, change, commit, tag and push.

``git-clone`` leaves each checkout as an ordinary repository whose ``origin`` is the real
remote URL (never with credentials in it) and whose local configuration holds what later
steps need: the commit identity (``user.name``/``user.email``, from the clone's ``author``
or Kargo's default ``Kargo <no-reply@kargo.io>``) and ``http.sslVerify`` when TLS checks are
off. :meth:`WorkTree.load` reads that back, so ``git-commit``, ``git-tag`` and ``git-push``
need nothing but the checkout's path.

Every command runs through :class:`WorkTreeGit`: the git command line with credentials in
the environment only (see :mod:`kargo_dagster.clients.git.command`), the user's global git
configuration and identity variables ignored (as Kargo runs git with a home directory of
its own), and errors scrubbed of secrets.
"""

import os
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kargo_dagster.clients.git.command import GitCommand, git_credentials, scrub
from kargo_dagster.credentials import CredentialStore
from kargo_dagster.errors import RepositoryError, RetryableStepError, TerminalStepError
from kargo_dagster.redaction import redact_text, redact_url

__all__ = [
    "DEFAULT_AUTHOR",
    "MAX_PATCH_CHARS",
    "CommitChanges",
    "FileChange",
    "GitIdentity",
    "GitResult",
    "WorkTree",
    "WorkTreeGit",
    "local_settings",
    "step_error",
]


@dataclass(frozen=True)
class GitIdentity:
    """Who commits and tags: a name and an e-mail address."""

    name: str
    email: str


# Kargo's fallback identity when neither the git-clone step nor the cluster sets one.
DEFAULT_AUTHOR = GitIdentity("Kargo", "no-reply@kargo.io")

# Variables that would point git at another repository or override the identity and
# configuration this module sets up; a promotion must not depend on the worker's shell.
_DROPPED_VARIABLES = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_NAMESPACE",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
)


def step_error(error: RepositoryError) -> RetryableStepError:
    """A git failure as a step error: Kargo reports these as Errored, which may be retried."""
    return RetryableStepError(str(error), retry_after=error.retry_after or 0.0)


# How much of a commit's patch is kept for people to read; the rest is in the repository.
MAX_PATCH_CHARS = 20_000


@dataclass(frozen=True)
class FileChange:
    """One file a commit changed: lines added and removed (None for binary files)."""

    path: str
    added: int | None
    deleted: int | None


@dataclass(frozen=True)
class CommitChanges:
    """What a commit changed, for people to review.

    Attributes:
        commit: The commit.
        files: Each changed file with its line counts.
        patch: The unified diff, cut to :data:`MAX_PATCH_CHARS`, known secrets masked.
        truncated: Whether the patch was cut.
    """

    commit: str
    files: tuple[FileChange, ...]
    patch: str
    truncated: bool

    def to_json(self) -> dict[str, object]:
        """A JSON-ready form."""
        return {
            "commit": self.commit,
            "files": [{"path": f.path, "added": f.added, "deleted": f.deleted} for f in self.files],
            "patch": self.patch,
            "truncated": self.truncated,
        }


def _count(text: str) -> int | None:
    return int(text) if text.isdigit() else None  # "-" for binary files


@dataclass(frozen=True)
class GitResult:
    """What a git command did: its exit code and its (scrubbed) output."""

    code: int
    stdout: str
    stderr: str


@dataclass(frozen=True)
class WorkTreeGit(GitCommand):
    """:class:`GitCommand` without the user's global git configuration or identity.

    Commit signing, hooks paths or a different ``user.name`` in ``~/.gitconfig`` would make
    promotions behave differently per worker; Kargo avoids that with a home directory of its
    own, this with ``GIT_CONFIG_GLOBAL`` pointing nowhere.
    """

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The :class:`GitCommand` environment, isolated from the user's git setup."""
        source = dict(os.environ if base is None else base)
        for name in _DROPPED_VARIABLES:
            source.pop(name, None)
        inline = ("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_")
        for name in [key for key in source if key.startswith(inline)]:
            source.pop(name)
        env = super().environment(source)
        env["GIT_CONFIG_GLOBAL"] = os.devnull
        return env

    def attempt(self, args: Sequence[str], *, cwd: Path, action: str) -> GitResult:
        """Run ``git <args>`` and return its exit code and scrubbed output, whatever it is.

        For commands whose failures the caller tells apart (a rejected push, a conflict).

        Raises:
            RepositoryError: git could not be started or timed out.
        """
        code, stdout, stderr = self.execute([self.executable, *args], cwd=cwd, action=action)
        secrets = self._secrets()
        return GitResult(
            code=code,
            stdout=scrub(stdout.decode(errors="replace"), secrets),
            stderr=scrub(stderr.decode(errors="replace"), secrets),
        )


def command_for(
    repo_url: str,
    credentials: CredentialStore,
    *,
    executable: str = "git",
    insecure_skip_tls_verify: bool = False,
    timeout: float = 600.0,
) -> WorkTreeGit:
    """How to run git for ``repo_url``'s work trees, with its credentials (HTTP(S) or SSH)."""
    return WorkTreeGit(
        repo_label=redact_url(repo_url),
        credentials=git_credentials(credentials, repo_url),
        insecure_skip_tls_verify=insecure_skip_tls_verify,
        timeout=timeout,
        executable=executable,
    )


@dataclass(frozen=True)
class WorkTree:
    """A checkout made by ``git-clone`` (or any clone whose ``origin`` is the remote).

    Attributes:
        path: The top of the work tree.
        repo_url: ``origin``'s URL, as given to ``git-clone``.
        git: Runs git for this repository, with its credentials.
        settings: The checkout's local git configuration (lower-case keys) as read by
            :meth:`load`; None to read it when needed.
    """

    path: Path
    repo_url: str
    git: WorkTreeGit
    settings: Mapping[str, str] | None = None

    @classmethod
    def load(
        cls,
        path: Path,
        credentials: CredentialStore,
        *,
        shown_as: str,
        executable: str = "git",
    ) -> "WorkTree":
        """The work tree at ``path``.

        Args:
            path: The checkout's directory.
            credentials: Where the remote's credentials come from.
            shown_as: The path as the step's configuration wrote it, for messages.
            executable: The git program.

        Raises:
            TerminalStepError: ``path`` is not the top of a git work tree with an origin.
        """
        if not path.is_dir():
            raise TerminalStepError(f"{shown_as!r} is not a directory (run git-clone first)")
        # Only the top of a work tree has .git (a directory, or a file for linked ones).
        if not (path / ".git").exists():
            raise TerminalStepError(f"{shown_as!r} is not the top of a git work tree")
        probe = WorkTreeGit(repo_label=shown_as, executable=executable)
        settings = local_settings(probe, path)
        repo_url = settings.get("remote.origin.url", "")
        if not repo_url:
            raise TerminalStepError(f"the git work tree {shown_as!r} has no remote 'origin'")
        insecure = settings.get("http.sslverify", "").lower() in ("false", "no", "off", "0")
        command = command_for(
            repo_url, credentials, executable=executable, insecure_skip_tls_verify=insecure
        )
        return cls(path=path, repo_url=repo_url, git=command, settings=settings)

    @property
    def label(self) -> str:
        """The repository as messages name it."""
        return self.git.repo_label

    def run(self, *args: str, action: str) -> str:
        """Run a git command in the work tree and return its standard output.

        Raises:
            RepositoryError: It failed; the message names the repository.
        """
        return self.git.run(args, action=action, cwd=self.path).decode(errors="replace")

    def attempt(self, *args: str, action: str) -> GitResult:
        """Run a git command and return its result, failed or not."""
        return self.git.attempt(args, cwd=self.path, action=action)

    def head(self) -> str:
        """The commit ``HEAD`` points at."""
        read = _read_head(self.path / ".git")
        if read is not None and read[1]:
            return read[1]
        return self.run("rev-parse", "HEAD", action="reading HEAD of").strip()

    def current_branch(self) -> str:
        """The checked-out branch, or ``""`` when ``HEAD`` is detached."""
        read = _read_head(self.path / ".git")
        if read is not None:
            return read[0].removeprefix("refs/heads/")
        return self.run("branch", "--show-current", action="reading the branch of").strip()

    def identity(self, override: GitIdentity | None = None) -> GitIdentity:
        """``override``, else the identity ``git-clone`` configured, else Kargo's default."""
        if override is not None:
            return override
        settings = self.settings
        if settings is None:
            settings = local_settings(self.git, self.path)
        name = settings.get("user.name", "").strip()
        email = settings.get("user.email", "").strip()
        return GitIdentity(name or DEFAULT_AUTHOR.name, email or DEFAULT_AUTHOR.email)

    def as_identity(self, identity: GitIdentity) -> list[str]:
        """``-c`` options making ``identity`` the author and committer of one command."""
        return ["-c", f"user.name={identity.name}", "-c", f"user.email={identity.email}"]

    def stage_all(self) -> None:
        """Stage every change, new and deleted files included."""
        self.run("add", "--all", ".", action="staging changes in")

    def has_staged_changes(self) -> bool:
        """Whether anything differs from ``HEAD`` (after :meth:`stage_all`)."""
        result = self.attempt("diff", "--cached", "--quiet", action="reading the status of")
        if result.code > 1:
            raise self.git.failure("reading the status of", result.stderr)
        return result.code == 1

    def commit(self, message: str, identity: GitIdentity | None = None) -> str:
        """Commit what is staged and return the new commit's ID."""
        who = self.identity(identity)
        self.run(*self.as_identity(who), "commit", "--quiet", "-m", message, action="committing to")
        return self.head()

    def changes(self, commit: str, *, limit: int = MAX_PATCH_CHARS) -> "CommitChanges":
        """What ``commit`` changed: lines added and removed per file, and the patch.

        The patch is cut after ``limit`` characters (``truncated`` then says so).
        """
        output = self.run(
            "show", "--format=", "--numstat", "--patch", "--no-color", commit,
            action="reading the changes of",
        )  # fmt: skip
        numstat, _, patch = output.partition("\n\n")
        files: list[FileChange] = []
        for line in numstat.splitlines():
            added, _, rest = line.partition("\t")
            deleted, _, path = rest.partition("\t")
            if path:
                files.append(FileChange(path, _count(added), _count(deleted)))
        patch = redact_text(patch)
        return CommitChanges(
            commit=commit, files=tuple(files), patch=patch[:limit], truncated=len(patch) > limit
        )

    def clear(self) -> None:
        """Remove every file, tracked or not, leaving only ``.git``."""
        self.stage_all()
        self.run("rm", "-r", "-f", "-q", "--ignore-unmatch", ".", action="clearing")
        # Ignored files were never staged, so git rm left them; the step promises an empty
        # tree, so they go too.
        for entry in self.path.iterdir():
            if entry.name == ".git":
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()

    def tag(self, name: str, message: str, *, force: bool = False) -> None:
        """Create the annotated tag ``name`` at ``HEAD``."""
        args = [*self.as_identity(self.identity()), "tag", "-a", name, "-m", message]
        if force:
            args.append("--force")
        self.run(*args, action=f"creating tag {name!r} in")


def local_settings(git: WorkTreeGit, path: Path) -> dict[str, str]:
    """The repository's own configuration (keys lower-cased; the last value of a key wins)."""
    listed = git.attempt(["config", "--local", "--list"], cwd=path, action="opening")
    settings: dict[str, str] = {}
    for line in listed.stdout.splitlines():
        key, _, value = line.partition("=")
        settings[key.lower()] = value
    return settings


_OBJECT_ID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


def _read_head(git_dir: Path) -> tuple[str, str] | None:
    """``HEAD``'s branch ref (``""`` when detached) and commit, read from the files git keeps.

    A promotion asks for ``HEAD`` several times, and starting git costs more than the rest of
    such a question. Only the plain layout is read (a ``.git`` directory, loose or packed
    refs); anything else, an unborn branch included, gives None and the caller asks git.
    """
    try:
        head = (git_dir / "HEAD").read_text().strip()
    except OSError:
        return None
    if _OBJECT_ID.match(head):
        return "", head
    if not head.startswith("ref: refs/heads/"):
        return None
    ref = head.removeprefix("ref: ")
    try:
        commit = (git_dir / ref).read_text().strip()
    except FileNotFoundError:
        commit = _packed_ref(git_dir, ref)
    except OSError:
        return None
    return (ref, commit) if commit and _OBJECT_ID.match(commit) else None


def _packed_ref(git_dir: Path, ref: str) -> str:
    try:
        lines = (git_dir / "packed-refs").read_text().splitlines()
    except OSError:
        return ""
    for line in lines:
        value, _, name = line.partition(" ")
        if name == ref:
            return value
    return ""
