"""The cached clones behind git-clone, shared by concurrent promotions."""

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from kargo_dagster.credentials import NO_CREDENTIALS
from kargo_dagster.promotion.steps.git import clone as git_clone
from kargo_dagster.promotion.steps.git import commit as git_commit
from kargo_dagster.promotion.steps.git import push as git_push
from kargo_dagster.promotion.steps.git.workspace import CheckoutRequest, CloneOptions, GitWorkspace
from kargo_dagster.promotion.steps.git.worktree import DEFAULT_AUTHOR, WorkTree
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


# A cache shared by pods on several machines (a ReadWriteMany volume) ----------------------


def test_a_cache_whose_record_ran_ahead_of_its_objects_fetches_again(
    tmp_path: Path, remote: GitRemote
) -> None:
    # Another machine recorded the remote's new state while its objects never reached this
    # cache (its write was lost): the checkout still gets the remote's newest commit.
    workspace = GitWorkspace(tmp_path / "cache", NO_CREDENTIALS)
    options = CloneOptions(repo_url=remote.url, identity=DEFAULT_AUTHOR)
    workspace.check_out(options, [CheckoutRequest(path=tmp_path / "w1" / "src", shown_as="src")])
    newer = remote.commit("second", {"dev/values.yaml": "c\n"})
    state_file = workspace.mirrors.path_for(remote.url) / "state.json"
    state = json.loads(state_file.read_text())
    state["remote"]["refs"]["refs/heads/main"] = newer
    state["remote"]["headId"] = newer
    state_file.write_text(json.dumps(state))
    target = tmp_path / "w2" / "src"
    [head] = workspace.check_out(options, [CheckoutRequest(path=target, shown_as="src")])
    assert head == newer
    assert (target / "dev" / "values.yaml").read_text() == "c\n"


def test_lock_files_left_by_a_killed_fetch_do_not_block_the_cache(
    tmp_path: Path, remote: GitRemote
) -> None:
    # A pod evicted mid-fetch leaves git's lock files in the shared cache; once they are
    # older than any git command may run, they are cleared and the next fetch goes through.
    workspace = GitWorkspace(tmp_path / "cache", NO_CREDENTIALS, timeout=60)
    options = CloneOptions(repo_url=remote.url, identity=DEFAULT_AUTHOR)
    workspace.check_out(options, [CheckoutRequest(path=tmp_path / "w1" / "src", shown_as="src")])
    git_dir = workspace.mirrors.path_for(remote.url) / "repo.git"
    abandoned = [git_dir / "refs" / "heads" / "main.lock", git_dir / "packed-refs.lock"]
    for lock in abandoned:
        lock.write_text("")
        os.utime(lock, (time.time() - 3600, time.time() - 3600))
    newer = remote.commit("second", {"dev/values.yaml": "c\n"})
    [head] = workspace.check_out(
        options, [CheckoutRequest(path=tmp_path / "w2" / "src", shown_as="src")]
    )
    assert head == newer
    assert not any(lock.exists() for lock in abandoned)
