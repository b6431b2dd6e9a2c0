"""Checking out a remote repository for a promotion, from one cached clone per repository.

Kargo's ``git-clone`` makes a fresh bare clone per promotion and adds a work tree per
checkout. Cloning a large repository on every promotion is the slowest thing a promotion
does, so here the bare clone is kept between promotions: one per repository URL under the
cache directory, managed by :class:`~kargo_dagster.clients.git.mirror.GitMirrors` (which
fetches only when ``git ls-remote`` shows the remote moved). Each checkout is then a
``git clone --shared`` of the cached clone, which copies no objects (they are borrowed
through ``objects/info/alternates``), and whose ``origin`` is pointed back at the real
remote so that later steps fetch from and push to it.

A shared clone rather than ``git worktree add``: work trees of one repository share its
branches, so two promotions could not both check out ``main``, and fetching into the cache
would be refused while a branch is checked out somewhere. A shared clone has its own
branches, ``HEAD`` and configuration, and the cache never learns it exists.

The cache's lock is held while the cache is fetched into and the checkouts are cloned from
it; checking out files happens after it is released. Objects borrowed from the cache stay
valid: git prunes unreachable objects only after two weeks.

Plain checkouts (not sparse, without submodules) are kept after the promotion and reused by
the next one (see :mod:`kargo_dagster.promotion.steps.git.checkout_pool`): a reused checkout
fetches the cache's refs, which copies nothing, and switches to the wanted commit, which
rewrites only the files that differ; untracked files left from before are removed.
"""

import functools
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kargo_dagster.clients.git.mirror import GitMirror, GitMirrors, RemoteRefs
from kargo_dagster.credentials import CredentialStore
from kargo_dagster.errors import RepositoryError, RetryableStepError, TerminalStepError
from kargo_dagster.promotion.steps.git.checkout_pool import CheckoutPool
from kargo_dagster.promotion.steps.git.signing import UNSIGNED
from kargo_dagster.promotion.steps.git.worktree import (
    GitIdentity,
    WorkTree,
    WorkTreeGit,
    command_for,
    local_settings,
    step_error,
)

__all__ = ["CheckoutRequest", "CloneOptions", "GitWorkspace", "validate_sparse_patterns"]

_INITIAL_COMMIT_MESSAGE = "Initial commit"
# How git refuses to point a ref at an object the repository does not have.
_MISSING_OBJECT = "nonexistent object"


@dataclass(frozen=True)
class CheckoutRequest:
    """One entry of ``git-clone``'s ``checkout`` list, resolved to a directory.

    Attributes:
        path: Where to check out (absolute, inside the promotion's work directory).
        shown_as: ``path`` as the configuration wrote it, for messages.
        branch: The branch to check out; with none of branch, commit and tag, the remote's
            default branch.
        commit: The commit to check out (detached ``HEAD``).
        tag: The tag to check out (detached ``HEAD``).
        create: Create ``branch`` as an empty orphan branch on the remote when missing.
        sparse: Directories for a cone-mode sparse checkout; empty for everything.
    """

    path: Path
    shown_as: str
    branch: str = ""
    commit: str = ""
    tag: str = ""
    create: bool = False
    sparse: Sequence[str] = field(default_factory=tuple)


@dataclass(frozen=True)
class CloneOptions:
    """How to reach the repository and who commits to its checkouts.

    Attributes:
        repo_url: The remote repository.
        identity: Author and committer of commits made in the checkouts.
        insecure_skip_tls_verify: Do not verify the remote's TLS certificate (remembered by
            the checkouts for later pushes).
        blobless: Keep the cached clone blobless (``--filter=blob:none``) when creating it.
        recurse_submodules: Check out submodules too.
        signing: Checkout settings that sign commits and tags
            (:meth:`~kargo_dagster.promotion.steps.git.signing.SigningKeyring.git_settings`);
            empty to sign nothing.
    """

    repo_url: str
    identity: GitIdentity
    insecure_skip_tls_verify: bool = False
    blobless: bool = False
    recurse_submodules: bool = False
    signing: tuple[tuple[str, str], ...] = ()


def validate_sparse_patterns(patterns: Sequence[str]) -> None:
    """Refuse what cone-mode sparse checkout cannot do, as Kargo does.

    Raises:
        TerminalStepError: A pattern is absolute, leaves the repository, or is a glob.
    """
    for pattern in patterns:
        if pattern.startswith("/"):
            raise TerminalStepError(f"sparse checkout pattern must be relative: {pattern}")
        if pattern.startswith(".."):
            raise TerminalStepError(f"sparse checkout pattern cannot escape repository: {pattern}")
        if any(char in pattern for char in "*?["):
            raise TerminalStepError(
                f"sparse checkout pattern cannot contain glob characters (*, ?, [): {pattern}; "
                "use directory paths like 'src/app' instead"
            )


