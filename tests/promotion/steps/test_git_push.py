"""git-push from checkouts made by git-clone to real remotes served over smart HTTP."""

import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from kargo_dagster.credentials import CredentialRule, Credentials, StaticCredentialStore
from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.step import StepContext
from kargo_dagster.promotion.steps.git import clone as git_clone
from kargo_dagster.promotion.steps.git import commit as git_commit
from kargo_dagster.promotion.steps.git import tag as git_tag
from kargo_dagster.promotion.steps.git.commit_url import commit_url
from kargo_dagster.promotion.steps.git.push import STEP, Config, GitPush
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from tests.promotion.git_support import PROMOTION_NAME, git, make_ctx, schema_errors, write

PASSWORD = "push-s3cret-0a1b2c"
USERNAME = "pusher"


@pytest.fixture
def remote(tmp_path: Path) -> GitRemote:
    repo = GitRemote.create(tmp_path / "remotes", "app")
    repo.commit("first", {"README.md": "hello\n", "values.yaml": "tag: v1\n"})
    return repo


@pytest.fixture
def server(tmp_path: Path, remote: GitRemote) -> Iterator[GitHTTPServer]:
    with GitHTTPServer(tmp_path / "remotes") as running:
        yield running


def _clone(ctx: StepContext, url: str, checkout: dict[str, Any] | None = None) -> Path:
    config = {"repoURL": url, "checkout": [checkout or {"path": "src"}]}
    git_clone.STEP.run(ctx, git_clone.Config.model_validate(config))
    return ctx.work_dir / (checkout or {"path": "src"})["path"]


def _change(ctx: StepContext, work: Path, files: dict[str, str], message: str) -> str:
    for name, content in files.items():
        write(work / name, content)
    relative = str(work.relative_to(ctx.work_dir))
    return git_commit.STEP.run(ctx, git_commit.Config(path=relative, message=message))["commit"]


def _hook(remote: GitRemote, body: str) -> None:
    hook = remote.git_dir / "hooks" / "pre-receive"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\n" + body)
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)


FAST = GitPush(retry_delay=0.01)


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({}, "", "'path' is a required property"),
        ({"path": ""}, "path", "should be non-empty"),
        ({"path": "s", "targetBranch": "b", "tag": "t"}, "", "is not valid under any"),
        ({"path": "s", "generateTargetBranch": True, "targetBranch": "b"}, "", "is not valid"),
        ({"path": "s", "tag": "t", "force": True}, "", "is not valid under any"),
        ({"path": "s", "maxAttempts": 0}, "maxAttempts", "is less than the minimum of 1"),
        ({"path": "s", "provider": "sourcehut"}, "provider", "is not one of"),
        ({"path": "s", "remote": "upstream"}, "", "Additional properties"),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("git-push", config)
    assert any(where == path and message in text for where, text in errors), errors


@pytest.mark.parametrize(
    ("url", "provider", "expected"),
    [
        ("https://github.com/Acme/App.git", None, "https://github.com/acme/app/commit/abc"),
        ("https://x:tok@github.com/acme/app", None, "https://github.com/acme/app/commit/abc"),
        ("https://acme.ghe.com/acme/app", None, "https://acme.ghe.com/acme/app/commit/abc"),
        ("https://github.com/acme/group/app", None, None),
        ("https://gitlab.com/g/s/app.git", None, "https://gitlab.com/g/s/app/-/commit/abc"),
        ("https://gitea.example.com/o/app", None, "https://gitea.example.com/o/app/commit/abc"),
        ("https://bitbucket.org/o/app", None, "https://bitbucket.org/o/app/commits/abc"),
        ("https://dev.azure.com/org/p/_git/app", None, None),
        ("https://git.example.com/o/app", None, None),
        ("https://git.example.com/o/app", "gitlab", "https://git.example.com/o/app/-/commit/abc"),
        ("http://127.0.0.1:8080/app.git", None, None),
    ],
)
def test_commit_urls_follow_kargo_providers(url: str, provider: str | None, expected: str) -> None:
    assert commit_url(url, "abc", provider) == expected


