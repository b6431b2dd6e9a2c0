"""``yaml-update``: set values in a YAML file by dotted key path.

Each key must already exist and address a scalar; only that scalar's text changes, so
comments, order, quoting and layout are kept and the diff is one line per value.
"""

from typing import Any

from pydantic import Field

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.documents.files import read_text, write_text
from kargo_dagster.promotion.documents.scalar_text import quote_if_necessary
from kargo_dagster.promotion.documents.yaml_edit import YamlUpdate as Edit
from kargo_dagster.promotion.documents.yaml_edit import set_values
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput


class Update(StepConfig):
    """One value to set."""

    key: str = Field(min_length=1)
    value: Any


class Config(StepConfig):
    """``yaml-update``'s configuration."""

    path: str = Field(min_length=1)
    updates: list[Update] = Field(min_length=1)


def update_commit_message(path: str, updates: list[tuple[str, str]]) -> str:
    """Kargo's message for the update steps: the file, then one ``- key: value`` per change."""
    lines = "".join(f"\n- {key}: {shown}" for key, shown in updates)
    return f"Updated {path}\n{lines}"


class YamlUpdate(StepKind[Config]):
    """Set values in a YAML file."""

    name = "yaml-update"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Apply the updates and describe them in ``commitMessage``."""
        file = ctx.path(config.path)
        text = read_text(file, config.path)
        edits = [Edit(u.key, u.value) for u in config.updates]
        try:
            text = set_values(text, edits)
        except TerminalStepError as error:
            raise TerminalStepError(f"{config.path}: {error}") from error
        write_text(file, config.path, text)
        shown = [(u.key, quote_if_necessary(u.value)) for u in config.updates]
        return {"commitMessage": update_commit_message(config.path, shown)}


STEP = YamlUpdate()
