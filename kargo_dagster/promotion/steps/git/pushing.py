"""Pushing a work tree's commits, integrating whatever reached the remote meanwhile.

Kargo's ``git-push`` (policy ``AlwaysRebase``, its default): before every push attempt it
fetches the target branch and, when the branch exists remotely, rebases the local commits
onto it; a push the remote rejects because the branch moved ("non-fast-forward", "fetch
first", a lost ref lock) is tried again after a growing delay, up to ``maxAttempts`` times.
A rebase that conflicts needs a human, so it ends the step for good, naming the files.
Force pushes and tag pushes integrate nothing.

The first attempt pushes before fetching: when the remote has not moved since the checkout
(the usual case) that push is what fetching and rebasing would have led to, at a third of
the round trips; when it has moved, the rejection says so and the attempt goes on as
Kargo's does, fetching, rebasing and pushing again without waiting.

Pushes to one branch of one repository from one machine take turns through a file lock under
the cache directory, as Kargo serialises them with a mutex per repository and branch: two
promotions of different Stages pushing to one branch then rebase in turn instead of racing.
Runs on other machines are not held back by it; the remote's refusal of a push that is not a
fast-forward is what keeps every commit, wherever it was made.
"""

import contextlib
import hashlib
import random
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kargo_dagster.clients.file_lock import advisory_lock
from kargo_dagster.errors import RepositoryError, RetryableStepError, TerminalStepError
from kargo_dagster.promotion.steps.git.worktree import WorkTree, step_error
from kargo_dagster.urls import normalize_git_url

__all__ = ["PushPlan", "branch_lock", "integrate_remote", "push"]

# The rejections that mean "the remote branch moved": retrying after a rebase can fix them.
_MOVED = re.compile(
    r"^\s*!\s+\[(?:remote )?rejected\].+\((?:non-fast-forward|fetch first|cannot lock ref.*"
    r"|incorrect old value provided)\)\s*$",
    re.MULTILINE,
)
# git's own receive-pack reports a ref that moved while the push was received as "failed to
# update ref", saying why on a "remote:" line; hosted servers put the reason in the status.
_MOVED_DURING_RECEIVE = re.compile(
    r"^remote: error: cannot lock ref .*but expected", re.MULTILINE | re.IGNORECASE
)


@dataclass(frozen=True)
class PushPlan:
    """What to push where.

    Attributes:
        branch: The remote branch to push ``HEAD`` to (ignored when ``tag`` is set).
        tag: A tag to push instead of a branch.
        force: Overwrite the remote branch; integrates nothing.
        max_attempts: Pushes to try before giving up on a moving branch.
        retry_delay: Seconds before the second attempt; later ones wait 1.5 times longer
            each (with jitter), at most 30 s, as Kargo's back-off does.
    """

    branch: str
    tag: str = ""
    force: bool = False
    max_attempts: int = 10
    retry_delay: float = 1.0


def push(
    tree: WorkTree,
    plan: PushPlan,
    *,
    lock_dir: Path,
    sleep: Callable[[float], None] = time.sleep,
    lock_timeout: float = 600.0,
) -> None:
    """Push ``tree`` as ``plan`` says.

    Raises:
        TerminalStepError: Rebasing onto the remote branch conflicts.
        RetryableStepError: The remote refused the push (after ``max_attempts`` if it kept
            moving), or could not be reached.
    """
    if plan.tag:
        _push_once(tree, [f"refs/tags/{plan.tag}:refs/tags/{plan.tag}"], f"tag {plan.tag!r}")
        return
    delay = plan.retry_delay
    refspec = f"HEAD:refs/heads/{plan.branch}"
    what = f"branch {plan.branch!r}"
    with branch_lock(lock_dir, tree.repo_url, plan.branch, timeout=lock_timeout):
        if not plan.force and not _push_once(tree, [refspec], what, retry_when_moved=True):
            return  # the remote had not moved: nothing to integrate
        for attempt in range(1, plan.max_attempts + 1):
            if not plan.force:
                integrate_remote(tree, plan.branch)
            args = [refspec, "--force"] if plan.force else [refspec]
            if not _push_once(tree, args, what, retry_when_moved=True):
                return
            if attempt == plan.max_attempts:
                break
            sleep(delay * (1 + random.random() * 0.5))  # jitter, as Kargo's back-off
            delay = min(delay * 1.5, 30.0)
    raise RetryableStepError(
        f"pushing to branch {plan.branch!r} of git repository {tree.label} was rejected "
        f"{plan.max_attempts} time(s) because the branch kept moving"
    )


def _push_once(
    tree: WorkTree, args: list[str], what: str, *, retry_when_moved: bool = False
) -> bool:
    """Push; True when rejected because the remote moved (and the caller retries)."""
    action = f"pushing {what} to"
    result = tree.attempt("push", "origin", *args, action=action)
    if result.code == 0:
        return False
    moved = _MOVED.search(result.stderr) or _MOVED_DURING_RECEIVE.search(result.stderr)
    if retry_when_moved and moved:
        return True
    raise step_error(tree.git.failure(action, result.stderr)) from None


def integrate_remote(tree: WorkTree, branch: str) -> None:
    """Rebase the checkout onto the remote ``branch`` if it exists (a new branch: nothing)."""
    action = f"fetching branch {branch!r} of"
    exists = tree.attempt(
        "ls-remote", "--heads", "--exit-code", "origin", f"refs/heads/{branch}", action=action
    )
    if exists.code == 2:
        return  # a new branch: nothing to integrate
    if exists.code != 0:
        raise step_error(tree.git.failure(action, exists.stderr))
    try:
        tree.run(
            "fetch", "--quiet", "--no-tags", "origin",
            f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
            action=action,
        )  # fmt: skip
    except RepositoryError as error:
        raise step_error(error) from None
    identity = tree.as_identity(tree.identity())
    rebase = tree.attempt(
        *identity, "rebase", "--quiet", f"refs/remotes/origin/{branch}", action="rebasing"
    )
    if rebase.code == 0:
        return
    conflicts = tree.attempt("diff", "--name-only", "--diff-filter=U", action="rebasing")
    files = sorted({line.strip() for line in conflicts.stdout.splitlines() if line.strip()})
    tree.attempt("rebase", "--abort", action="rebasing")
    if files:
        raise TerminalStepError(
            f"rebasing onto branch {branch!r} of git repository {tree.label} conflicts in "
            f"{', '.join(files)}; the remote changed the same files, resolve by hand"
        )
    raise step_error(tree.git.failure(f"rebasing onto branch {branch!r} of", rebase.stderr))


@contextlib.contextmanager
def branch_lock(lock_dir: Path, repo_url: str, branch: str, *, timeout: float) -> Iterator[None]:
    """Let the pushes to ``branch`` of ``repo_url`` from this machine take turns.

    Only a speed-up: pushes from other machines (pods with disks of their own) are not
    serialised by it, and need not be, since a push that finds the branch moved integrates
    and tries again.

    Raises:
        RetryableStepError: Another push held it for ``timeout`` seconds.
    """
    key = hashlib.sha256(f"{normalize_git_url(repo_url)}\n{branch}".encode()).hexdigest()
    lock_dir.mkdir(parents=True, exist_ok=True)

    def busy() -> RetryableStepError:
        return RetryableStepError(
            f"another promotion kept pushing to branch {branch!r} for {timeout:g}s"
        )

    with advisory_lock(lock_dir / f"{key}.lock", timeout=timeout, on_timeout=busy):
        yield
