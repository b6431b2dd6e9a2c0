"""``set-metadata``: merge key/value pairs into Stage or Freight metadata."""

from typing import Any, Literal

from pydantic import Field

from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput


class MetadataUpdate(StepConfig):
    """Values to merge into one Stage's or Freight's metadata."""

    kind: Literal["Stage", "Freight"]
    name: str = Field(min_length=1)
    values: dict[str, Any] = Field(min_length=1)


class Config(StepConfig):
    """``set-metadata``'s configuration."""

    updates: list[MetadataUpdate] = Field(min_length=1)


class SetMetadata(StepKind[Config]):
    """Record metadata on Stages and Freight."""

    name = "set-metadata"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Apply every update in order; no outputs."""
        for update in config.updates:
            if update.kind == "Stage":
                ctx.metadata.update_stage_metadata(update.name, update.values)
            else:
                ctx.metadata.update_freight_metadata(update.name, update.values)
        return {}


STEP = SetMetadata()