def test_pushes_the_checked_out_branch(
    tmp_path: Path, remote: GitRemote, server: GitHTTPServer
) -> None:
    ctx = make_ctx(tmp_path)
    work = _clone(ctx, server.url_for(remote))
    commit = _change(ctx, work, {"values.yaml": "tag: v2\n"}, "bump")
    output = STEP.run(ctx, Config(path="src"))
    assert output == {"commit": commit, "branch": "main"}  # no provider for 127.0.0.1
    assert remote.rev("main") == commit


def test_pushes_to_target_and_generated_branches(
    tmp_path: Path, remote: GitRemote, server: GitHTTPServer
) -> None:
    ctx = make_ctx(tmp_path)
    work = _clone(ctx, server.url_for(remote))
    commit = _change(ctx, work, {"values.yaml": "tag: v2\n"}, "bump")
    base = remote.rev("main")
    assert STEP.run(ctx, Config(path="src", target_branch="stage/dev"))["branch"] == "stage/dev"
    generated = f"kargo/promotion/{PROMOTION_NAME}"
    # An earlier try of the same promotion left the branch behind: it is overwritten.
    remote.commit("stale", {"x": "y"}, branch=generated)
    output = STEP.run(ctx, Config(path="src", generate_target_branch=True))
    assert output == {"commit": commit, "branch": generated}
    assert remote.branches() == {"main": base, "stage/dev": commit, generated: commit}


def test_pushes_a_tag(tmp_path: Path, remote: GitRemote, server: GitHTTPServer) -> None:
    ctx = make_ctx(tmp_path)
    work = _clone(ctx, server.url_for(remote))
    commit = _change(ctx, work, {"values.yaml": "tag: v2\n"}, "bump")
    git_tag.STEP.run(ctx, git_tag.Config(path="src", tag="v2.0.0", message="two"))
    output = STEP.run(ctx, Config(path="src", tag="v2.0.0"))
    assert output == {"commit": commit, "branch": "main"}
    assert remote.rev("v2.0.0") == commit
    assert remote.rev("main") != commit  # only the tag went


def test_remote_moved_since_clone_is_rebased_onto(
    tmp_path: Path, remote: GitRemote, server: GitHTTPServer
) -> None:
    ctx = make_ctx(tmp_path)
    work = _clone(ctx, server.url_for(remote))
    _change(ctx, work, {"values.yaml": "tag: v2\n"}, "ours")
    theirs = remote.commit("theirs", {"README.md": "concurrent\n"})
    output = STEP.run(ctx, Config(path="src"))
    assert remote.rev("main") == output["commit"]
    assert remote.git("log", "--format=%s %P", "main").splitlines() == [
        f"ours {theirs}",
        f"theirs {remote.rev('main~2')}",
        "first",
    ]
    assert remote.git("show", "main:README.md") == "concurrent"
    assert remote.git("show", "main:values.yaml") == "tag: v2"


def test_conflicting_remote_change_is_terminal_and_names_the_file(
    tmp_path: Path, remote: GitRemote, server: GitHTTPServer
) -> None:
    ctx = make_ctx(tmp_path)
    work = _clone(ctx, server.url_for(remote))
    ours = _change(ctx, work, {"values.yaml": "tag: v2\n"}, "ours")
    theirs = remote.commit("theirs", {"values.yaml": "tag: v3\n"})
    with pytest.raises(TerminalStepError, match=r"conflicts in values\.yaml"):
        STEP.run(ctx, Config(path="src"))
    assert remote.rev("main") == theirs
    assert git(work, "rev-parse", "HEAD") == ours  # the rebase was abandoned
    assert git(work, "status", "--porcelain") == ""


def test_push_retried_when_the_branch_moves_during_the_push(
    tmp_path: Path, remote: GitRemote, server: GitHTTPServer
) -> None:
    ctx = make_ctx(tmp_path)
    work = _clone(ctx, server.url_for(remote))
    _change(ctx, work, {"values.yaml": "tag: v2\n"}, "ours")
    # A commit that lands on main while our push is being received, exactly once.
    racer = remote.commit(
        "racer", {"README.md": "raced\n"}, branch="racer", parents=[remote.rev("main")]
    )
    marker = tmp_path / "raced-once"
    _hook(
        remote,
        f'[ -e "{marker}" ] && exit 0\ntouch "{marker}"\n'
        f"env -u GIT_QUARANTINE_PATH git update-ref refs/heads/main {racer}\n",
    )
    sleeps: list[float] = []
    output = GitPush(retry_delay=0.01, sleep=sleeps.append).run(ctx, Config(path="src"))
    # The first rejection is the first attempt's own: it integrates and pushes at once.
    assert sleeps == []
    assert remote.git("log", "--format=%s", "main").splitlines() == ["ours", "racer", "first"]
    assert remote.rev("main") == output["commit"]


