"""json-parse: outputs from expressions over the document's top-level keys."""

from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.expressions import evaluate
from kargo_dagster.promotion.steps.json_parse import STEP, Config
from tests.promotion.git_support import make_ctx, schema_errors


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"outputs": [{"name": "a", "fromExpression": "x"}]}, "", "'path' is a required"),
        ({"path": "a.json", "outputs": []}, "outputs", "should be non-empty"),
        ({"path": "a.json", "outputs": [{"name": "a"}]}, "outputs/0", "'fromExpression'"),
        (
            {"path": "a.json", "outputs": [{"name": "", "fromExpression": "x"}]},
            "outputs/0/name",
            "non-empty",
        ),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("json-parse", config)
    assert any(where == path and message in text for where, text in errors), errors


def _run(tmp_path: Path, text: str, outputs: dict[str, str]) -> dict[str, Any]:
    ctx = make_ctx(tmp_path)
    ctx.evaluate = evaluate
    (ctx.work_dir / "a.json").write_text(text)
    config = Config.model_validate(
        {
            "path": "a.json",
            "outputs": [{"name": n, "fromExpression": e} for n, e in outputs.items()],
        }
    )
    return STEP.run(ctx, config)


def test_outputs(tmp_path: Path) -> None:
    text = '{"image": {"tag": "v1", "ports": [80, 443]}, "ok": true}'
    assert _run(tmp_path, text, {"tag": "image.tag", "p": "image.ports[0]", "ok": "ok"}) == {
        "tag": "v1",
        "p": 80,
        "ok": True,
    }


def test_bad_json_and_bad_expression_fail(tmp_path: Path) -> None:
    with pytest.raises(TerminalStepError, match="could not parse JSON"):
        _run(tmp_path, "{", {"a": "x"})
    with pytest.raises(TerminalStepError, match="'a'"):
        _run(tmp_path / "2", '{"x": 1}', {"a": "x +"})
