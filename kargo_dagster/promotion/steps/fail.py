"""``fail``: end the promotion as Failed, with an optional message.

Usually guarded by ``if`` (``if: ${{ failure() }}``, ``if: ${{ vars.x == '' }}``) to stop a
promotion with a reason of the author's choosing.
"""

from pydantic import Field

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput


class Config(StepConfig):
    """``fail``'s configuration."""

    message: str | None = Field(default=None, min_length=1)


class Fail(StepKind[Config]):
    """Fail the step (and with it the promotion, unless ``continueOnError``)."""

    name = "fail"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Always raises: ``failed`` or ``failed: <message>``, as Kargo says it."""
        del ctx
        raise TerminalStepError(f"failed: {config.message}" if config.message else "failed")


STEP = Fail()
