"""Outputs of the ``*-parse`` steps: expressions evaluated over a parsed document.

Kargo runs each ``fromExpression`` with the document itself as the expression
environment, so a mapping's top-level keys are the variables (``image.tag``); a document
that is not a mapping offers no variables.
"""

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from kargo_dagster.errors import ExpressionError, TerminalStepError
from kargo_dagster.promotion.step import StepContext, StepOutput


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
