"""What ``json-update``, ``toml-update`` and ``yaml-update`` share.

The three steps take the same configuration (a file, and values to set by dotted key), run
the same way (read the file, change its text, write it back) and describe the change in the
same commit message. :class:`KeyValueUpdateStep` does all that; each step module says only
how its format sets a value and how it shows one in the message.
"""

from collections.abc import Sequence
from typing import Any

from pydantic import Field

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.documents.files import read_text, write_text
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput

__all__ = ["Config", "KeyValueUpdateStep", "Update", "update_commit_message"]


class Update(StepConfig):
    """One value to set."""

    key: str = Field(min_length=1)
    value: Any


class Config(StepConfig):
    """The configuration of ``json-update``, ``toml-update`` and ``yaml-update``."""

    path: str = Field(min_length=1)
    updates: list[Update] = Field(min_length=1)


def update_commit_message(path: str, updates: list[tuple[str, str]]) -> str:
    """Kargo's message for the update steps: the file, then one ``- key: value`` per change."""
    lines = "".join(f"\n- {key}: {shown}" for key, shown in updates)
    return f"Updated {path}\n{lines}"


class KeyValueUpdateStep(StepKind[Config]):
    """A step that sets values in one file by dotted key path; subclasses name the format."""

    config_model = Config

    def apply(self, text: str, updates: Sequence[Update]) -> str:
        """``text`` with ``updates`` applied.

        Raises:
            TerminalStepError: An update cannot be made; the caller adds the file's path.
        """
        raise NotImplementedError

    def show(self, value: Any) -> str:
        """``value`` as the commit message shows it."""
        raise NotImplementedError

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Apply the updates and describe them in ``commitMessage``."""
        file = ctx.path(config.path)
        text = read_text(file, config.path)
        try:
            text = self.apply(text, config.updates)
        except TerminalStepError as error:
            raise TerminalStepError(f"{config.path}: {error}") from error
        write_text(file, config.path, text)
        shown = [(u.key, self.show(u.value)) for u in config.updates]
        return {"commitMessage": update_commit_message(config.path, shown)}
