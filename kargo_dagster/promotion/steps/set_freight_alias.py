"""``set-freight-alias``: give a Freight a new alias."""

from pydantic import Field

from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput


class Config(StepConfig):
    """``set-freight-alias``'s configuration."""

    name: str = Field(min_length=1)
    alias: str = Field(min_length=1)


class SetFreightAlias(StepKind[Config]):
    """Rename a Freight's alias."""

    name = "set-freight-alias"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Record the alias; no outputs."""
        ctx.metadata.set_freight_alias(config.name, config.alias)
        return {}


STEP = SetFreightAlias()
