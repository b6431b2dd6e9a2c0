"""``compose-output``: outputs made of whatever keys the config has.

Used to name values for later steps (``outputs.<alias>.<key>``) and, as a task's step, to
give the task outputs of its own: the engine also merges them into
``outputs.<task alias>`` for the steps after the task.
"""

from typing import Any

from pydantic import ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput


class Config(StepConfig):
    """``compose-output``'s configuration: any keys (at least one), any values."""

    model_config = ConfigDict(extra="allow", frozen=True)

    @model_validator(mode="after")
    def _not_empty(self) -> "Config":
        if not self.model_extra:
            raise PydanticCustomError("min_properties", "compose-output needs at least one key")
        return self

    @property
    def values(self) -> dict[str, Any]:
        """The configured keys and their values."""
        return dict(self.model_extra or {})


class ComposeOutput(StepKind[Config]):
    """Return the configuration as the step's outputs."""

    name = "compose-output"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """The config's keys and values, unchanged."""
        del ctx
        return config.values


STEP = ComposeOutput()
