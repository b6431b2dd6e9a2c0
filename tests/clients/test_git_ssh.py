"""git over SSH with a private key, against a real sshd on loopback serving bare repositories."""

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from kargo_dagster.clients.git.command import git_credentials
from kargo_dagster.clients.git.mirror import GitMirrors
from kargo_dagster.clients.git.ssh import is_ssh_url, ssh_environment, ssh_host
from kargo_dagster.credentials import (
    CredentialRule,
    Credentials,
    StaticCredentialStore,
    credentials_from_env,
)
from kargo_dagster.defs.resources import KargoResource, RepositoryCredentials
from kargo_dagster.discovery.git import discover_commits
from kargo_dagster.errors import RepositoryError, RetryableStepError
from kargo_dagster.promotion.steps.git import clone as git_clone
from kargo_dagster.promotion.steps.git import commit as git_commit
from kargo_dagster.promotion.steps.git import push as git_push
from kargo_dagster.spec.warehouse import GitSubscription
from kargo_dagster.testing.git_remote import GitRemote
from kargo_dagster.testing.ssh_git_server import SshGitServer, SshKeyPair, generate_key_pair
from tests.promotion.git_support import make_ctx, write


@pytest.fixture
def remote(tmp_path: Path) -> GitRemote:
    repo = GitRemote.create(tmp_path / "remotes", "app")
    repo.commit("first", {"values.yaml": "tag: v1\n"})
    return repo


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SshGitServer]:
    with SshGitServer(tmp_path / "sshd") as running:
        yield running


def _store(url: str, key: str, known_hosts: str) -> StaticCredentialStore:
    credentials = Credentials("", ssh_private_key=SecretStr(key), ssh_known_hosts=known_hosts)
    return StaticCredentialStore((CredentialRule("git", url, credentials),))


def _key_material(key: SshKeyPair) -> list[str]:
    return [line for line in key.private_key.splitlines() if line and "-----" not in line]


def _assert_no_key(text: str, key: SshKeyPair) -> None:
    for line in _key_material(key):
        assert line not in text
    assert "kargo-dagster-ssh-" not in text  # nor where the key was written


def test_a_git_subscription_is_discovered_over_ssh(
    tmp_path: Path, remote: GitRemote, server: SshGitServer
) -> None:
    url = server.url_for(remote)
    resource = KargoResource(
        credentials=[
            RepositoryCredentials(
                type="git", repo_url=url, ssh_private_key=server.client_key.private_key
            )
        ],
        ssh_known_hosts=f"# the test server\n{server.known_hosts_line}\n",
        credentials_from_env=False,
    )
    mirrors = GitMirrors(tmp_path / "mirrors", resource.credential_store("demo"))
    newest = remote.commit("second", {"values.yaml": "tag: v2\n"})

    found = discover_commits(GitSubscription.model_validate({"repoURL": url}), mirrors)

    assert [commit.id for commit in found] == [newest, remote.rev("HEAD~1")]
    assert found[0].subject == "second"


def test_clone_commit_and_push_over_ssh_with_an_scp_like_url(
    tmp_path: Path, remote: GitRemote, server: SshGitServer
) -> None:
    url = server.scp_url_for(remote)
    store = credentials_from_env(
        {
            "KARGO_DAGSTER_CREDS_DEPLOY_TYPE": "git",
            "KARGO_DAGSTER_CREDS_DEPLOY_REPO_URL": url,
            "KARGO_DAGSTER_CREDS_DEPLOY_SSH_PRIVATE_KEY": server.client_key.private_key,
            "KARGO_DAGSTER_SSH_KNOWN_HOSTS": server.known_hosts_line,
        }
    )
    ctx = make_ctx(tmp_path, credentials=store)
    git_clone.STEP.run(
        ctx, git_clone.Config.model_validate({"repoURL": url, "checkout": [{"path": "src"}]})
    )
    write(ctx.work_dir / "src" / "values.yaml", "tag: v2\n")
    commit = git_commit.STEP.run(ctx, git_commit.Config(path="src", message="Use v2"))["commit"]

    output = git_push.GitPush(retry_delay=0.01).run(ctx, git_push.Config(path="src"))

    assert output["commit"] == commit == remote.rev("refs/heads/main")
    assert remote.git("show", "main:values.yaml") == "tag: v2"


def test_a_host_missing_from_the_known_hosts_is_refused_by_name(
    tmp_path: Path, remote: GitRemote, server: SshGitServer
) -> None:
    url = server.url_for(remote)
    mirrors = GitMirrors(tmp_path / "mirrors", _store(url, server.client_key.private_key, ""))

    with pytest.raises(RepositoryError) as raised:
        mirrors.ls_remote(url)

    message = str(raised.value)
    assert f"the SSH host key of [127.0.0.1]:{server.port} is not in the known hosts" in message
    _assert_no_key(message, server.client_key)


def test_a_host_whose_key_differs_from_the_known_one_is_refused(
    tmp_path: Path, remote: GitRemote, server: SshGitServer
) -> None:
    url = server.url_for(remote)
    impostor = generate_key_pair(tmp_path / "other", "host_key")
    line = f"[127.0.0.1]:{server.port} {' '.join(impostor.public_key.split()[:2])}"
    mirrors = GitMirrors(tmp_path / "mirrors", _store(url, server.client_key.private_key, line))

    with pytest.raises(RepositoryError, match=r"does not match the one in the known hosts"):
        mirrors.ls_remote(url)


