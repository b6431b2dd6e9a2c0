"""git-commit in checkouts made by git-clone from a real remote."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.step import Skipped, StepContext
from kargo_dagster.promotion.steps.git import clone as git_clone
from kargo_dagster.promotion.steps.git.commit import STEP, Config
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from tests.promotion.git_support import git, make_ctx, schema_errors, write


@pytest.fixture
def remote(tmp_path: Path) -> GitRemote:
    repo = GitRemote.create(tmp_path / "remotes", "app")
    repo.commit("first", {"README.md": "hello\n", "old.txt": "old\n"})
    return repo


@pytest.fixture
def cloned(tmp_path: Path, remote: GitRemote) -> Iterator[StepContext]:
    with GitHTTPServer(tmp_path / "remotes") as server:
        ctx = make_ctx(tmp_path)
        config = {
            "repoURL": server.url_for(remote),
            "checkout": [{"path": "src"}],
            "author": {"name": "Clone Author", "email": "clone@example.com"},
        }
        git_clone.STEP.run(ctx, git_clone.Config.model_validate(config))
        yield ctx


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"path": "src"}, "", "'message' is a required property"),
        ({"message": "m"}, "", "'path' is a required property"),
        ({"path": "src", "message": ""}, "message", "should be non-empty"),
        ({"path": "", "message": "m"}, "path", "should be non-empty"),
        (
            {"path": "src", "message": "m", "author": {"name": "A"}},
            "author",
            "'email' is a required",
        ),
        ({"path": "src", "message": "m", "amend": True}, "", "Additional properties"),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("git-commit", config)
    assert any(where == path and message in text for where, text in errors), errors


def test_commits_every_change_as_the_clone_author(cloned: StepContext, remote: GitRemote) -> None:
    work = cloned.work_dir / "src"
    write(work / "new/file.yaml", "a: 1\n")
    write(work / "README.md", "changed\n")
    (work / "old.txt").unlink()
    output = STEP.run(cloned, Config(path="src", message="Update things\n\nBody"))
    assert output == {"commit": git(work, "rev-parse", "HEAD")}
    assert git(work, "log", "-1", "--format=%an <%ae>|%cn <%ce>|%B") == (
        "Clone Author <clone@example.com>|Clone Author <clone@example.com>|Update things\n\nBody"
    )
    assert git(work, "show", "--name-status", "--format=", "HEAD").splitlines() == [
        "M\tREADME.md",
        "A\tnew/file.yaml",
        "D\told.txt",
    ]
    assert git(work, "status", "--porcelain") == ""
    assert remote.rev("main") != output["commit"]  # committing does not push


def test_nothing_to_commit_is_skipped_and_outputs_head(
    cloned: StepContext, remote: GitRemote
) -> None:
    output = STEP.run(cloned, Config(path="src", message="nothing"))
    assert isinstance(output, Skipped)
    assert output.reason == "nothing to commit in src"
    assert output == {"commit": remote.rev("main")}
    assert git(cloned.work_dir / "src", "rev-list", "--count", "HEAD") == "1"


def test_deprecated_author_overrides_and_environment_is_ignored(
    cloned: StepContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Shell User")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "shell@example.com")
    work = cloned.work_dir / "src"
    write(work / "a.txt", "a\n")
    config = Config.model_validate(
        {"path": "src", "message": "m", "author": {"name": "Old Style", "email": "old@example.com"}}
    )
    STEP.run(cloned, config)
    assert git(work, "log", "-1", "--format=%an <%ae>|%cn <%ce>") == (
        "Old Style <old@example.com>|Old Style <old@example.com>"
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"path": "missing", "message": "m"}, "'missing' is not a directory"),
        ({"path": "plain", "message": "m"}, "'plain' is not the top of a git work tree"),
        (
            {
                "path": "src",
                "message": "m",
                "author": {"name": "A", "email": "a@b.c", "signingKey": "KEY"},
            },
            "signing is not supported",
        ),
    ],
)
def test_terminal_problems(cloned: StepContext, config: dict[str, Any], message: str) -> None:
    (cloned.work_dir / "plain").mkdir()
    with pytest.raises(TerminalStepError, match=message):
        STEP.run(cloned, Config.model_validate(config))


def test_reports_the_files_and_patch_it_committed(cloned: StepContext) -> None:
    reported: dict[str, Any] = {}
    cloned.report = reported.__setitem__
    work = cloned.work_dir / "src"
    write(work / "README.md", "hello\nworld\n")
    (work / "old.txt").unlink()
    (work / "logo.bin").write_bytes(b"\x00\x01\x02")
    output = STEP.run(cloned, Config(path="src", message="m"))
    changes = reported["changes"]
    assert changes["commit"] == output["commit"]
    assert changes["files"] == [
        {"path": "README.md", "added": 1, "deleted": 0},
        {"path": "logo.bin", "added": None, "deleted": None},
        {"path": "old.txt", "added": 0, "deleted": 1},
    ]
    assert "+world\n" in changes["patch"]
    assert "-old\n" in changes["patch"]
    assert changes["truncated"] is False
