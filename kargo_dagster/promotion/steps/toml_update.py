"""``toml-update``: set existing scalar values in a TOML file by dotted key path."""

from collections.abc import Sequence
from typing import Any

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.expressions.gojson import go_sprint
from kargo_dagster.promotion.documents.toml_edit import format_value, set_values
from kargo_dagster.promotion.steps.key_value_updates import Config, KeyValueUpdateStep, Update

__all__ = ["STEP", "Config", "TomlUpdate"]


class TomlUpdate(KeyValueUpdateStep):
    """Set values in a TOML file."""

    name = "toml-update"

    def apply(self, text: str, updates: Sequence[Update]) -> str:
        """``text`` with each key's value replaced."""
        return set_values(text, [(u.key, u.value) for u in updates])

    def show(self, value: Any) -> str:
        """``value`` as TOML writes it, or as Go prints it when TOML has no form for it."""
        try:
            return format_value(value)
        except TerminalStepError:
            return go_sprint(value)


STEP = TomlUpdate()
