"""``git-tag``: create an annotated tag at a checkout's ``HEAD``.

The tagger is the ``git-clone`` step's ``author`` or Kargo's default identity. Pushing the
tag is ``git-push``'s job (``tag:``). The output ``commit`` is the tagged commit.
"""

from typing import ClassVar

from pydantic import ConfigDict, Field

from kargo_dagster.errors import RepositoryError
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.git.worktree import WorkTree, step_error

__all__ = ["STEP", "Config", "GitTag"]


class Config(StepConfig):
    """``git-tag``'s configuration (``git-tag-config.json``).

    Kargo's schema for this step, unlike the others, allows unknown keys; so does this.
    """

    model_config = ConfigDict(extra="ignore")

    path: str = Field(min_length=1)
    tag: str = Field(min_length=1)
    message: str = Field(min_length=1)
    force: bool = False


class GitTag(StepKind[Config]):
    """Tags ``HEAD`` of a work tree."""

    name: ClassVar[str] = "git-tag"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Create the tag; output ``commit``."""
        tree = WorkTree.load(
            ctx.path(config.path), ctx.credentials, shown_as=config.path, executable=ctx.tools.git
        )
        try:
            tree.tag(config.tag, config.message, force=config.force)
            return {"commit": tree.head()}
        except RepositoryError as error:
            raise step_error(error) from None


STEP = GitTag()
