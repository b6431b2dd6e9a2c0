"""yaml-update: one-line edits that keep comments, quotes and layout."""

from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.steps.yaml_update import STEP, Config
from tests.promotion.git_support import make_ctx, schema_errors

VALUES = """\
# Values for the guestbook
image:
    repository: ghcr.io/akuity/guestbook  # where it comes from
    tag: "v0.0.1"
    pullPolicy: 'IfNotPresent'
replicas: 1
env:
  - name: MODE
    value: blue
flow: {a: 1, b: [x, y]}
anchored: &base v1
copy: *base
notes: |
    first
    second

after: true
"""


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"updates": [{"key": "a", "value": 1}]}, "", "'path' is a required property"),
        ({"path": "v.yaml"}, "", "'updates' is a required property"),
        ({"path": "v.yaml", "updates": []}, "updates", "should be non-empty"),
        ({"path": "", "updates": [{"key": "a", "value": 1}]}, "path", "should be non-empty"),
        ({"path": "v.yaml", "updates": [{"key": "a"}]}, "updates/0", "'value' is a required"),
        ({"path": "v.yaml", "updates": [{"key": "", "value": 1}]}, "updates/0/key", "non-empty"),
        ({"path": "v.yaml", "updates": [{"key": "a", "value": 1, "x": 1}]}, "updates/0", "x"),
        ({"path": "v.yaml", "updates": [{"key": "a", "value": 1}], "y": 1}, "", "'y' was"),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("yaml-update", config)
    assert any(where == path and message in text for where, text in errors), errors


def _run(tmp_path: Path, updates: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
    ctx = make_ctx(tmp_path)
    (ctx.work_dir / "values.yaml").write_text(VALUES)
    config = Config.model_validate({"path": "values.yaml", "updates": updates})
    output = STEP.run(ctx, config)
    return (ctx.work_dir / "values.yaml").read_text(), output


@pytest.mark.parametrize(
    ("key", "value", "old_line", "new_line"),
    [
        ("image.tag", "v0.0.2", '    tag: "v0.0.1"', '    tag: "v0.0.2"'),
        (
            "image.repository",
            "ghcr.io/x/y",
            "    repository: ghcr.io/akuity/guestbook  # where it comes from",
            "    repository: ghcr.io/x/y  # where it comes from",
        ),
        (
            "image.pullPolicy",
            "Always",
            "    pullPolicy: 'IfNotPresent'",
            "    pullPolicy: 'Always'",
        ),
        ("replicas", 3, "replicas: 1", "replicas: 3"),
        ("replicas", "3", "replicas: 1", 'replicas: "3"'),
        ("replicas", "yes", "replicas: 1", 'replicas: "yes"'),
        ("replicas", "a: b", "replicas: 1", 'replicas: "a: b"'),
        ("replicas", None, "replicas: 1", "replicas: null"),
        ("env.0.value", "green", "    value: blue", "    value: green"),
        ("flow.b.1", "p,q", "flow: {a: 1, b: [x, y]}", 'flow: {a: 1, b: [x, "p,q"]}'),
        ("anchored", "v2", "anchored: &base v1", "anchored: &base v2"),
        ("after", False, "after: true", "after: false"),
    ],
)
def test_one_line_changes(
    tmp_path: Path, key: str, value: Any, old_line: str, new_line: str
) -> None:
    text, _ = _run(tmp_path, [{"key": key, "value": value}])
    assert text == VALUES.replace(old_line + "\n", new_line + "\n", 1)


def test_block_scalar_is_replaced_and_following_lines_kept(tmp_path: Path) -> None:
    text, _ = _run(tmp_path, [{"key": "notes", "value": "one\ntwo\n"}])
    assert text == VALUES.replace(
        "notes: |\n    first\n    second\n", "notes: |\n    one\n    two\n"
    )


def test_commit_message_lists_every_update(tmp_path: Path) -> None:
    _, output = _run(
        tmp_path,
        [{"key": "image.tag", "value": "v0.0.2"}, {"key": "replicas", "value": "2"}],
    )
    assert output == {
        "commitMessage": 'Updated values.yaml\n\n- image.tag: v0.0.2\n- replicas: "2"'
    }


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("image.digest", "not found"),
        ("image", "does not address a scalar"),
        ("env.5.value", "not found"),
        ("env.x", "not found"),
        ("copy", "alias"),
        ("image..tag", "empty key part"),
        ("image.tag.x", "inside a scalar"),
    ],
)
def test_bad_keys_fail(tmp_path: Path, key: str, message: str) -> None:
    with pytest.raises(TerminalStepError, match=message) as raised:
        _run(tmp_path, [{"key": key, "value": "v"}])
    assert "values.yaml" in str(raised.value)


def test_missing_file_and_escape_fail(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    with pytest.raises(TerminalStepError, match=r"nope\.yaml"):
        STEP.run(
            ctx, Config.model_validate({"path": "nope.yaml", "updates": [{"key": "a", "value": 1}]})
        )
    with pytest.raises(TerminalStepError, match="leaves"):
        STEP.run(
            ctx, Config.model_validate({"path": "../x.yaml", "updates": [{"key": "a", "value": 1}]})
        )


def test_escaped_dots_address_keys_with_dots(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    (ctx.work_dir / "a.yaml").write_text('annotations:\n  example.com/tag: v1\n  "80": x\n')
    STEP.run(
        ctx,
        Config.model_validate(
            {
                "path": "a.yaml",
                "updates": [
                    {"key": "annotations.example\\.com/tag", "value": "v2"},
                    {"key": "annotations.:80", "value": "y"},
                ],
            }
        ),
    )
    assert (
        ctx.work_dir / "a.yaml"
    ).read_text() == 'annotations:\n  example.com/tag: v2\n  "80": "y"\n'
