"""``toml-parse``: read a TOML file and publish values picked out by expressions."""

from typing import Any

from kargo_dagster.promotion.documents.parsed_outputs import ParseConfig, ParseStep
from kargo_dagster.promotion.documents.parsing import parse_toml

Config = ParseConfig


class TomlParse(ParseStep):
    """Read values out of a TOML file."""

    name = "toml-parse"

    def parse(self, text: str, shown: str) -> Any:
        """The TOML document."""
        return parse_toml(text, shown)


STEP = TomlParse()
