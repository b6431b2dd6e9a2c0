"""``github-push``: push a checkout's commits to GitHub through its API, so GitHub signs them.

As Kargo's ``github-push``, for repositories on GitHub or GitHub Enterprise, with a token as
the git credentials' password. Each attempt:

1. integrates what reached the target branch meanwhile (rebase, as ``git-push``; not when
   forcing);
2. force-pushes ``HEAD`` over git to a hidden staging ref, ``refs/kargo/staging/<promotion>``,
   which puts every object on GitHub without showing a branch;
3. compares the target branch (or, when it does not exist yet, the checked-out branch) with
   ``HEAD`` through the API, and recreates each new commit there with the same tree, message
   and parents (merges keep their shape). A commit signed by a key the local git trusts, or
   any commit when untrusted ones are to be verified too, is recreated without author or
   committer: GitHub makes the token's owner both and signs it ("Verified"), and a different
   original author is kept as a ``Co-authored-by:`` trailer. Other commits keep their author
   and committer and stay unsigned;
4. moves the target branch to the last recreated commit (creating it if needed). A branch
   that moved meanwhile (not a fast forward) or a checkout that is behind or has diverged
   means another attempt, up to ``maxAttempts`` (default 10) with a growing delay.

The staging ref is deleted afterwards, and the local branch is reset to what the target branch
now holds (the recreated commits have new IDs). ``generateTargetBranch`` pushes to
``kargo/promotion/<promotion>``, force-pushed since the name is the promotion's own.

Settings from the environment, as Kargo's controller reads them:
``GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS`` (``true``: have GitHub sign every commit) and
``GITHUB_PUSH_MAX_REVISIONS`` (default 10: the most commits one push may recreate).

Outputs: ``commit`` (the new ``HEAD``), ``branch`` and ``commitURL``.
"""

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from pydantic import Field, model_validator

from kargo_dagster.clients.github_git_data import Comparison, GitHubGitData
from kargo_dagster.clients.pull_requests.provider import GitProviderError
from kargo_dagster.errors import RepositoryError, RetryableStepError, TerminalStepError
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.git.clone import cache_dir_for
from kargo_dagster.promotion.steps.git.commit_url import commit_url
from kargo_dagster.promotion.steps.git.pushing import branch_lock, integrate_remote
from kargo_dagster.promotion.steps.git.worktree import WorkTree, step_error
from kargo_dagster.promotion.steps.schema_types import Integer

__all__ = ["DEFAULT_MAX_ATTEMPTS", "DEFAULT_MAX_REVISIONS", "STEP", "Config", "GitHubPush"]

DEFAULT_MAX_ATTEMPTS = 10
DEFAULT_MAX_REVISIONS = 10
STAGING_REF_PREFIX = "refs/kargo/staging"


class Config(StepConfig):
    """``github-push``'s configuration."""

    path: str = Field(min_length=1)
    generate_target_branch: bool | None = None
    target_branch: str | None = None
    force: bool = False
    max_attempts: Integer | None = Field(default=None, ge=1, le=2**31 - 1)
    insecure_skip_tls_verify: bool = False

    @model_validator(mode="after")
    def _one_target(self) -> "Config":
        if self.generate_target_branch and self.target_branch:
            raise ValueError("targetBranch and generateTargetBranch are mutually exclusive")
        return self


@dataclass(frozen=True)
class _Push:
    """One push: where to, and how."""

    tree: WorkTree
    api: GitHubGitData
    branch: str
    force: bool
    staging_ref: str
    verify_untrusted: bool
    max_revisions: int


def _signature(tree: WorkTree, commit: str) -> tuple[bool, tuple[str, str]]:
    """Whether ``commit`` has a good signature by a key git trusts, and its signer."""
    shown = tree.run("log", "-1", "--format=%G?%n%GS", commit, action="reading signatures in")
    status, _, signer = shown.partition("\n")
    name, bracket, email = signer.strip().rpartition("<")
    if not bracket:
        return status.strip() == "G", (signer.strip(), "")
    return status.strip() == "G", (name.strip(), email.partition(">")[0])


def _replay(push: _Push, comparison: Comparison) -> str:
    """Recreate the comparison's commits through the API; the last one's ID."""
    mapped = {comparison.merge_base: comparison.merge_base}
    last = comparison.merge_base
    for original in comparison.commits:
        trusted, signer = _signature(push.tree, original.sha)
        message, author, committer = original.message, original.author, original.committer
        if trusted or push.verify_untrusted:
            # Without an author GitHub attributes the commit to the token's owner and signs it.
            if author and author.name and author.email and (author.name, author.email) != signer:
                message = f"{message}\n\nCo-authored-by: {author.name} <{author.email}>"
            author = committer = None
        parents = [last]
        if len(original.parents) > 1:
            parents = [mapped.get(parent, parent) for parent in original.parents]
        last = push.api.create_commit(
            message=message, tree=original.tree, parents=parents, author=author, committer=committer
        )
        mapped[original.sha] = last
    return last