class GitWorkspace:
    """Checks out repositories from cached clones kept under ``cache_dir``.

    Args:
        cache_dir: Where the cached clones live; share it between promotions.
        credentials: Where HTTP(S) credentials come from (kind ``git``).
        executable: The git program.
        timeout: Seconds one git command, or waiting for a busy cache, may take.
    """

    def __init__(
        self,
        cache_dir: Path,
        credentials: CredentialStore,
        *,
        executable: str = "git",
        timeout: float = 600.0,
    ) -> None:
        self.cache_dir = cache_dir
        self.credentials = credentials
        self.executable = executable
        self.timeout = timeout
        self.mirrors = GitMirrors(cache_dir, credentials, timeout=timeout, executable=executable)

    def check_out(
        self,
        options: CloneOptions,
        checkouts: Sequence[CheckoutRequest],
        *,
        defer: Callable[[Callable[[], None]], None] | None = None,
    ) -> list[str]:
        """Check out every request and return the commit each one's ``HEAD`` is at.

        Checkouts made before a failure are removed again, so that running the step again
        starts from a clean work directory.

        Args:
            options: The repository and who commits.
            checkouts: What to check out where.
            defer: Registers a callback to run when the promotion ends; given, plain
                checkouts are reused from earlier promotions and parked again at the end.

        Raises:
            TerminalStepError: A checkout's directory is in use or its sparse patterns are
                invalid.
            RetryableStepError: The remote failed, or the branch, commit or tag is missing.
        """
        for request in checkouts:
            validate_sparse_patterns(request.sparse)
            if request.path.exists() and any(request.path.iterdir()):
                raise TerminalStepError(f"checkout path {request.shown_as!r} is not empty")
        git = command_for(
            options.repo_url,
            self.credentials,
            executable=self.executable,
            insecure_skip_tls_verify=options.insecure_skip_tls_verify,
            timeout=self.timeout,
        )
        created: list[Path] = []
        reused: set[Path] = set()
        poolable = [
            r.path for r in checkouts if defer and not (r.sparse or options.recurse_submodules)
        ]
        place = functools.partial(self._place, git, options, checkouts, poolable, created, reused)
        try:
            try:
                pool, partial, remote = place()
            except RepositoryError as error:
                if _MISSING_OBJECT not in str(error):
                    raise
                # The cache believed itself up to date but lacks what the remote has (another
                # machine's write to a shared volume was lost): fetch again, once.
                _remove(created)
                created.clear()
                reused.clear()
                self.mirrors.forget(options.repo_url)
                pool, partial, remote = place()
            heads = [
                self._check_out(
                    git, remote, request, options, partial=partial, reused=request.path in reused
                )
                for request in checkouts
            ]
        except RepositoryError as error:
            _remove(created)
            raise step_error(error) from None
        except BaseException:
            _remove(created)
            raise
        if defer is not None and poolable:
            defer(lambda: pool.park(poolable))
        return heads

    def _place(
        self,
        git: WorkTreeGit,
        options: CloneOptions,
        checkouts: Sequence[CheckoutRequest],
        poolable: Sequence[Path],
        created: list[Path],
        reused: set[Path],
    ) -> tuple[CheckoutPool, bool, RemoteRefs]:
        """Sync the cache and put a repository at each checkout's path, refs as the remote's.

        Returns:
            The checkout pool, whether the cache is a partial clone, and the remote's refs.
        """
        with self.mirrors.synced(
            options.repo_url,
            blobless=options.blobless,
            insecure_skip_tls_verify=options.insecure_skip_tls_verify,
            # A GitOps repository has usually moved since the last promotion: fetch at once,
            # unless a checkout needs the remote's default branch, which only ls-remote tells.
            fetch_first=all(r.branch or r.commit or r.tag for r in checkouts),
        ) as mirror:
            pool = CheckoutPool(mirror.path / "checkouts")
            for request in checkouts:
                created.append(request.path)
                if request.path in poolable and pool.take(request.path):
                    reused.add(request.path)
                else:
                    self._clone_from_cache(git, mirror, request, options)
                _point_at_remote(git, mirror.remote, request.path)
            return pool, _is_partial(mirror), mirror.remote

    def _clone_from_cache(
        self,
        git: WorkTreeGit,
        mirror: GitMirror,
        request: CheckoutRequest,
        options: CloneOptions,
    ) -> None:
        request.path.mkdir(parents=True, exist_ok=True)
        clone = ["clone", "--quiet", "--shared", "--no-checkout", str(mirror.git_dir), "."]
        git.run(clone, action="checking out", cwd=request.path)

    def _check_out(
        self,
        git: WorkTreeGit,
        remote: RemoteRefs,
        request: CheckoutRequest,
        options: CloneOptions,
        *,
        partial: bool,
        reused: bool,
    ) -> str:
        tree = WorkTree(path=request.path, repo_url=options.repo_url, git=git)
        _configure(tree, _settings(options, partial=partial))
        if request.sparse:
            tree.run("sparse-checkout", "set", "--cone", *request.sparse, action="checking out")
        if request.commit:
            _switch_detached(tree, request.commit, f"commit {request.commit!r}")
        elif request.tag:
            _switch_detached(tree, f"refs/tags/{request.tag}", f"tag {request.tag!r}")
        else:
            branch = request.branch or remote.default_branch
            if not branch:
                raise RetryableStepError(
                    f"git repository {tree.label} has no default branch; name a branch, "
                    "commit or tag to check out"
                )
            if remote.branch(branch) is not None:
                start = f"refs/remotes/origin/{branch}"
                tree.run(
                    "switch", "--quiet", "--discard-changes", "--no-track", "-C", branch, start,
                    action=f"checking out branch {branch!r} of",
                )  # fmt: skip
            elif request.create:
                _create_orphan_branch(tree, branch, options.identity)
            else:
                raise RetryableStepError(
                    f"remote branch {branch!r} of git repository {tree.label} does not exist; "
                    "set create: true to create it at checkout"
                )
        if reused:
            # Switching discarded the last promotion's changes; its new files go too.
            tree.run("clean", "--quiet", "-ffdx", action="checking out")
        if options.recurse_submodules:
            tree.run(
                "submodule", "update", "--init", "--recursive", action="checking out submodules of"
            )
        return tree.head()


