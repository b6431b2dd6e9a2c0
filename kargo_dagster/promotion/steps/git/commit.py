"""``git-commit``: commit every change in a checkout.

Everything is staged first (new, changed and deleted files). With nothing to commit the
step commits nothing, outputs the current ``HEAD`` and is reported Skipped, as in Kargo.
The author is the ``git-clone`` step's ``author``, or Kargo's default
``Kargo <no-reply@kargo.io>``; the deprecated ``author`` here overrides both.

The files the commit changed and its patch are reported (``changes``) for the promotion's
record in Dagster; they are not outputs.
"""

from typing import ClassVar

from pydantic import Field

from kargo_dagster.errors import RepositoryError, TerminalStepError
from kargo_dagster.promotion.results import CHANGES_DETAIL
from kargo_dagster.promotion.step import (
    Skipped,
    StepConfig,
    StepContext,
    StepKind,
    StepOutput,
)
from kargo_dagster.promotion.steps.git.worktree import GitIdentity, WorkTree, step_error
from kargo_dagster.promotion.steps.schema_types import Email

__all__ = ["STEP", "Author", "Config", "GitCommit"]


class Author(StepConfig):
    """Deprecated: who commits (configure it in ``git-clone`` instead)."""

    name: str = Field(min_length=1)
    email: Email
    signing_key: str | None = None


class Config(StepConfig):
    """``git-commit``'s configuration (``git-commit-config.json``)."""

    path: str = Field(min_length=1)
    message: str = Field(min_length=1)
    author: Author | None = None


class GitCommit(StepKind[Config]):
    """Commits all changes in a work tree."""

    name: ClassVar[str] = "git-commit"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Stage everything and commit it; output ``commit``."""
        identity = None
        if config.author is not None:
            if config.author.signing_key:
                raise TerminalStepError("author.signingKey: commit signing is not supported")
            identity = GitIdentity(config.author.name, config.author.email)
        tree = WorkTree.load(
            ctx.path(config.path), ctx.credentials, shown_as=config.path, executable=ctx.tools.git
        )
        try:
            tree.stage_all()
            if not tree.has_staged_changes():
                return Skipped(f"nothing to commit in {config.path}", commit=tree.head())
            commit = tree.commit(config.message, identity)
            ctx.report(CHANGES_DETAIL, tree.changes(commit).to_json())
            return {"commit": commit}
        except RepositoryError as error:
            raise step_error(error) from None


STEP = GitCommit()
