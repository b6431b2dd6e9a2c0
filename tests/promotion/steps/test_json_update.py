"""json-update: in-place edits that keep key order and layout."""

from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.steps.json_update import STEP, Config
from tests.promotion.git_support import make_ctx, schema_errors

DOC = """{
    "name": "app",
    "image": {
        "repository": "nginx",
        "tag": "1.0"
    },
    "ports": [80, 443],
    "empty": {}
}
"""


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"updates": [{"key": "a", "value": 1}]}, "", "'path' is a required property"),
        ({"path": "a.json", "updates": []}, "updates", "should be non-empty"),
        ({"path": "a.json", "updates": [{"value": 1}]}, "updates/0", "'key' is a required"),
        ({"path": "a.json", "updates": [{"key": "", "value": 1}]}, "updates/0/key", "non-empty"),
        ({"path": "a.json", "updates": [{"key": "a", "value": 1}], "x": 1}, "", "'x' was"),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("json-update", config)
    assert any(where == path and message in text for where, text in errors), errors


def _run(tmp_path: Path, updates: list[dict[str, Any]], doc: str = DOC) -> tuple[str, Any]:
    ctx = make_ctx(tmp_path)
    (ctx.work_dir / "a.json").write_text(doc)
    output = STEP.run(ctx, Config.model_validate({"path": "a.json", "updates": updates}))
    return (ctx.work_dir / "a.json").read_text(), output


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("image.tag", "1.1", DOC.replace('"tag": "1.0"', '"tag": "1.1"')),
        ("ports.1", 8443, DOC.replace("[80, 443]", "[80, 8443]")),
        ("ports.-1", 8080, DOC.replace("[80, 443]", "[80, 443, 8080]")),
        (
            "image.digest",
            "sha256:ab",
            DOC.replace('"tag": "1.0"\n', '"tag": "1.0",\n        "digest": "sha256:ab"\n'),
        ),
        ("empty.on", True, DOC.replace('"empty": {}', '"empty": {\n        "on": true\n    }')),
        (
            "extra.level",
            1.5,
            DOC.replace(
                '"empty": {}\n', '"empty": {},\n    "extra": {\n        "level": 1.5\n    }\n'
            ),
        ),
    ],
)
def test_edits(tmp_path: Path, key: str, value: Any, expected: str) -> None:
    assert _run(tmp_path, [{"key": key, "value": value}])[0] == expected


def test_compact_documents_stay_compact(tmp_path: Path) -> None:
    text, _ = _run(tmp_path, [{"key": "a.c", "value": "x"}], doc='{"a":{"b":1}}')
    assert text == '{"a":{"b":1,"c":"x"}}'


def test_commit_message(tmp_path: Path) -> None:
    _, output = _run(
        tmp_path, [{"key": "image.tag", "value": "1.1"}, {"key": "ports.0", "value": 81}]
    )
    assert output == {"commitMessage": 'Updated a.json\n\n- image.tag: "1.1"\n- ports.0: 81'}


@pytest.mark.parametrize(
    ("updates", "message"),
    [
        ([{"key": "image", "value": {"a": 1}}], "not a scalar type"),
        ([{"key": "image", "value": None}], "not a scalar type"),
        ([{"key": "name.x", "value": 1}], "holds a scalar"),
        ([{"key": "ports.x", "value": 1}], "not a list index"),
    ],
)
def test_refused_updates(tmp_path: Path, updates: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(TerminalStepError, match=message):
        _run(tmp_path, updates)


def test_malformed_json_fails(tmp_path: Path) -> None:
    with pytest.raises(TerminalStepError, match="cannot parse JSON"):
        _run(tmp_path, [{"key": "a", "value": 1}], doc="{nope")
