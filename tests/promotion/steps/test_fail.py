"""fail: always Failed, with Kargo's message."""

from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.schema_validation import validate_step_config
from kargo_dagster.promotion.steps.fail import STEP, Config
from tests.promotion.git_support import make_ctx


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"message": ""}, "message: '' should be non-empty"),
        ({"message": 42}, "message: 42 is not of type 'string'"),
        (
            {"reason": "x"},
            "(root): Additional properties are not allowed ('reason' was unexpected)",
        ),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(config: dict[str, Any], message: str) -> None:
    with pytest.raises(TerminalStepError) as caught:
        validate_step_config("fail", config)
    assert str(caught.value) == f"invalid fail config: {message}"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "failed"),
        ({"message": "the freight is not approved"}, "failed: the freight is not approved"),
    ],
)
def test_fail_always_raises_a_terminal_error(
    tmp_path: Path, config: dict[str, Any], message: str
) -> None:
    validate_step_config("fail", config)
    with pytest.raises(TerminalStepError) as caught:
        STEP.run(make_ctx(tmp_path), Config.model_validate(config))
    assert str(caught.value) == message
