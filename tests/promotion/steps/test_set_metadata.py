"""set-metadata: merges values into Stage and Freight metadata."""

from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.promotion.step import InMemoryMetadataStore
from kargo_dagster.promotion.steps.set_metadata import STEP, Config
from tests.promotion.git_support import make_ctx, schema_errors


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({}, "", "'updates' is a required property"),
        ({"updates": []}, "updates", "should be non-empty"),
        (
            {"updates": [{"kind": "Pod", "name": "a", "values": {"k": 1}}]},
            "updates/0/kind",
            "'Pod'",
        ),
        (
            {"updates": [{"kind": "Stage", "name": "", "values": {"k": 1}}]},
            "updates/0/name",
            "non-empty",
        ),
        ({"updates": [{"kind": "Stage", "name": "a", "values": {}}]}, "updates/0/values", "empty"),
        ({"updates": [{"kind": "Stage", "name": "a"}]}, "updates/0", "'values' is a required"),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("set-metadata", config)
    assert any(where == path and message in text for where, text in errors), errors


def test_updates_are_merged_in_order(tmp_path: Path) -> None:
    store = InMemoryMetadataStore(stages={"dev": {"old": 1}})
    ctx = make_ctx(tmp_path)
    ctx.metadata = store
    config = Config.model_validate(
        {
            "updates": [
                {"kind": "Stage", "name": "dev", "values": {"approved": True, "old": 2}},
                {"kind": "Freight", "name": "abc", "values": {"ticket": {"id": 7}}},
                {"kind": "Stage", "name": "dev", "values": {"approved": False}},
            ]
        }
    )
    assert STEP.run(ctx, config) == {}
    assert store.stages == {"dev": {"old": 2, "approved": False}}
    assert store.freight == {"abc": {"ticket": {"id": 7}}}
