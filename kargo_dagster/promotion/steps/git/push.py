"""``git-push``: push a checkout's commits (or a tag) to its remote.

The target is ``targetBranch``, a branch of its own (``generateTargetBranch``:
``kargo/promotion/<promotion name>``, force-pushed because the name is unique to the
promotion), or the checked-out branch. Commits that reached the remote branch meanwhile are
rebased onto before each attempt; see :mod:`kargo_dagster.promotion.steps.git.pushing`.

Outputs: ``commit`` (the pushed ``HEAD``), ``branch`` (the target branch, or the checked-out
branch for a tag push) and ``commitURL`` (the commit's web page, only for repositories on a
provider Kargo recognises).
"""

import time
from collections.abc import Callable
from typing import ClassVar, Literal

from pydantic import Field, model_validator

from kargo_dagster.clients.git.mirror import GitMirrors
from kargo_dagster.errors import RepositoryError, TerminalStepError
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.git.clone import cache_dir_for
from kargo_dagster.promotion.steps.git.commit_url import commit_url
from kargo_dagster.promotion.steps.git.pushing import PushPlan, push
from kargo_dagster.promotion.steps.git.worktree import WorkTree, step_error
from kargo_dagster.promotion.steps.schema_types import Integer

__all__ = ["DEFAULT_MAX_ATTEMPTS", "STEP", "Config", "GitPush"]

DEFAULT_MAX_ATTEMPTS = 10


class Config(StepConfig):
    """``git-push``'s configuration (``git-push-config.json``)."""

    path: str = Field(min_length=1)
    target_branch: str = ""
    generate_target_branch: bool = False
    tag: str = ""
    force: bool = False
    max_attempts: Integer | None = Field(default=None, ge=1, le=2**31 - 1)
    provider: Literal["azure", "bitbucket", "gitea", "github", "gitlab"] | None = None

    @model_validator(mode="after")
    def _one_target(self) -> "Config":
        if sum((bool(self.target_branch), self.generate_target_branch, bool(self.tag))) > 1:
            raise ValueError("targetBranch, generateTargetBranch and tag are mutually exclusive")
        if self.tag and self.force:
            raise ValueError("tag and force are mutually exclusive")
        return self


class GitPush(StepKind[Config]):
    """Pushes a work tree's branch or a tag.

    Args:
        retry_delay: Seconds before the second push attempt (Kargo: 1 s, then 1.5 times
            longer each time).
        sleep: How to wait between attempts.
    """

    name: ClassVar[str] = "git-push"
    config_model = Config

    def __init__(
        self, *, retry_delay: float = 1.0, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.retry_delay = retry_delay
        self.sleep = sleep

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Push; output ``commit``, ``branch`` and, when known, ``commitURL``."""
        tree = WorkTree.load(
            ctx.path(config.path), ctx.credentials, shown_as=config.path, executable=ctx.tools.git
        )
        try:
            branch = config.target_branch
            force = config.force
            if config.generate_target_branch:
                branch = f"kargo/promotion/{ctx.promotion.name}"
                force = True  # unique to this promotion: only an earlier try of it can be there
            if not branch:
                branch = tree.current_branch()
            if not branch and not config.tag:
                raise TerminalStepError(
                    f"the work tree {config.path!r} has no branch checked out (detached HEAD); "
                    "set targetBranch or generateTargetBranch"
                )
            plan = PushPlan(
                branch=branch,
                tag=config.tag,
                force=force,
                max_attempts=config.max_attempts or DEFAULT_MAX_ATTEMPTS,
                retry_delay=self.retry_delay,
            )
            push(tree, plan, lock_dir=cache_dir_for(ctx) / "push-locks", sleep=self.sleep)
            commit = tree.head()
        except RepositoryError as error:
            raise step_error(error) from None
        if not config.tag:
            _tell_the_cache(ctx, tree, branch, commit)
        output: StepOutput = {"commit": commit}
        if branch:
            output["branch"] = branch
        url = commit_url(tree.repo_url, commit, config.provider)
        if url is not None:
            output["commitURL"] = url
        return output


def _tell_the_cache(ctx: StepContext, tree: WorkTree, branch: str, commit: str) -> None:
    # The next clone of this repository then need not fetch back what was just pushed.
    mirrors = GitMirrors(cache_dir_for(ctx), ctx.credentials, executable=ctx.tools.git)
    try:
        mirrors.absorb_push(tree.repo_url, tree.path, branch, commit)
    except RepositoryError as error:
        ctx.log.info(f"git-push: the clone cache will fetch {branch!r} again: {error}")


STEP = GitPush()
