"""``yaml-parse``: read a YAML file and publish values picked out by expressions."""

from typing import Any

from kargo_dagster.promotion.documents.parsed_outputs import ParseConfig, ParseStep
from kargo_dagster.promotion.documents.parsing import parse_yaml

Config = ParseConfig


class YamlParse(ParseStep):
    """Read values out of a YAML file."""

    name = "yaml-parse"

    def parse(self, text: str, shown: str) -> Any:
        """The YAML document."""
        return parse_yaml(text, shown)


STEP = YamlParse()