def test_gives_up_after_max_attempts(
    tmp_path: Path, remote: GitRemote, server: GitHTTPServer
) -> None:
    ctx = make_ctx(tmp_path)
    work = _clone(ctx, server.url_for(remote))
    _change(ctx, work, {"values.yaml": "tag: v2\n"}, "ours")
    # Every push finds main moved by someone else.
    _hook(
        remote,
        "tip=$(git rev-parse refs/heads/main)\n"
        "tree=$(git rev-parse $tip^{tree})\n"
        "new=$(echo race | GIT_AUTHOR_NAME=r GIT_AUTHOR_EMAIL=r@x GIT_COMMITTER_NAME=r "
        "GIT_COMMITTER_EMAIL=r@x env -u GIT_QUARANTINE_PATH git commit-tree $tree -p $tip)\n"
        "env -u GIT_QUARANTINE_PATH git update-ref refs/heads/main $new\n",
    )
    with pytest.raises(RetryableStepError, match=r"rejected 2 time\(s\) because the branch kept"):
        FAST.run(ctx, Config(path="src", max_attempts=2))


def test_rejected_push_reports_the_remote_reason(
    tmp_path: Path, remote: GitRemote, server: GitHTTPServer
) -> None:
    ctx = make_ctx(tmp_path)
    work = _clone(ctx, server.url_for(remote))
    _change(ctx, work, {"values.yaml": "tag: v2\n"}, "ours")
    _hook(remote, 'echo "branch main is protected" >&2\nexit 1\n')
    with pytest.raises(RetryableStepError) as caught:
        FAST.run(ctx, Config(path="src"))
    message = str(caught.value)
    assert "pushing branch 'main' to git repository" in message
    assert "branch main is protected" in message


def test_detached_head_needs_a_target(
    tmp_path: Path, remote: GitRemote, server: GitHTTPServer
) -> None:
    ctx = make_ctx(tmp_path)
    _clone(ctx, server.url_for(remote), {"path": "src", "commit": remote.rev("main")})
    with pytest.raises(TerminalStepError, match="detached HEAD"):
        STEP.run(ctx, Config(path="src"))
    assert STEP.run(ctx, Config(path="src", target_branch="pinned"))["branch"] == "pinned"


def test_credentials_are_sent_but_never_stored_or_shown(tmp_path: Path, remote: GitRemote) -> None:
    with GitHTTPServer(tmp_path / "remotes", username=USERNAME, password=PASSWORD) as server:
        url = server.url_for(remote)
        store = StaticCredentialStore(
            (CredentialRule("git", url, Credentials(USERNAME, SecretStr(PASSWORD))),)
        )
        ctx = make_ctx(tmp_path, credentials=store)
        work = _clone(ctx, url)
        commit = _change(ctx, work, {"values.yaml": "tag: v2\n"}, "ours")
        remote.commit("theirs", {"README.md": "moved\n"})  # forces an authenticated fetch too
        output = STEP.run(ctx, Config(path="src"))
        assert remote.rev("main") == output["commit"] != commit
        assert PASSWORD not in (work / ".git" / "config").read_text()

        _change(ctx, work, {"values.yaml": "tag: v3\n"}, "again")
        wrong = StaticCredentialStore(
            (CredentialRule("git", url, Credentials(USERNAME, SecretStr(PASSWORD + "-x"))),)
        )
        ctx_wrong = make_ctx(tmp_path, credentials=wrong)
        with pytest.raises(RetryableStepError) as caught:
            FAST.run(ctx_wrong, Config(path="src"))
        assert "authentication failed" in str(caught.value)
        assert PASSWORD not in str(caught.value)
