"""Commits and tags signed with git-clone's author.signingKey, verified by real gpg and git.

The keys are made here with gpg; the remote is a real repository served over HTTP.
"""

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.step import StepContext
from kargo_dagster.promotion.steps.git import clone as git_clone
from kargo_dagster.promotion.steps.git import commit as git_commit
from kargo_dagster.promotion.steps.git import push as git_push
from kargo_dagster.promotion.steps.git import tag as git_tag
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote, git_environment
from tests.promotion.git_support import git, make_ctx, write


def _stop_agent(home: Path) -> None:
    environment = {**os.environ, "GNUPGHOME": str(home)}
    subprocess.run(["gpgconf", "--kill", "all"], env=environment, check=False)


def _gpg(home: Path, *args: str, given: str | None = None) -> str:
    done = subprocess.run(
        ["gpg", "--batch", "--no-tty", *args],
        input=given,
        env={**os.environ, "GNUPGHOME": str(home)},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """An armored private key without a passphrase, one with, and the first's public key."""
    home = tmp_path_factory.mktemp("gpg")
    home.chmod(0o700)
    made = {}
    for name, passphrase in (("plain", ""), ("locked", "secret words")):
        uid = f"{name} bot <{name}@example.com>"
        _gpg(home, "--pinentry-mode", "loopback", "--passphrase", passphrase,
             "--quick-gen-key", uid, "ed25519", "sign", "never")  # fmt: skip
        made[name] = _gpg(home, "--pinentry-mode", "loopback", "--passphrase", passphrase,
                          "--armor", "--export-secret-keys", uid)  # fmt: skip
    made["public"] = _gpg(home, "--armor", "--export", "plain bot <plain@example.com>")
    yield made
    _stop_agent(home)


@pytest.fixture
def remote(tmp_path: Path) -> GitRemote:
    repo = GitRemote.create(tmp_path / "remotes", "app")
    repo.commit("first", {"README.md": "hello\n"})
    return repo


@pytest.fixture
def deferred() -> Iterator[list[Callable[[], None]]]:
    callbacks: list[Callable[[], None]] = []
    yield callbacks
    for callback in callbacks:
        callback()


def _ctx(tmp_path: Path, deferred: list[Callable[[], None]], work: str = "work") -> StepContext:
    ctx = make_ctx(tmp_path, work=work)
    return StepContext(**{**vars(ctx), "defer": deferred.append})


def _clone(ctx: StepContext, url: str, key: str | None) -> None:
    author = {"name": "Signer", "email": "plain@example.com"}
    if key is not None:
        author["signingKey"] = key
    config = {"repoURL": url, "checkout": [{"branch": "main", "path": "src"}], "author": author}
    git_clone.STEP.run(ctx, git_clone.Config.model_validate(config))


def _verifies(remote: GitRemote, public: str, tmp_path: Path, *what: str) -> str:
    home = tmp_path / "verify"
    home.mkdir(mode=0o700, exist_ok=True)
    _gpg(home, "--import", given=public)
    env = git_environment(GNUPGHOME=str(home))
    done = subprocess.run(
        ["git", "--git-dir", str(remote.git_dir), *what],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    _stop_agent(home)
    return "verified" if done.returncode == 0 else done.stderr


def test_commits_and_tags_are_signed_and_verify_against_the_public_key(
    tmp_path: Path, remote: GitRemote, keys: dict[str, str], deferred: list[Callable[[], None]]
) -> None:
    with GitHTTPServer(tmp_path / "remotes") as server:
        ctx = _ctx(tmp_path, deferred)
        _clone(ctx, server.url_for(remote), keys["plain"])
        write(ctx.work_dir / "src" / "app.yaml", "image: v2\n")
        commit = git_commit.STEP.run(ctx, git_commit.Config(path="src", message="Promote v2"))
        git_tag.STEP.run(
            ctx,
            git_tag.Config.model_validate({"path": "src", "tag": "v2", "message": "Release v2"}),
        )
        git_push.STEP.run(ctx, git_push.Config.model_validate({"path": "src"}))
        git_push.STEP.run(ctx, git_push.Config.model_validate({"path": "src", "tag": "v2"}))
    assert remote.rev("main") == commit["commit"]
    assert _verifies(remote, keys["public"], tmp_path, "verify-commit", commit["commit"]) == (
        "verified"
    )
    assert _verifies(remote, keys["public"], tmp_path, "verify-tag", "v2") == "verified"
    gpg_program = git(ctx.work_dir / "src", "config", "--get", "gpg.program")
    for callback in deferred:
        callback()
    deferred.clear()
    # The key's private home is gone once the promotion ends.
    assert not Path(gpg_program).parent.exists()


def test_a_reused_checkout_without_a_key_signs_nothing(
    tmp_path: Path, remote: GitRemote, keys: dict[str, str], deferred: list[Callable[[], None]]
) -> None:
    with GitHTTPServer(tmp_path / "remotes") as server:
        url = server.url_for(remote)
        signed = _ctx(tmp_path, deferred, work="first")
        _clone(signed, url, keys["plain"])
        unsigned = _ctx(tmp_path, deferred, work="second")
        _clone(unsigned, url, None)
        write(unsigned.work_dir / "src" / "x", "1\n")
        commit = git_commit.STEP.run(unsigned, git_commit.Config(path="src", message="m"))
    work = unsigned.work_dir / "src"
    assert git(work, "log", "-1", "--format=%G?", commit["commit"]) == "N"


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("locked", "cannot sign without a passphrase; give a key that has none"),
        ("public", "holds a public key only; give the private key"),
        ("garbage", "is not a GPG private key gpg can import"),
    ],
)
def test_a_key_that_cannot_sign_is_refused_without_showing_it(
    tmp_path: Path,
    remote: GitRemote,
    keys: dict[str, str],
    deferred: list[Callable[[], None]],
    key: str,
    message: str,
) -> None:
    text = keys.get(key, "-----BEGIN PGP PRIVATE KEY BLOCK-----\nnot a key\n")
    with GitHTTPServer(tmp_path / "remotes") as server:
        ctx = _ctx(tmp_path, deferred)
        with pytest.raises(TerminalStepError, match=message) as raised:
            _clone(ctx, server.url_for(remote), text)
    shown = str(raised.value)
    assert shown.startswith("author.signingKey: ")
    assert "PGP PRIVATE KEY" not in shown
    assert not any(line in shown for line in text.splitlines() if len(line) > 8)
    assert not list((ctx.work_dir).glob("src/*"))
