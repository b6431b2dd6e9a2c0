"""github-push from git-clone checkouts, through the local GitHub API in front of a real
git remote served over smart HTTP."""

import os
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from kargo_dagster.credentials import CredentialRule, Credentials, StaticCredentialStore
from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.step import StepContext
from kargo_dagster.promotion.steps.git import clone as git_clone
from kargo_dagster.promotion.steps.git import commit as git_commit
from kargo_dagster.promotion.steps.git.github_push import Config, GitHubPush
from kargo_dagster.testing.git_provider_api import GitProviderAPI
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from kargo_dagster.testing.github_git_api import TOKEN_OWNER
from tests.promotion.git_support import PROMOTION_NAME, make_ctx, schema_errors, write

TOKEN = "ghp_t0ken-never-shown"
AUTHOR = {"name": "Ada Author", "email": "ada@example.com"}


@dataclass
class GitHub:
    api: GitProviderAPI
    remote: GitRemote
    url: str

    def context(self, tmp_path: Path, token: str = TOKEN) -> StepContext:
        rule = CredentialRule(
            kind="git", repo_url=self.url, credentials=Credentials("git", SecretStr(token))
        )
        return make_ctx(tmp_path, credentials=StaticCredentialStore((rule,)))

    def commit(self, sha: str) -> dict[str, Any]:
        """The commit as GitHub's API shows it."""
        response = httpx.get(
            f"{self.api.base_url}/api/v3/repos/acme/app/git/commits/{sha}",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        response.raise_for_status()
        return response.json()


@pytest.fixture
def github(tmp_path: Path) -> Iterator[GitHub]:
    root = tmp_path / "remotes"
    remote = GitRemote.create(root / "acme", "app")
    remote.commit("Initial manifests", {"env/dev/app.yaml": "image: app:v1\n"})
    with (
        GitHTTPServer(root, username="git", password=TOKEN) as git_server,
        GitProviderAPI(token=TOKEN, git_backend=git_server.base_url) as api,
    ):
        api.add_repository("acme/app", remote)
        yield GitHub(api, remote, api.repo_url("acme/app"))


def _clone(ctx: StepContext, url: str) -> Path:
    config = {"repoURL": url, "checkout": [{"path": "src"}], "author": AUTHOR}
    git_clone.STEP.run(ctx, git_clone.Config.model_validate(config))
    return ctx.work_dir / "src"


def _change(ctx: StepContext, files: dict[str, str], message: str) -> str:
    for name, content in files.items():
        write(ctx.work_dir / "src" / name, content)
    return git_commit.STEP.run(ctx, git_commit.Config(path="src", message=message))["commit"]


def _push(ctx: StepContext, step: GitHubPush | None = None, **config: Any) -> dict[str, Any]:
    step = step or GitHubPush(retry_delay=0.01, verify_untrusted_commits=False)
    return step.run(ctx, Config.model_validate({"path": "src", **config}))


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ({}, "", "'path' is a required property"),
        ({"path": "src", "maxAttempts": 0}, "maxAttempts", "less than the minimum of 1"),
        (
            {"path": "src", "generateTargetBranch": True, "targetBranch": "x"},
            "",
            "is not valid under any",
        ),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors("github-push", config)
    assert any(where == path and message in text for where, text in errors), errors


def test_replays_commits_keeping_untrusted_authors(github: GitHub, tmp_path: Path) -> None:
    ctx = github.context(tmp_path)
    _clone(ctx, github.url)
    local = _change(ctx, {"env/dev/app.yaml": "image: app:v2\n"}, "Promote app:v2")

    output = _push(ctx)

    head = github.remote.rev("refs/heads/main")
    host = github.api.base_url.removeprefix("http://")
    assert output == {
        "commit": head,
        "branch": "main",
        "commitURL": f"https://{host}/acme/app/commit/{head}",
    }
    # Recreated with its own author, committer and dates, it is the very same commit.
    assert head == local
    shown = github.commit(head)
    assert shown["message"] == "Promote app:v2"
    assert shown["author"]["name"] == "Ada Author"
    assert shown["verification"]["verified"] is False
    # The checkout now holds what GitHub holds, and the staging ref is gone.
    assert git_commit.STEP.run(ctx, git_commit.Config(path="src", message="x"))["commit"] == head
    assert github.remote.git("for-each-ref", "refs/kargo") == ""


def test_github_signs_commits_when_untrusted_ones_are_verified(
    github: GitHub, tmp_path: Path
) -> None:
    ctx = github.context(tmp_path)
    _clone(ctx, github.url)
    _change(ctx, {"a.yaml": "a: 1\n"}, "First")
    _change(ctx, {"b.yaml": "b: 1\n"}, "Second")

    output = _push(ctx, GitHubPush(retry_delay=0.01, verify_untrusted_commits=True))

    second = github.commit(output["commit"])
    first = github.commit(second["parents"][0]["sha"])
    for commit, title in ((first, "First"), (second, "Second")):
        assert commit["verification"]["verified"] is True
        assert commit["author"]["name"] == TOKEN_OWNER.name
        assert commit["message"] == f"{title}\n\nCo-authored-by: Ada Author <ada@example.com>"
    assert first["parents"][0]["sha"] == github.remote.rev("refs/heads/main~2")


def test_commits_that_reached_the_branch_meanwhile_are_rebased_onto(
    github: GitHub, tmp_path: Path
) -> None:
    ctx = github.context(tmp_path)
    _clone(ctx, github.url)
    _change(ctx, {"env/dev/app.yaml": "image: app:v2\n"}, "Promote app:v2")
    theirs = github.remote.commit("Someone else", {"README.md": "hello\n"})

    output = _push(ctx)

    assert github.remote.rev(f"{output['commit']}~1") == theirs
    files = github.remote.git("ls-tree", "-r", "--name-only", output["commit"]).split()
    assert files == ["README.md", "env/dev/app.yaml"]


def test_a_generated_branch_is_created_and_main_left_alone(github: GitHub, tmp_path: Path) -> None:
    ctx = github.context(tmp_path)
    _clone(ctx, github.url)
    main = github.remote.rev("refs/heads/main")
    _change(ctx, {"x.yaml": "x: 1\n"}, "On its own branch")

    output = _push(ctx, generateTargetBranch=True)

    branch = f"kargo/promotion/{PROMOTION_NAME}"
    assert output["commit"] == github.remote.rev(f"refs/heads/{branch}")
    assert output["branch"] == branch
    assert github.remote.rev("refs/heads/main") == main


def test_too_many_commits_fail_the_step(github: GitHub, tmp_path: Path) -> None:
    ctx = github.context(tmp_path)
    _clone(ctx, github.url)
    _change(ctx, {"a.yaml": "a\n"}, "One")
    _change(ctx, {"b.yaml": "b\n"}, "Two")

    with pytest.raises(
        TerminalStepError, match="contains 2 commits, which exceeds the maximum of 1"
    ):
        _push(ctx, GitHubPush(max_revisions=1, verify_untrusted_commits=False))
    assert github.remote.git("for-each-ref", "refs/kargo") == ""


def test_credentials_are_required_and_never_shown(github: GitHub, tmp_path: Path) -> None:
    ctx = github.context(tmp_path)
    _clone(ctx, github.url)
    _change(ctx, {"a.yaml": "a\n"}, "One")

    with pytest.raises(TerminalStepError, match="no credentials found for"):
        _push(make_ctx(tmp_path))
    wrong = github.context(tmp_path, token="ghp_wr0ng-t0ken")
    with pytest.raises(RetryableStepError) as caught:
        _push(wrong)
    assert "ghp_wr0ng-t0ken" not in str(caught.value)
    assert TOKEN not in str(caught.value)


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An armored private key, without a passphrase, of ``Kargo Signer <signer@example.com>``."""
    home = tmp_path_factory.mktemp("gpg")
    home.chmod(0o700)
    environment = {**os.environ, "GNUPGHOME": str(home)}
    uid = "Kargo Signer <signer@example.com>"
    for args in (
        ["--passphrase", "", "--quick-gen-key", uid, "ed25519", "sign", "never"],
        ["--armor", "--export-secret-keys", uid],
    ):
        done = subprocess.run(
            ["gpg", "--batch", "--no-tty", "--pinentry-mode", "loopback", *args],
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        )
    yield done.stdout
    subprocess.run(["gpgconf", "--kill", "all"], env=environment, check=False)


def test_commits_signed_by_the_checkouts_key_are_signed_by_github(
    github: GitHub, tmp_path: Path, signing_key: str
) -> None:
    deferred: list[Callable[[], None]] = []
    ctx = replace(github.context(tmp_path), defer=deferred.append)
    author = {"name": "Kargo Signer", "email": "signer@example.com", "signingKey": signing_key}
    config = {"repoURL": github.url, "checkout": [{"path": "src"}], "author": author}
    try:
        git_clone.STEP.run(ctx, git_clone.Config.model_validate(config))
        _change(ctx, {"a.yaml": "a: 1\n"}, "Signed by the checkout's key")
        output = _push(ctx)
    finally:
        for callback in deferred:  # removes the promotion's keyring, as the engine does
            callback()

    shown = github.commit(output["commit"])
    assert shown["verification"]["verified"] is True
    assert shown["author"]["name"] == TOKEN_OWNER.name
    # The signer wrote it, so no co-author is named.
    assert shown["message"] == "Signed by the checkout's key"
