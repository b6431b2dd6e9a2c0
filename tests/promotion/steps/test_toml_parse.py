"""toml-parse: outputs from expressions over the document's top-level keys."""

from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.expressions import evaluate
from kargo_dagster.promotion.steps.toml_parse import STEP, Config
from tests.promotion.git_support import make_ctx, schema_errors


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"outputs": [{"name": "a", "fromExpression": "x"}]}, "", "'path' is a required"),
        ({"path": "a.toml", "outputs": []}, "outputs", "should be non-empty"),
        ({"path": "a.toml", "outputs": [{"name": "a"}]}, "outputs/0", "'fromExpression'"),
        (
            {"path": "a.toml", "outputs": [{"name": "", "fromExpression": "x"}]},
            "outputs/0/name",
            "non-empty",
        ),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("toml-parse", config)
    assert any(where == path and message in text for where, text in errors), errors


def _run(tmp_path: Path, text: str, outputs: dict[str, str]) -> dict[str, Any]:
    ctx = make_ctx(tmp_path)
    ctx.evaluate = evaluate
    (ctx.work_dir / "a.toml").write_text(text)
    config = Config.model_validate(
        {
            "path": "a.toml",
            "outputs": [{"name": n, "fromExpression": e} for n, e in outputs.items()],
        }
    )
    return STEP.run(ctx, config)


def test_outputs(tmp_path: Path) -> None:
    text = '[package]\nversion = "1.2.3"\nports = [80, 443]\n'
    assert _run(tmp_path, text, {"v": "package.version", "p": "package.ports[1]"}) == {
        "v": "1.2.3",
        "p": 443,
    }


def test_bad_toml_and_bad_expression_fail(tmp_path: Path) -> None:
    with pytest.raises(TerminalStepError, match="empty"):
        _run(tmp_path, "", {"a": "x"})
    with pytest.raises(TerminalStepError, match="could not parse TOML"):
        _run(tmp_path / "2", "a = ", {"a": "x"})
    with pytest.raises(TerminalStepError, match="'a'"):
        _run(tmp_path / "3", "x = 1", {"a": "x +"})