def _point_at_remote(git: WorkTreeGit, remote: RemoteRefs, path: Path) -> None:
    # The checkout borrows the cache's objects, which the cache's sync just brought up to
    # the remote's refs; so only the refs move: one read, one atomic batch of updates. They
    # are set from what the remote itself just said, not from the cache's own branches,
    # which a concurrent writer on a shared volume may have left behind.
    listed = git.run(
        ["for-each-ref", "--format=%(refname)", "refs/remotes/origin/", "refs/tags/"],
        action="checking out",
        cwd=path,
    ).decode()
    wanted = {_remote_tracking(name): value for name, value in remote.refs.items()}
    lines = [f"update {name} {value}" for name, value in wanted.items()]
    # origin/HEAD is a symbolic ref: deleting it would delete the branch it points at.
    stale = [n for n in listed.split() if n not in wanted and n != "refs/remotes/origin/HEAD"]
    lines += [f"delete {name}" for name in stale]
    git.run(
        ["update-ref", "--stdin"],
        action="checking out",
        cwd=path,
        stdin="".join(f"{line}\n" for line in lines).encode(),
    )


def _remote_tracking(name: str) -> str:
    # The remote's refs/heads/x is the checkout's refs/remotes/origin/x; tags keep their names.
    if name.startswith("refs/heads/"):
        return "refs/remotes/origin/" + name.removeprefix("refs/heads/")
    return name


def _settings(options: CloneOptions, *, partial: bool) -> dict[str, str]:
    settings = {
        "remote.origin.url": options.repo_url,
        "user.name": options.identity.name,
        "user.email": options.identity.email,
        # Automatic housekeeping in a short-lived checkout only costs time.
        "gc.auto": "0",
        "core.untrackedcache": "true",
        "http.sslverify": "false" if options.insecure_skip_tls_verify else "true",
        # Set either way: a reused checkout must not keep signing with an earlier key.
        **(dict(options.signing) or UNSIGNED),
    }
    if partial:
        # Blobs the cache lacks are fetched on demand from the real remote.
        settings |= {
            "core.repositoryformatversion": "1",
            "extensions.partialclone": "origin",
            "remote.origin.promisor": "true",
            "remote.origin.partialclonefilter": "blob:none",
        }
    return settings


def _configure(tree: WorkTree, settings: dict[str, str]) -> None:
    # One read, then writes only for what differs: a reused checkout usually needs none.
    current = local_settings(tree.git, tree.path)
    for key, value in settings.items():
        if current.get(key.lower()) != value:
            tree.run("config", key, value, action="configuring")


def _switch_detached(tree: WorkTree, revision: str, what: str) -> None:
    result = tree.attempt(
        "switch", "--quiet", "--discard-changes", "--detach", revision, action="checking out"
    )
    if result.code != 0:
        raise RetryableStepError(
            f"cannot check out {what} of git repository {tree.label}: {_last_line(result.stderr)}"
        )


def _create_orphan_branch(tree: WorkTree, branch: str, identity: GitIdentity) -> None:
    # As Kargo: a branch with one empty commit and no files, pushed before anything else.
    action = f"creating branch {branch!r} in"
    tree.run("switch", "--quiet", "--discard-changes", "--orphan", branch, action=action)
    tree.run(
        *tree.as_identity(identity),
        "commit", "--quiet", "--allow-empty", "-m", _INITIAL_COMMIT_MESSAGE,
        action=action,
    )  # fmt: skip
    tree.run("push", "--quiet", "origin", f"HEAD:refs/heads/{branch}", action=action)


def _is_partial(mirror: GitMirror) -> bool:
    try:
        value = mirror.git("config", "--get", "remote.origin.promisor", action="reading")
    except RepositoryError:
        return False
    return value.decode().strip().lower() == "true"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "git failed"


def _remove(paths: Sequence[Path]) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)