def _attempt(push: _Push) -> str | None:
    """One attempt at the push; None when done, else why another attempt may succeed."""
    tree, api, branch = push.tree, push.api, push.branch
    if not push.force:
        integrate_remote(tree, branch)
    tree.run(
        "push", "--quiet", "--force", "origin", f"HEAD:{push.staging_ref}",
        action="pushing to a staging ref of",
    )  # fmt: skip
    source = tree.head()
    target = api.get_ref(f"heads/{branch}")
    base = target
    if base is None:
        current = tree.current_branch()
        base = api.get_ref(f"heads/{current}") if current else None
        if base is None:
            raise TerminalStepError(
                f"neither the target branch {branch!r} nor the checked-out branch "
                f"{current!r} exists in {tree.label}"
            )
    comparison = api.compare(base, source)
    status = comparison.status
    if status == "identical" and target is not None:
        return None
    if status in ("behind", "diverged") and not push.force:
        return f"the checkout is {status} branch {branch!r} and force is not set"
    if status not in ("identical", "ahead", "behind", "diverged"):
        raise TerminalStepError(f"unexpected comparison status {status!r} for {base}...{source}")
    if len(comparison.commits) > push.max_revisions:
        raise TerminalStepError(
            f"commit range {comparison.merge_base}..{source} contains "
            f"{len(comparison.commits)} commits, which exceeds the maximum of "
            f"{push.max_revisions} (GITHUB_PUSH_MAX_REVISIONS)"
        )
    head = _replay(push, comparison)
    if target is None:
        api.create_ref(f"refs/heads/{branch}", head)
        return None
    try:
        api.update_ref(f"heads/{branch}", head, force=push.force)
    except GitProviderError as error:
        if error.status == 422:
            return f"branch {branch!r} moved (not a fast forward)"
        raise
    return None


def _token(ctx: StepContext, tree: WorkTree) -> str:
    found = ctx.credentials.lookup("git", tree.repo_url)
    if found is None:
        raise TerminalStepError(f"no credentials found for {tree.label}")
    token = found.password.get_secret_value()
    if not token:
        raise TerminalStepError(f"credentials for {tree.label} are missing a password/token")
    return token


class GitHubPush(StepKind[Config]):
    """Push commits through GitHub's API.

    Args:
        retry_delay: Seconds before the second attempt (then 1.5 times longer, at most 30).
        sleep: How to wait between attempts.
        verify_untrusted_commits: Have GitHub sign commits no trusted key signed; None reads
            ``GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS`` when the step runs.
        max_revisions: The most commits one push recreates; None reads
            ``GITHUB_PUSH_MAX_REVISIONS`` (default 10).
    """

    name = "github-push"
    config_model = Config

    def __init__(
        self,
        *,
        retry_delay: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        verify_untrusted_commits: bool | None = None,
        max_revisions: int | None = None,
    ) -> None:
        self.retry_delay = retry_delay
        self.sleep = sleep
        self.verify_untrusted_commits = verify_untrusted_commits
        self.max_revisions = max_revisions

    def _settings(self) -> tuple[bool, int]:
        verify = self.verify_untrusted_commits
        if verify is None:
            verify = os.environ.get("GITHUB_PUSH_VERIFY_UNTRUSTED_COMMITS", "").lower() == "true"
        limit = self.max_revisions
        if limit is None:
            text = os.environ.get("GITHUB_PUSH_MAX_REVISIONS", "")
            limit = int(text) if text.isdigit() else DEFAULT_MAX_REVISIONS
        return verify, limit

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Push; outputs ``commit``, ``branch`` and ``commitURL``."""
        tree = WorkTree.load(
            ctx.path(config.path), ctx.credentials, shown_as=config.path, executable=ctx.tools.git
        )
        token = _token(ctx, tree)
        branch, force = config.target_branch or "", config.force
        if config.generate_target_branch:
            branch, force = f"kargo/promotion/{ctx.promotion.name}", True
        branch = branch or tree.current_branch()
        if not branch:
            raise TerminalStepError(
                f"the work tree {config.path!r} has no branch checked out (detached HEAD); "
                "set targetBranch or generateTargetBranch"
            )
        verify, max_revisions = self._settings()
        try:
            with GitHubGitData(
                tree.repo_url, token=token, insecure_skip_tls_verify=config.insecure_skip_tls_verify
            ) as api:
                push = _Push(
                    tree=tree,
                    api=api,
                    branch=branch,
                    force=force,
                    staging_ref=f"{STAGING_REF_PREFIX}/{ctx.promotion.name}",
                    verify_untrusted=verify,
                    max_revisions=max_revisions,
                )
                lock_dir = cache_dir_for(ctx) / "push-locks"
                with branch_lock(lock_dir, tree.repo_url, branch, timeout=600.0):
                    try:
                        self._push(push, config.max_attempts or DEFAULT_MAX_ATTEMPTS)
                    finally:
                        _delete_staging_ref(ctx, push)
            tree.run(
                "fetch", "--quiet", "--no-tags", "origin",
                f"+refs/heads/{branch}:refs/remotes/origin/{branch}",
                action=f"fetching branch {branch!r} of",
            )  # fmt: skip
            tree.run(
                "reset", "--quiet", "--hard", f"refs/remotes/origin/{branch}", action="syncing"
            )
            commit = tree.head()
        except RepositoryError as error:
            raise step_error(error) from None
        output: StepOutput = {"commit": commit, "branch": branch}
        url = commit_url(tree.repo_url, commit, "github")
        if url is not None:
            output["commitURL"] = url
        return output

    def _push(self, push: _Push, max_attempts: int) -> None:
        delay = self.retry_delay
        for attempt in range(1, max_attempts + 1):
            retry = _attempt(push)
            if retry is None:
                return
            if attempt == max_attempts:
                raise RetryableStepError(
                    f"pushing to branch {push.branch!r} of {push.tree.label} through the "
                    f"GitHub API failed {max_attempts} time(s): {retry}"
                )
            self.sleep(delay * (1 + random.random() * 0.5))  # jitter, as Kargo's back-off
            delay = min(delay * 1.5, 30.0)


def _delete_staging_ref(ctx: StepContext, push: _Push) -> None:
    try:
        push.api.delete_ref(push.staging_ref.removeprefix("refs/"))
    except GitProviderError as error:
        ctx.log.info(f"github-push: the staging ref {push.staging_ref} stays: {error}")


STEP = GitHubPush()