def test_a_key_the_server_does_not_accept_is_refused_with_a_clear_message(
    tmp_path: Path, remote: GitRemote, server: SshGitServer
) -> None:
    url = server.url_for(remote)
    stranger = generate_key_pair(tmp_path / "stranger", "id_ed25519")
    store = _store(url, stranger.private_key, server.known_hosts_line)
    ctx = make_ctx(tmp_path, credentials=store)

    with pytest.raises(RetryableStepError) as raised:
        git_clone.STEP.run(
            ctx, git_clone.Config.model_validate({"repoURL": url, "checkout": [{"path": "src"}]})
        )

    message = str(raised.value)
    assert "the server refused the SSH key configured for it" in message
    assert url in message
    _assert_no_key(message, stranger)


def test_a_malformed_key_is_neither_echoed_nor_located(
    tmp_path: Path, remote: GitRemote, server: SshGitServer
) -> None:
    url = server.url_for(remote)
    body = "c2VjcmV0LWJ1dC1ub3QtYS1rZXktMDEyMzQ1Njc4OWFiY2RlZg=="
    broken = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----\n"
    mirrors = GitMirrors(tmp_path / "mirrors", _store(url, broken, server.known_hosts_line))

    with pytest.raises(RepositoryError) as raised:
        mirrors.ls_remote(url)

    message = str(raised.value)
    assert "the SSH private key configured for it cannot be read" in message
    assert body not in message
    assert "kargo-dagster-ssh-" not in message and str(tmp_path) not in message.split(url)[-1]


def test_the_key_lives_in_a_private_file_only_while_git_runs() -> None:
    credentials = Credentials(
        "", ssh_private_key=SecretStr("KEY\r\nMATERIAL"), ssh_known_hosts="host ssh-ed25519 AAAA\n"
    )
    with ssh_environment(credentials) as (environment, directory):
        command = environment["GIT_SSH_COMMAND"]
        files = {path.name: path for path in Path(directory).iterdir()}
        assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
        assert {name: stat.S_IMODE(p.stat().st_mode) for name, p in files.items()} == {
            "key": 0o600,
            "known_hosts": 0o600,
        }
        assert files["key"].read_text() == "KEY\nMATERIAL\n"
        for option in (
            "-F /dev/null",
            "IdentitiesOnly=yes",
            "IdentityAgent=none",
            "StrictHostKeyChecking=yes",
            "GlobalKnownHostsFile=/dev/null",
        ):
            assert option in command
    assert not Path(directory).exists()
    with ssh_environment(Credentials("bot", SecretStr("pw"))) as (environment, directory):
        assert environment == {} and directory == ""


@pytest.mark.parametrize(
    ("url", "ssh", "host"),
    [
        ("ssh://git@github.com/acme/app.git", True, "github.com"),
        ("ssh://git@git.example.com:2222/acme/app.git", True, "[git.example.com]:2222"),
        ("git+ssh://git@git.example.com:22/acme/app", True, "git.example.com"),
        ("git@github.com:acme/app.git", True, "github.com"),
        ("[git@127.0.0.1:2200]:/srv/app.git", True, "[127.0.0.1]:2200"),
        ("https://github.com/acme/app.git", False, None),
        ("file:///srv/app.git", False, None),
        ("/srv/app.git", False, None),
        ("./a:b", False, None),
    ],
)
def test_ssh_urls_in_both_of_gits_spellings(url: str, ssh: bool, host: str | None) -> None:
    assert is_ssh_url(url) is ssh
    if host is not None:
        assert ssh_host(url) == host


def test_http_credentials_are_not_offered_to_an_ssh_remote_nor_keys_to_http() -> None:
    store = StaticCredentialStore(
        (
            CredentialRule("git", "git@h:a/b", Credentials("bot", SecretStr("pw"))),
            CredentialRule("git", "https://h/a/c", Credentials("", ssh_private_key=SecretStr("k"))),
        )
    )
    assert git_credentials(store, "git@h:a/b") is None
    assert git_credentials(store, "https://h/a/c") is None


def test_discover_from_the_command_line_takes_the_key_and_known_hosts_from_the_environment(
    tmp_path: Path,
    remote: GitRemote,
    server: SshGitServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from kargo_dagster.cli import main

    url = server.url_for(remote)
    manifests = tmp_path / "stages.yaml"
    manifests.write_text(
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Project\nmetadata:\n  name: demo\n---\n"
        "apiVersion: kargo.akuity.io/v1alpha1\nkind: Warehouse\nmetadata:\n  name: config\n"
        f"  namespace: demo\nspec:\n  subscriptions:\n  - git:\n      repoURL: {url}\n"
    )
    for name, value in (
        ("TYPE", "git"),
        ("REPO_URL", url),
        ("SSH_PRIVATE_KEY", server.client_key.private_key),
    ):
        monkeypatch.setenv(f"KARGO_DAGSTER_CREDS_CONFIG_{name}", value)
    monkeypatch.setenv("KARGO_DAGSTER_SSH_KNOWN_HOSTS", server.known_hosts_line)
    work = ["--work-dir", str(tmp_path / "mirrors")]
    assert main(["discover", str(manifests), *work, "--json"]) == 0
    assert remote.rev("HEAD") in capsys.readouterr().out
    # Without the known hosts, the host is refused, by name.
    monkeypatch.delenv("KARGO_DAGSTER_SSH_KNOWN_HOSTS")
    assert main(["discover", str(manifests), "--work-dir", str(tmp_path / "other")]) == 1
    shown = capsys.readouterr()
    assert "127.0.0.1" in shown.out + shown.err
    _assert_no_key(shown.out + shown.err, server.client_key)
