"""delete: literal paths and globs, strict mode, symlinks removed not followed."""

import os
from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.step import StepContext
from kargo_dagster.promotion.steps.delete import STEP, Config
from tests.promotion.git_support import make_ctx, schema_errors


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({}, "", "is not valid under any of the given schemas"),
        ({"path": "a", "paths": ["b"]}, "", "is valid under each of"),
        ({"paths": []}, "paths", "should be non-empty"),
        ({"paths": [""]}, "paths/0", "should be non-empty"),
        ({"path": "a", "strict": "yes"}, "strict", "'boolean'"),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("delete", config)
    assert any(where == path and message in text for where, text in errors), errors


@pytest.fixture
def ctx(tmp_path: Path) -> StepContext:
    ctx = make_ctx(tmp_path)
    for name in ("a/one.yaml", "a/two.yaml", "a/keep.txt", "b/.hidden.yaml", "c.yaml"):
        path = ctx.work_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "precious").write_text("x")
    os.symlink(tmp_path / "outside", ctx.work_dir / "link")
    return ctx


def _left(ctx: StepContext) -> list[str]:
    return sorted(
        p.relative_to(ctx.work_dir).as_posix()
        for p in ctx.work_dir.rglob("*")
        if p.is_file() or p.is_symlink()
    )


def test_literal_paths(ctx: StepContext) -> None:
    STEP.run(ctx, Config.model_validate({"paths": ["a", "c.yaml", "missing"]}))
    assert _left(ctx) == ["b/.hidden.yaml", "link"]


def test_globs(ctx: StepContext) -> None:
    STEP.run(ctx, Config.model_validate({"path": "./**/*.yaml", "pathsAreGlobs": True}))
    assert _left(ctx) == ["a/keep.txt", "link"]


def test_symlink_is_removed_not_followed(ctx: StepContext, tmp_path: Path) -> None:
    STEP.run(ctx, Config.model_validate({"path": "link"}))
    assert not os.path.lexists(ctx.work_dir / "link")
    assert (tmp_path / "outside" / "precious").exists()


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"path": "missing", "strict": True}, "does not exist"),
        ({"path": "*.txt", "pathsAreGlobs": True, "strict": True}, "no paths matched"),
        ({"path": "../outside"}, "leaves"),
        ({"path": "link/precious"}, "leaves"),
    ],
)
def test_refusals(ctx: StepContext, config: dict[str, Any], message: str) -> None:
    with pytest.raises(TerminalStepError, match=message):
        STEP.run(ctx, Config.model_validate(config))
