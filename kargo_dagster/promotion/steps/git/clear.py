"""``git-clear``: empty a checkout's work tree, keeping its ``.git``.

Used before writing freshly rendered files, so that files the render no longer produces are
deleted by the next commit.
"""

from typing import ClassVar

from pydantic import Field

from kargo_dagster.errors import RepositoryError
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.git.worktree import WorkTree, step_error

__all__ = ["STEP", "Config", "GitClear"]


class Config(StepConfig):
    """``git-clear``'s configuration (``git-clear-config.json``)."""

    path: str = Field(min_length=1)


class GitClear(StepKind[Config]):
    """Removes every file from a work tree except ``.git``."""

    name: ClassVar[str] = "git-clear"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Clear the work tree at ``path``; no outputs."""
        tree = WorkTree.load(
            ctx.path(config.path), ctx.credentials, shown_as=config.path, executable=ctx.tools.git
        )
        try:
            tree.clear()
        except RepositoryError as error:
            raise step_error(error) from None
        return {}


STEP = GitClear()
