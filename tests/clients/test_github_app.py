"""GitHub App credentials: installation tokens for git over HTTP and for pull requests."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from kargo_dagster.clients.credential_exchange import ExchangingCredentialStore
from kargo_dagster.clients.github_app import TOKEN_USERNAME, GitHubAppTokens, api_base_url
from kargo_dagster.credentials import CredentialRule, Credentials, GitHubApp, StaticCredentialStore
from kargo_dagster.errors import CredentialsError
from kargo_dagster.promotion.steps.git import clone as git_clone
from kargo_dagster.promotion.steps.git import commit as git_commit
from kargo_dagster.promotion.steps.git import open_pr as git_open_pr
from kargo_dagster.promotion.steps.git import push as git_push
from kargo_dagster.testing.git_provider_api import GitProviderAPI
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from kargo_dagster.testing.github_app import FakeGitHubApp
from tests.promotion.git_support import make_ctx, write

T0 = 1_800_000_000.0


@dataclass
class Clock:
    now: float = T0

    def __call__(self) -> float:
        return self.now


@dataclass
class GitHub:
    api: GitProviderAPI
    app: FakeGitHubApp
    remote: GitRemote
    url: str
    clock: Clock


@pytest.fixture
def github(tmp_path: Path) -> Iterator[GitHub]:
    clock = Clock()
    app = FakeGitHubApp(clock=clock)
    remote = GitRemote.create(tmp_path / "remotes" / "acme", "app")
    remote.commit("Initial manifests", {"env/dev/app.yaml": "image: app:v1\n"})
    with (
        GitHTTPServer(tmp_path / "remotes") as git_server,
        GitProviderAPI(
            token="a-token-nobody-has", git_backend=git_server.base_url, github_app=app
        ) as api,
    ):
        api.add_repository("acme/app", remote)
        yield GitHub(api, app, remote, api.repo_url("acme/app"), clock)


def _store(github: GitHub, private_key: str | None = None) -> ExchangingCredentialStore:
    key = SecretStr(private_key or github.app.private_key)
    app = GitHubApp(github.app.app_id, github.app.installation_id, key)
    rules = (CredentialRule("git", github.url, Credentials("", github_app=app)),)
    return ExchangingCredentialStore(
        StaticCredentialStore(rules), github_app=GitHubAppTokens(clock=github.clock)
    )


def _promote(github: GitHub, tmp_path: Path, store: ExchangingCredentialStore, tag: str) -> str:
    ctx = make_ctx(tmp_path, credentials=store, work=f"work-{tag}")
    checkout = {"repoURL": github.url, "checkout": [{"path": "src"}]}
    git_clone.STEP.run(ctx, git_clone.Config.model_validate(checkout))
    write(ctx.work_dir / "src" / "env/dev/app.yaml", f"image: app:{tag}\n")
    git_commit.STEP.run(ctx, git_commit.Config(path="src", message=f"Use {tag}"))
    branch = f"kargo/promotion/{tag}"
    config = git_push.Config(path="src", target_branch=branch)
    git_push.GitPush(retry_delay=0.01).run(ctx, config)
    opened = git_open_pr.STEP.run(
        ctx,
        git_open_pr.Config.model_validate(
            {
                "repoURL": github.url,
                "sourceBranch": branch,
                "targetBranch": "main",
                "provider": "github",
            }
        ),
    )
    return str(opened["pr"]["url"])


def test_a_push_and_a_pull_request_with_installation_tokens_refreshed_before_expiry(
    github: GitHub, tmp_path: Path
) -> None:
    store = _store(github)

    first = _promote(github, tmp_path, store, "v2")

    assert first.endswith("/acme/app/pull/1")
    assert github.remote.rev("refs/heads/kargo/promotion/v2")
    # Every git command and API call of the promotion used the one token.
    assert len(github.app.issued) == 1
    assert github.app.issued[0].repositories == ("app",)

    github.clock.now += 3600 - 301  # more than five minutes left: still used
    assert store.lookup("git", github.url) == Credentials(
        TOKEN_USERNAME, SecretStr(github.app.issued[0].token)
    )
    assert len(github.app.issued) == 1

    github.clock.now += 2  # under five minutes left: replaced
    _promote(github, tmp_path, store, "v3")
    assert len(github.app.issued) == 2
    assert github.api.pulls[("acme/app", 2)].head == "kargo/promotion/v3"

    github.clock.now += 3600  # both tokens are now expired on GitHub's side
    assert not github.app.accepts(github.app.issued[0].token)
    _promote(github, tmp_path, store, "v4")
    assert len(github.app.issued) == 3


def test_a_key_github_does_not_know_is_refused_without_showing_it(
    github: GitHub, tmp_path: Path
) -> None:
    impostor = FakeGitHubApp().private_key
    store = _store(github, impostor)

    with pytest.raises(CredentialsError) as raised:
        store.lookup("git", github.url)

    message = str(raised.value)
    assert message.startswith(
        f"GitHub App {github.app.app_id} installation {github.app.installation_id}: "
        f"GitHub refused an access token for {github.url} (HTTP 401"
    )
    for line in impostor.splitlines()[1:-1]:
        assert line not in message
    assert github.app.refused == 1 and github.app.issued == []


def test_a_key_that_is_not_an_rsa_key_is_a_clear_error(github: GitHub) -> None:
    store = _store(
        github, "-----BEGIN RSA PRIVATE KEY-----\nnot-a-key\n-----END RSA PRIVATE KEY-----"
    )
    with pytest.raises(CredentialsError, match="githubAppPrivateKey is not a PEM-encoded RSA"):
        store.lookup("git", github.url)


def test_an_unknown_installation_is_refused(github: GitHub) -> None:
    app = GitHubApp(github.app.app_id, 1, SecretStr(github.app.private_key))
    rules = (CredentialRule("git", github.url, Credentials("", github_app=app)),)
    tokens = GitHubAppTokens(clock=github.clock)
    store = ExchangingCredentialStore(StaticCredentialStore(rules), github_app=tokens)
    with pytest.raises(CredentialsError, match=r"installation 1: .*\(HTTP 404"):
        store.lookup("git", github.url)


def test_an_app_gives_nothing_for_ssh_urls(github: GitHub) -> None:
    app = GitHubApp("1", 2, SecretStr(github.app.private_key))
    rules = (CredentialRule("git", "git@github.com:acme/app", Credentials("", github_app=app)),)
    store = ExchangingCredentialStore(StaticCredentialStore(rules))
    assert store.lookup("git", "git@github.com:acme/app") is None
    assert github.app.issued == []


@pytest.mark.parametrize(
    ("url", "api"),
    [
        ("https://github.com/acme/app.git", "https://api.github.com"),
        ("https://ghe.example.com/acme/app", "https://ghe.example.com/api/v3"),
        ("http://127.0.0.1:8080/acme/app.git", "http://127.0.0.1:8080/api/v3"),
    ],
)
def test_the_api_is_found_from_the_repository_url(url: str, api: str) -> None:
    assert api_base_url(url) == api
