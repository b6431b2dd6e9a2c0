"""toml-update: scalar edits that keep comments and layout."""

from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.steps.toml_update import STEP, Config
from tests.promotion.git_support import make_ctx, schema_errors

DOC = """# Cargo manifest
[package]
name = "app"  # crate name
version = '1.0.0'
edition = 2021

[features]
enabled = false

[[bin]]
path = "a.rs"
"""


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"path": "c.toml"}, "", "'updates' is a required property"),
        ({"path": "c.toml", "updates": [{"key": "a"}]}, "updates/0", "'value' is a required"),
        ({"path": "c.toml", "updates": [{"key": "a", "value": 1, "z": 0}]}, "updates/0", "'z'"),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("toml-update", config)
    assert any(where == path and message in text for where, text in errors), errors


def _run(tmp_path: Path, updates: list[dict[str, Any]]) -> tuple[str, Any]:
    ctx = make_ctx(tmp_path)
    (ctx.work_dir / "c.toml").write_text(DOC)
    output = STEP.run(ctx, Config.model_validate({"path": "c.toml", "updates": updates}))
    return (ctx.work_dir / "c.toml").read_text(), output


def test_edits_keep_comments_and_quote_style(tmp_path: Path) -> None:
    text, output = _run(
        tmp_path,
        [
            {"key": "package.version", "value": "1.0.1"},
            {"key": "package.name", "value": "app2"},
            {"key": "features.enabled", "value": True},
            {"key": "bin.0.path", "value": "b.rs"},
        ],
    )
    assert text == (
        DOC.replace("'1.0.0'", "'1.0.1'")
        .replace('"app"', '"app2"')
        .replace("enabled = false", "enabled = true")
        .replace('"a.rs"', '"b.rs"')
    )
    assert output["commitMessage"] == (
        "Updated c.toml\n\n- package.version: '1.0.1'\n- package.name: 'app2'\n"
        "- features.enabled: true\n- bin.0.path: 'b.rs'"
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("package.missing", 1, "not found"),
        ("package", 1, "table or array"),
        ("bin.3.path", 1, "not found"),
        ("package.version", [1], "not a TOML scalar"),
    ],
)
def test_refused_updates(tmp_path: Path, key: str, value: Any, message: str) -> None:
    with pytest.raises(TerminalStepError, match=message):
        _run(tmp_path, [{"key": key, "value": value}])
