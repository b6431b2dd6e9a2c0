"""git-tag in a checkout made by git-clone from a real remote."""

from pathlib import Path
from typing import Any

import pytest

from kargo_dagster.errors import RetryableStepError
from kargo_dagster.promotion.step import StepContext
from kargo_dagster.promotion.steps.git import clone as git_clone
from kargo_dagster.promotion.steps.git.tag import STEP, Config
from kargo_dagster.testing.git_remote import GitRemote
from tests.promotion.git_support import git, make_ctx, schema_errors


@pytest.fixture
def cloned(tmp_path: Path) -> StepContext:
    remote = GitRemote.create(tmp_path / "remotes", "app")
    remote.commit("first", {"a.txt": "a\n"})
    ctx = make_ctx(tmp_path)
    config = {
        "repoURL": remote.url,
        "checkout": [{"path": "src"}],
        "author": {"name": "Tagger", "email": "tagger@example.com"},
    }
    git_clone.STEP.run(ctx, git_clone.Config.model_validate(config))
    return ctx


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({"path": "src", "tag": "v1"}, "", "'message' is a required property"),
        ({"path": "src", "message": "m"}, "", "'tag' is a required property"),
        ({"path": "src", "tag": "", "message": "m"}, "tag", "should be non-empty"),
        ({"path": "src", "tag": "v1", "message": "m", "force": "yes"}, "force", "'boolean'"),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("git-tag", config)
    assert any(where == path and message in text for where, text in errors), errors


def test_unknown_keys_are_allowed_as_in_kargo() -> None:
    config = {"path": "src", "tag": "v1", "message": "m", "note": "extra"}
    assert schema_errors("git-tag", config) == []
    assert Config.model_validate(config).tag == "v1"


def test_creates_an_annotated_tag_at_head(cloned: StepContext) -> None:
    work = cloned.work_dir / "src"
    output = STEP.run(cloned, Config(path="src", tag="v1.0.0", message="Release 1.0.0"))
    assert output == {"commit": git(work, "rev-parse", "HEAD")}
    assert git(work, "cat-file", "-t", "refs/tags/v1.0.0") == "tag"
    assert git(
        work, "tag", "-l", "--format=%(taggername) %(taggeremail)|%(contents)", "v1.0.0"
    ) == ("Tagger <tagger@example.com>|Release 1.0.0")


def test_existing_tag_needs_force(cloned: StepContext) -> None:
    STEP.run(cloned, Config(path="src", tag="v1", message="one"))
    with pytest.raises(RetryableStepError, match=r"creating tag 'v1' .*already exists"):
        STEP.run(cloned, Config(path="src", tag="v1", message="two"))
    STEP.run(cloned, Config(path="src", tag="v1", message="two", force=True))
    work = cloned.work_dir / "src"
    assert git(work, "tag", "-l", "--format=%(contents)", "v1") == "two"
