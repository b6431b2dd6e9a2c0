"""The cached clones behind git-clone, shared by concurrent promotions."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kargo_dagster.credentials import NO_CREDENTIALS
from kargo_dagster.promotion.git_workspace import CheckoutRequest, CloneOptions, GitWorkspace
from kargo_dagster.promotion.git_worktree import DEFAULT_AUTHOR, WorkTree
from kargo_dagster.promotion.steps import git_clone, git_commit, git_push
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from tests.promotion.git_support import git, make_ctx, write


@pytest.fixture
def remote(tmp_path: Path) -> GitRemote:
    repo = GitRemote.create(tmp_path / "remotes", "app")
    repo.commit(
        "first", {"README.md": "hello\n", "dev/values.yaml": "a\n", "prod/values.yaml": "b\n"}
    )
    return repo


def test_concurrent_promotions_share_one_cache_and_push_in_turn(
    tmp_path: Path, remote: GitRemote
) -> None:
    with GitHTTPServer(tmp_path / "remotes") as server:
        url = server.url_for(remote)

        def promote(stage: str) -> str:
            ctx = make_ctx(tmp_path, work=f"work-{stage}")
            config = {"repoURL": url, "checkout": [{"path": "src"}]}
            git_clone.STEP.run(ctx, git_clone.Config.model_validate(config))
            write(ctx.work_dir / "src" / stage / "values.yaml", f"promoted {stage}\n")
            git_commit.STEP.run(ctx, git_commit.Config(path="src", message=f"promote {stage}"))
            pusher = git_push.GitPush(retry_delay=0.01)
            return pusher.run(ctx, git_push.Config(path="src"))["commit"]

        with ThreadPoolExecutor(max_workers=2) as pool:
            commits = list(pool.map(promote, ["dev", "prod"]))
    assert remote.rev("main") in commits
    subjects = remote.git("log", "--format=%s", "main").splitlines()
    assert sorted(subjects[:2]) == ["promote dev", "promote prod"]
    assert subjects[2:] == ["first"]
    assert remote.git("rev-list", "--merges", "--count", "main") == "0"  # linear
    assert len([p for p in (tmp_path / "cache").iterdir() if p.is_dir()]) == 2  # repo + locks


def test_user_git_configuration_does_not_leak_in(
    tmp_path: Path, remote: GitRemote, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    write(
        home / ".gitconfig",
        "[user]\n\tname = Someone Else\n[commit]\n\tgpgSign = true\n[tag]\n\tgpgSign = true\n",
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("GIT_CONFIG_GLOBAL", raising=False)
    workspace = GitWorkspace(tmp_path / "cache", NO_CREDENTIALS)
    target = tmp_path / "work" / "src"
    [head] = workspace.check_out(
        CloneOptions(repo_url=remote.url, identity=DEFAULT_AUTHOR),
        [CheckoutRequest(path=target, shown_as="src")],
    )
    assert head == remote.rev("main")
    tree = WorkTree.load(target, NO_CREDENTIALS, shown_as="src")
    write(target / "new.txt", "x\n")
    tree.stage_all()
    tree.commit("unsigned")  # would fail asking gpg to sign if ~/.gitconfig applied
    assert git(target, "log", "-1", "--format=%an|%G?") == "Kargo|N"


def test_checkouts_leave_no_trace_in_the_cache(tmp_path: Path, remote: GitRemote) -> None:
    workspace = GitWorkspace(tmp_path / "cache", NO_CREDENTIALS)
    options = CloneOptions(repo_url=remote.url, identity=DEFAULT_AUTHOR)
    request = CheckoutRequest(path=tmp_path / "w1" / "src", shown_as="src", branch="main")
    workspace.check_out(options, [request])
    [mirror] = [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]
    # No work tree registrations or local branches for promotions accumulate in the cache.
    assert not (mirror / "repo.git" / "worktrees").exists()
    assert git(mirror / "repo.git", "for-each-ref", "--format=%(refname)") == "refs/heads/main"
