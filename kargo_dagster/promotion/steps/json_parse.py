"""``json-parse``: read a JSON file and publish values picked out by expressions."""

from typing import Any

from kargo_dagster.promotion.documents.parsed_outputs import ParseConfig, ParseStep
from kargo_dagster.promotion.documents.parsing import parse_json

Config = ParseConfig


class JsonParse(ParseStep):
    """Read values out of a JSON file."""

    name = "json-parse"

    def parse(self, text: str, shown: str) -> Any:
        """The JSON document."""
        return parse_json(text, shown)


STEP = JsonParse()
