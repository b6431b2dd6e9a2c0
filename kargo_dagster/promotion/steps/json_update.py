"""``json-update``: set scalar values in a JSON file by dotted key path (sjson syntax).

Missing keys are created; only the changed text is rewritten, so key order and layout stay.
"""

from collections.abc import Sequence
from typing import Any

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.expressions.gojson import go_sprint
from kargo_dagster.promotion.documents.json_edit import set_value
from kargo_dagster.promotion.documents.scalar_text import go_quote
from kargo_dagster.promotion.steps.key_value_updates import Config, KeyValueUpdateStep, Update

__all__ = ["STEP", "Config", "JsonUpdate"]


class JsonUpdate(KeyValueUpdateStep):
    """Set values in a JSON file."""

    name = "json-update"

    def apply(self, text: str, updates: Sequence[Update]) -> str:
        """``text`` with each value set, one update after another."""
        for update in updates:
            # Kargo sets only strings, numbers and booleans.
            if not isinstance(update.value, str | int | float | bool):
                raise TerminalStepError(f"value for key {update.key!r} is not a scalar type")
            text = set_value(text, update.key, update.value)
        return text

    def show(self, value: Any) -> str:
        """``value`` as Go quotes a string, or prints anything else."""
        return go_quote(value) if isinstance(value, str) else go_sprint(value)


STEP = JsonUpdate()
