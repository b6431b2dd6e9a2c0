"""compose-output: the config's keys become the step's outputs."""

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.schema_validation import validate_step_config
from kargo_dagster.promotion.steps.compose_output import STEP, Config
from tests.promotion.git_support import make_ctx


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "(root): {} should be non-empty"),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(config: dict[str, Any], message: str) -> None:
    with pytest.raises(TerminalStepError) as caught:
        validate_step_config("compose-output", config)
    assert str(caught.value) == f"invalid compose-output config: {message}"


def test_the_model_also_refuses_an_empty_config() -> None:
    with pytest.raises(ValidationError, match="at least one key"):
        Config.model_validate({})


@pytest.mark.parametrize(
    "config",
    [
        {"a": 1},
        {"nested": {"list": [1, "two", None]}, "flag": True},
        # Keys that are also pydantic method names are plain outputs.
        {"json": 1, "copy": "x", "values": [1], "model_config": {}},
    ],
)
def test_outputs_are_the_config(tmp_path: Path, config: dict[str, Any]) -> None:
    validate_step_config("compose-output", config)
    output = STEP.run(make_ctx(tmp_path), Config.model_validate(config))
    assert output == config
    assert STEP.name == "compose-output"
