"""Outputs of the ``*-parse`` steps: expressions evaluated over a parsed document.

Kargo runs each ``fromExpression`` with the document itself as the expression
environment, so a mapping's top-level keys are the variables (``image.tag``); a document
that is not a mapping offers no variables.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from pydantic import Field

from kargo_dagster.errors import ExpressionError, TerminalStepError
from kargo_dagster.promotion.documents.files import read_text
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput


class NamedExpression(Protocol):
    """An ``outputs[]`` entry."""

    name: str
    from_expression: str


def extract_outputs(
    ctx: StepContext, document: Any, outputs: Sequence[NamedExpression], shown: str
) -> StepOutput:
    """Evaluate every output's expression against ``document``.

    Raises:
        TerminalStepError: An expression does not parse or fails; the message names it and
            the file.
    """
    variables: Mapping[str, Any] = document if isinstance(document, Mapping) else {}
    results: StepOutput = {}
    for output in outputs:
        try:
            results[output.name] = ctx.evaluate(output.from_expression, variables)
        except ExpressionError as error:
            raise TerminalStepError(
                f"failed to extract output {output.name!r} from {shown!r}: {error}"
            ) from error
    return results


class Output(StepConfig):
    """One output: its name and the expression over the document that gives its value."""

    name: str = Field(min_length=1)
    from_expression: str = Field(min_length=1)


class ParseConfig(StepConfig):
    """The configuration every ``*-parse`` step shares."""

    path: str = Field(min_length=1)
    outputs: list[Output] = Field(min_length=1)


class ParseStep(StepKind[ParseConfig]):
    """A ``*-parse`` step; subclasses name the step and say how to read the format."""

    config_model = ParseConfig

    def parse(self, text: str, shown: str) -> Any:
        """The document in ``text`` (``shown`` names the file in errors)."""
        raise NotImplementedError

    def run(self, ctx: StepContext, config: ParseConfig) -> StepOutput:
        """Parse the file and evaluate each output's expression against it."""
        document = self.parse(read_text(ctx.path(config.path), config.path), config.path)
        return extract_outputs(ctx, document, config.outputs, config.path)
