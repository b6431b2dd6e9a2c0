"""``json-parse``: read a JSON file and publish values picked out by expressions."""

from pydantic import Field

from kargo_dagster.promotion.documents.files import read_text
from kargo_dagster.promotion.documents.parsed_outputs import extract_outputs
from kargo_dagster.promotion.documents.parsing import parse_json
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput


class Output(StepConfig):
    """One output: its name and the expression over the document that gives its value."""

    name: str = Field(min_length=1)
    from_expression: str = Field(min_length=1)


class Config(StepConfig):
    """``json-parse``'s configuration."""

    path: str = Field(min_length=1)
    outputs: list[Output] = Field(min_length=1)


class JsonParse(StepKind[Config]):
    """Read values out of a JSON file."""

    name = "json-parse"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Parse the file and evaluate each output's expression against it."""
        text = read_text(ctx.path(config.path), config.path)
        document = parse_json(text, config.path)
        return extract_outputs(ctx, document, config.outputs, config.path)


STEP = JsonParse()
