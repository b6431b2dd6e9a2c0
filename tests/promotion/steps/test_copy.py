"""copy: files and directories, gitignore-style ignores, symlinks skipped."""

import os
from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.step import StepContext
from kargo_dagster.promotion.steps.copy_files import STEP, Config
from tests.promotion.git_support import make_ctx, schema_errors


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"outPath": "b"}, "", "'inPath' is a required property"),
        ({"inPath": "a"}, "", "'outPath' is a required property"),
        ({"inPath": "a", "outPath": ""}, "outPath", "should be non-empty"),
        ({"inPath": "a", "outPath": "b", "ignore": ""}, "ignore", "should be non-empty"),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("copy", config)
    assert any(where == path and message in text for where, text in errors), errors


@pytest.fixture
def ctx(tmp_path: Path) -> StepContext:
    ctx = make_ctx(tmp_path)
    files = [
        "src/app.yaml",
        "src/tmp/x.log",
        "src/deep/b.log",
        "src/deep/keep.log",
        "src/.git/HEAD",
    ]
    for name in files:
        path = ctx.work_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
    (ctx.work_dir / "src" / "run.sh").write_text("#!/bin/sh\n")
    (ctx.work_dir / "src" / "run.sh").chmod(0o755)
    os.symlink("app.yaml", ctx.work_dir / "src" / "alias.yaml")
    return ctx


def _tree(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if not p.is_dir())


def test_directory_copy_with_ignores(ctx: StepContext) -> None:
    STEP.run(
        ctx,
        Config.model_validate(
            {"inPath": "src", "outPath": "out", "ignore": "# logs\n*.log\n!keep.log\n/tmp/\n"}
        ),
    )
    out = ctx.work_dir / "out"
    assert _tree(out) == ["app.yaml", "deep/keep.log", "run.sh"]
    assert (out / "run.sh").stat().st_mode & 0o777 == 0o755


def test_directory_copy_merges_into_existing_output(ctx: StepContext) -> None:
    (ctx.work_dir / "out").mkdir()
    (ctx.work_dir / "out" / "old.txt").write_text("old")
    (ctx.work_dir / "out" / "app.yaml").write_text("stale")
    STEP.run(ctx, Config.model_validate({"inPath": "src/deep", "outPath": "out"}))
    assert _tree(ctx.work_dir / "out") == ["app.yaml", "b.log", "keep.log", "old.txt"]


def test_file_copy(ctx: StepContext) -> None:
    STEP.run(ctx, Config.model_validate({"inPath": "src/app.yaml", "outPath": "x/y/app.yaml"}))
    assert (ctx.work_dir / "x/y/app.yaml").read_text() == "src/app.yaml"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"inPath": "nope", "outPath": "x"}, "does not exist"),
        ({"inPath": "src", "outPath": "../x"}, "leaves"),
    ],
)
def test_refusals(ctx: StepContext, config: dict[str, Any], message: str) -> None:
    with pytest.raises(TerminalStepError, match=message):
        STEP.run(ctx, Config.model_validate(config))
