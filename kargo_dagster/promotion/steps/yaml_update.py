"""``yaml-update``: set values in a YAML file by dotted key path.

Each key must already exist and address a scalar; only that scalar's text changes, so
comments, order, quoting and layout are kept and the diff is one line per value.
"""

from collections.abc import Sequence
from typing import Any

from kargo_dagster.promotion.documents.scalar_text import quote_if_necessary
from kargo_dagster.promotion.documents.yaml_edit import YamlUpdate as Edit
from kargo_dagster.promotion.documents.yaml_edit import set_values
from kargo_dagster.promotion.steps.key_value_updates import Config, KeyValueUpdateStep, Update

__all__ = ["STEP", "Config", "YamlUpdate"]


class YamlUpdate(KeyValueUpdateStep):
    """Set values in a YAML file."""

    name = "yaml-update"

    def apply(self, text: str, updates: Sequence[Update]) -> str:
        """``text`` with each key's scalar replaced."""
        return set_values(text, [Edit(u.key, u.value) for u in updates])

    def show(self, value: Any) -> str:
        """``value`` as YAML writes it, quoted only where it must be."""
        return quote_if_necessary(value)


STEP = YamlUpdate()
