"""Masking the Secret values a promotion's expressions read, wherever the promotion shows them.

A step config may take a value from ``secret()`` or ``sharedSecret()``; the step then uses
it (a header, a file, a request body), and it can come back in a message, an output (a
server that echoes the request), the patch of a commit, or a log line. The values are known
only once an expression reads them, so logging is masked as it happens, by
:class:`SecretMaskingFilter` on the promotion's logger, and the result by
:func:`masked_result` once the steps are done: steps still pass each other the real values.
"""

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from kargo_dagster.promotion.results import PromotionResult, StepExecution
from kargo_dagster.redaction import mask_secrets

__all__ = ["SecretMaskingFilter", "masked_result", "masked_value"]


class SecretMaskingFilter(logging.Filter):
    """Masks, in each record logged, the secrets ``secrets()`` knows at that moment.

    Args:
        secrets: The values to mask; asked for each record, as the promotion reads more.
    """

    def __init__(self, secrets: Callable[[], Sequence[str]]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask the record's message in place; every record is kept."""
        secrets = self._secrets()
        if secrets:
            message = record.getMessage()
            masked = mask_secrets(message, secrets)
            if masked != message:
                record.msg, record.args = masked, None
        return True


def masked_value(value: Any, secrets: Sequence[str]) -> Any:
    """``value`` with every string in it (through maps and lists) masked."""
    if isinstance(value, str):
        return mask_secrets(value, secrets)
    if isinstance(value, dict):
        return {key: masked_value(item, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [masked_value(item, secrets) for item in value]
    return value


def masked_result(result: PromotionResult, secrets: Sequence[str]) -> PromotionResult:
    """``result`` as it may be shown: messages, outputs and details with ``secrets`` masked."""
    if not secrets:
        return result
    return replace(
        result,
        message=mask_secrets(result.message, secrets),
        steps=[_masked_step(step, secrets) for step in result.steps],
        outputs=masked_value(result.outputs, secrets),
    )


def _masked_step(step: StepExecution, secrets: Sequence[str]) -> StepExecution:
    return replace(
        step,
        message=mask_secrets(step.message, secrets),
        outputs=masked_value(step.outputs, secrets),
        details=masked_value(step.details, secrets),
    )
