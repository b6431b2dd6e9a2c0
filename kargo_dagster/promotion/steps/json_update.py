"""``json-update``: set scalar values in a JSON file by dotted key path (sjson syntax).

Missing keys are created; only the changed text is rewritten, so key order and layout stay.
"""

from typing import Any

from pydantic import Field

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.expressions.gojson import go_sprint
from kargo_dagster.promotion.documents.files import read_text, write_text
from kargo_dagster.promotion.documents.json_edit import set_value
from kargo_dagster.promotion.documents.scalar_text import go_quote
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.yaml_update import update_commit_message


class Update(StepConfig):
    """One value to set."""

    key: str = Field(min_length=1)
    value: Any


class Config(StepConfig):
    """``json-update``'s configuration."""

    path: str = Field(min_length=1)
    updates: list[Update] = Field(min_length=1)


class JsonUpdate(StepKind[Config]):
    """Set values in a JSON file."""

    name = "json-update"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Apply the updates and describe them in ``commitMessage``."""
        file = ctx.path(config.path)
        text = read_text(file, config.path)
        for update in config.updates:
            # Kargo sets only strings, numbers and booleans.
            if not isinstance(update.value, str | int | float | bool):
                raise TerminalStepError(
                    f"{config.path}: value for key {update.key!r} is not a scalar type"
                )
            try:
                text = set_value(text, update.key, update.value)
            except TerminalStepError as error:
                raise TerminalStepError(f"{config.path}: {error}") from error
        write_text(file, config.path, text)
        shown = [
            (u.key, go_quote(u.value) if isinstance(u.value, str) else go_sprint(u.value))
            for u in config.updates
        ]
        return {"commitMessage": update_commit_message(config.path, shown)}


STEP = JsonUpdate()
