"""git-clear in a checkout made by git-clone from a real remote."""

from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.steps.git import clone as git_clone
from kargo_dagster.promotion.steps.git import commit as git_commit
from kargo_dagster.promotion.steps.git.clear import STEP, Config
from kargo_dagster.testing.git_remote import GitRemote
from tests.promotion.git_support import git, make_ctx, schema_errors, write


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({}, "", "'path' is a required property"),
        ({"path": ""}, "path", "should be non-empty"),
        ({"path": 3}, "path", "is not of type 'string'"),
        ({"path": "a", "keep": ["x"]}, "", "Additional properties"),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("git-clear", config)
    assert any(where == path and message in text for where, text in errors), errors


def test_clears_everything_but_git(tmp_path: Path) -> None:
    remote = GitRemote.create(tmp_path / "remotes", "app")
    remote.commit("first", {"a.txt": "a\n", "dir/b.txt": "b\n", ".gitignore": "*.log\n"})
    ctx = make_ctx(tmp_path)
    # file:// remotes work as well as HTTP ones (the schema only asks for a non-empty URL).
    clone = git_clone.Config.model_validate({"repoURL": remote.url, "checkout": [{"path": "out"}]})
    git_clone.STEP.run(ctx, clone)
    work = ctx.work_dir / "out"
    write(work / "untracked.txt", "u\n")
    write(work / "debug.log", "ignored\n")
    assert STEP.run(ctx, Config(path="out")) == {}
    assert [p.name for p in work.iterdir()] == [".git"]
    commit = git_commit.STEP.run(ctx, git_commit.Config(path="out", message="clear"))
    assert git(work, "ls-tree", "-r", "--name-only", commit["commit"]) == ""


def test_refuses_a_directory_that_is_not_a_work_tree(tmp_path: Path) -> None:
    ctx = make_ctx(tmp_path)
    (ctx.work_dir / "out").mkdir()
    write(ctx.work_dir / "out" / "precious.txt", "keep\n")
    with pytest.raises(TerminalStepError, match="not the top of a git work tree"):
        STEP.run(ctx, Config(path="out"))
    assert (ctx.work_dir / "out" / "precious.txt").exists()
