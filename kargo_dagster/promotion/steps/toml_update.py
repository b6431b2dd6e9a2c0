"""``toml-update``: set existing scalar values in a TOML file by dotted key path."""

from typing import Any

from pydantic import Field

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.expressions.gojson import go_sprint
from kargo_dagster.promotion.documents.files import read_text, write_text
from kargo_dagster.promotion.documents.toml_edit import format_value, set_values
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.yaml_update import update_commit_message


class Update(StepConfig):
    """One value to set."""

    key: str = Field(min_length=1)
    value: Any


class Config(StepConfig):
    """``toml-update``'s configuration."""

    path: str = Field(min_length=1)
    updates: list[Update] = Field(min_length=1)


def _shown(value: Any) -> str:
    try:
        return format_value(value)
    except TerminalStepError:
        return go_sprint(value)


class TomlUpdate(StepKind[Config]):
    """Set values in a TOML file."""

    name = "toml-update"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Apply the updates and describe them in ``commitMessage``."""
        file = ctx.path(config.path)
        text = read_text(file, config.path)
        try:
            text = set_values(text, [(u.key, u.value) for u in config.updates])
        except TerminalStepError as error:
            raise TerminalStepError(f"{config.path}: {error}") from error
        write_text(file, config.path, text)
        shown = [(u.key, _shown(u.value)) for u in config.updates]
        return {"commitMessage": update_commit_message(config.path, shown)}


STEP = TomlUpdate()
