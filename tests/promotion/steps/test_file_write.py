"""file-write: writes relative files with safe modes."""

import os
from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.steps.file_write import STEP, Config
from tests.promotion.git_support import make_ctx, schema_errors


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"contents": "x"}, "", "'path' is a required property"),
        ({"path": "a"}, "", "'contents' is a required property"),
        ({"path": "a", "contents": "x", "permissions": "644"}, "permissions", "does not match"),
        ({"path": "a", "contents": "x", "permissions": "0800"}, "permissions", "does not match"),
        ({"path": "a", "contents": "x", "overwrite": "yes"}, "overwrite", "'boolean'"),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("file-write", config)
    assert any(where == path and message in text for where, text in errors), errors


def test_writes_with_default_and_given_modes(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    STEP.run(ctx, Config.model_validate({"path": "a/b.txt", "contents": "hi\n"}))
    written = ctx.work_dir / "a" / "b.txt"
    assert written.read_text() == "hi\n"
    assert written.stat().st_mode & 0o777 == 0o600
    STEP.run(
        ctx,
        Config.model_validate(
            {"path": "a/b.txt", "contents": "bye", "permissions": "0644", "overwrite": True}
        ),
    )
    assert written.read_text() == "bye"
    assert written.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"path": "/etc/x", "contents": ""}, "must be relative"),
        ({"path": "../x", "contents": ""}, "outside the working directory"),
        ({"path": ".git/config", "contents": ""}, ".git directory is forbidden"),
        ({"path": "x", "contents": "", "permissions": "0755"}, "executable"),
        ({"path": "x", "contents": "", "permissions": "0666"}, "world-writable"),
        ({"path": "existing", "contents": ""}, "already exists"),
        ({"path": "link/x", "contents": ""}, "symlinks are forbidden"),
    ],
)
def test_refusals(tmp_path: Path, config: dict[str, Any], message: str) -> None:
    ctx = make_ctx(tmp_path)
    (ctx.work_dir / "existing").write_text("keep")
    (ctx.work_dir / "real").mkdir()
    os.symlink(ctx.work_dir / "real", ctx.work_dir / "link")
    with pytest.raises(TerminalStepError, match=message):
        STEP.run(ctx, Config.model_validate(config))
    assert (ctx.work_dir / "existing").read_text() == "keep"
