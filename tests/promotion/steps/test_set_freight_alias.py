"""set-freight-alias: records a Freight's new alias."""

from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.promotion.step import InMemoryMetadataStore
from kargo_dagster.promotion.steps.set_freight_alias import STEP, Config
from tests.promotion.git_support import make_ctx, schema_errors


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"alias": "a"}, "", "'name' is a required property"),
        ({"name": "f"}, "", "'alias' is a required property"),
        ({"name": "f", "alias": ""}, "alias", "should be non-empty"),
        ({"name": "f", "alias": "a", "x": 1}, "", "'x' was unexpected"),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("set-freight-alias", config)
    assert any(where == path and message in text for where, text in errors), errors


def test_alias_is_recorded(tmp_path: Path) -> None:
    store = InMemoryMetadataStore()
    ctx = make_ctx(tmp_path)
    ctx.metadata = store
    assert STEP.run(ctx, Config.model_validate({"name": "abc123", "alias": "fancy-fox"})) == {}
    assert store.aliases == {"abc123": "fancy-fox"}
