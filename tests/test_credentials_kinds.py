"""Credentials besides a password: SSH keys, GitHub Apps and AWS keys, from every source."""

import base64
import logging

import pytest
from pydantic import SecretStr

from kargo_dagster.clients.kube.credentials import KubernetesCredentialStore
from kargo_dagster.credentials import (
    AwsAccessKey,
    CredentialRule,
    Credentials,
    GitHubApp,
    StaticCredentialStore,
    credentials_from_env,
    credentials_from_fields,
    secret_values,
)
from kargo_dagster.defs.resources import KargoResource, RepositoryCredentials
from kargo_dagster.errors import CredentialsError
from kargo_dagster.ssh_known_hosts import KnownHostsCredentialStore, known_hosts_lines
from kargo_dagster.testing.kube_api import FakeKubeAPI, secret

SSH_KEY = (
    "-----BEGIN OPENSSH PRIVATE KEY-----\n"
    "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    "QyNTUxOQAAACBzZWNyZXQtbWF0ZXJpYWwtb2YtdGhlLWtleS0wMTIzNAAAAJj0c3Q=\n"
    "-----END OPENSSH PRIVATE KEY-----\n"
)
APP_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEpAIBAAKCAQEAz3r7app+key+material+that+must+never+show+0123456789\n"
    "-----END RSA PRIVATE KEY-----\n"
)
ENV = "KARGO_DAGSTER_CREDS_X_"


def test_an_ssh_key_from_the_environment_carries_the_known_hosts() -> None:
    store = credentials_from_env(
        {
            f"{ENV}TYPE": "git",
            f"{ENV}REPO_URL": "git@github.com:acme/app.git",
            f"{ENV}SSH_PRIVATE_KEY": SSH_KEY,
            "KARGO_DAGSTER_SSH_KNOWN_HOSTS": "github.com ssh-ed25519 AAAAC3Nza",
        }
    )
    found = store.lookup("git", "git@github.com:acme/app")
    assert found is not None and found.ssh_private_key is not None
    assert found.ssh_private_key.get_secret_value() == SSH_KEY
    assert found.ssh_known_hosts == "github.com ssh-ed25519 AAAAC3Nza"


def test_a_github_app_from_the_environment_by_client_id() -> None:
    store = credentials_from_env(
        {
            f"{ENV}TYPE": "git",
            f"{ENV}REPO_URL": "https://github.com/acme/app",
            f"{ENV}GITHUB_APP_CLIENT_ID": "Iv1.abc",
            f"{ENV}GITHUB_APP_ID": "99",
            f"{ENV}GITHUB_APP_INSTALLATION_ID": "4242",
            # Kargo once required the key base64-encoded and still accepts it so.
            f"{ENV}GITHUB_APP_PRIVATE_KEY": base64.b64encode(APP_KEY.encode()).decode(),
        }
    )
    found = store.lookup("git", "https://github.com/acme/app")
    assert found is not None
    assert found.github_app == GitHubApp("Iv1.abc", 4242, SecretStr(APP_KEY))


def test_an_aws_key_from_the_environment() -> None:
    store = credentials_from_env(
        {
            f"{ENV}TYPE": "image",
            f"{ENV}REPO_URL": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app",
            f"{ENV}AWS_REGION": "eu-west-1",
            f"{ENV}AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
            f"{ENV}AWS_SECRET_ACCESS_KEY": "aws-s3cret-key",
        }
    )
    found = store.lookup("image", "123456789012.dkr.ecr.eu-west-1.amazonaws.com/app")
    assert found is not None
    assert found.aws_access_key == AwsAccessKey(
        "eu-west-1", "AKIAEXAMPLE", SecretStr("aws-s3cret-key")
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"TYPE": "git", "GITHUB_APP_ID": "1", "GITHUB_APP_PRIVATE_KEY": APP_KEY},
            f"credential rule X: a GitHub App needs {ENV}GITHUB_APP_INSTALLATION_ID",
        ),
        (
            {"TYPE": "git", "GITHUB_APP_INSTALLATION_ID": "7", "GITHUB_APP_PRIVATE_KEY": APP_KEY},
            f"a GitHub App needs {ENV}GITHUB_APP_ID or {ENV}GITHUB_APP_CLIENT_ID",
        ),
        (
            {
                "TYPE": "git",
                "GITHUB_APP_ID": "1",
                "GITHUB_APP_INSTALLATION_ID": "seven",
                "GITHUB_APP_PRIVATE_KEY": APP_KEY,
            },
            f"{ENV}GITHUB_APP_INSTALLATION_ID must be a number",
        ),
        (
            {
                "TYPE": "git",
                "GITHUB_APP_ID": "1",
                "GITHUB_APP_INSTALLATION_ID": "7",
                "GITHUB_APP_PRIVATE_KEY": "bm90LWEta2V5LWJ1dC1iYXNlNjQ",
            },
            f"{ENV}GITHUB_APP_PRIVATE_KEY looks like corrupt base64",
        ),
        (
            {"TYPE": "image", "SSH_PRIVATE_KEY": SSH_KEY},
            f"{ENV}SSH_PRIVATE_KEY is for git only",
        ),
        (
            {"TYPE": "image", "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIA"},
            f"an AWS access key needs {ENV}AWS_SECRET_ACCESS_KEY",
        ),
        (
            {"TYPE": "git", "USERNAME": "bot"},
            f"credential rule X is missing {ENV}PASSWORD",
        ),
    ],
)
def test_incomplete_rules_name_the_variables_never_the_values(
    fields: dict[str, str], message: str
) -> None:
    environ = {f"{ENV}{name}": value for name, value in fields.items()}
    environ[f"{ENV}REPO_URL"] = "https://github.com/acme/app"
    with pytest.raises(CredentialsError) as raised:
        credentials_from_env(environ)
    assert message in str(raised.value)
    assert "key+material" not in str(raised.value) and "material" not in str(raised.value)


def test_the_resource_reads_every_kind_and_names_the_entry_in_errors() -> None:
    resource = KargoResource(
        credentials=[
            RepositoryCredentials(
                type="git", repo_url="git@h:a/b", ssh_private_key=SSH_KEY, password=""
            ),
            RepositoryCredentials(
                type="helm",
                repo_url="oci://123456789012.dkr.ecr.us-east-1.amazonaws.com/charts",
                aws_region="us-east-1",
                aws_access_key_id="AKIA",
            ),
        ],
        credentials_from_env=False,
    )
    with pytest.raises(CredentialsError) as raised:
        resource.credential_store("demo")
    assert str(raised.value) == (
        "KargoResource credentials[1] "
        "(oci://123456789012.dkr.ecr.us-east-1.amazonaws.com/charts): "
        "an AWS access key needs aws_secret_access_key"
    )


def test_the_resource_adds_its_known_hosts_to_every_ssh_key(monkeypatch) -> None:
    monkeypatch.setenv("KARGO_DAGSTER_SSH_KNOWN_HOSTS", "env.example ssh-ed25519 AAAAenv")
    resource = KargoResource(
        credentials=[
            RepositoryCredentials(type="git", repo_url="git@h:a/b", ssh_private_key=SSH_KEY)
        ],
        ssh_known_hosts="h ssh-ed25519 AAAAres\n# a comment\n\nh ssh-ed25519 AAAAres",
        credentials_from_env=False,
    )
    found = resource.credential_store("demo").lookup("git", "git@h:a/b")
    assert found is not None
    assert found.ssh_known_hosts == "h ssh-ed25519 AAAAres\nenv.example ssh-ed25519 AAAAenv\n"


def test_known_hosts_are_added_only_to_ssh_keys() -> None:
    rules = (
        CredentialRule("git", "https://h/a", Credentials("bot", SecretStr("pw"))),
        CredentialRule("git", "git@h:a", Credentials("", ssh_private_key=SecretStr(SSH_KEY))),
    )
    store = KnownHostsCredentialStore(StaticCredentialStore(rules), "h ssh-ed25519 AAAA\n")
    http, ssh = store.lookup("git", "https://h/a"), store.lookup("git", "git@h:a")
    assert http is not None and http.ssh_known_hosts == ""
    assert ssh is not None and ssh.ssh_known_hosts == "h ssh-ed25519 AAAA\n"
    assert known_hosts_lines(" a k1 \n", "a k1\nb k2") == "a k1\nb k2\n"


def test_no_secret_shows_in_a_repr_and_every_one_is_masked() -> None:
    credentials = Credentials(
        "bot",
        SecretStr("pw-s3cret"),
        ssh_private_key=SecretStr(SSH_KEY),
        github_app=GitHubApp("1", 2, SecretStr(APP_KEY)),
        aws_access_key=AwsAccessKey("r", "AKIA", SecretStr("aws-s3cret-key")),
    )
    shown = repr(credentials) + str(credentials)
    for hidden in ("pw-s3cret", "material", "aws-s3cret-key", "BEGIN"):
        assert hidden not in shown
    masked = secret_values([credentials])
    assert "aws-s3cret-key" in masked and "pw-s3cret" in masked
    for line in [*SSH_KEY.splitlines()[1:3], APP_KEY.splitlines()[1]]:
        assert line in masked


def test_kubernetes_secrets_of_each_kind_and_a_broken_one_skipped_by_name(caplog) -> None:
    label = {"kargo.akuity.io/cred-type": "git"}
    with FakeKubeAPI() as api:
        api.add(secret("demo", "ssh", {"repoURL": "git@h:a/b", "sshPrivateKey": SSH_KEY}, label))
        api.add(
            secret(
                "demo",
                "app",
                {
                    "repoURL": "https://github.com/acme/app",
                    "githubAppID": "5",
                    "githubAppInstallationID": "6",
                    "githubAppPrivateKey": APP_KEY,
                },
                label,
            )
        )
        api.add(
            secret(
                "demo",
                "broken-app",
                {"repoURL": "https://github.com/acme/web", "githubAppID": "5"},
                label,
            )
        )
        store = KubernetesCredentialStore(api.api_client(), ["demo"])
        with caplog.at_level(logging.WARNING):
            ssh = store.lookup("git", "git@h:a/b")
            app = store.lookup("git", "https://github.com/acme/app")
            broken = store.lookup("git", "https://github.com/acme/web")
    assert ssh is not None and ssh.ssh_private_key == SecretStr(SSH_KEY)
    assert app is not None and app.github_app == GitHubApp("5", 6, SecretStr(APP_KEY))
    assert broken is None
    assert (
        "Secret demo/broken-app: a GitHub App needs githubAppInstallationID, "
        "githubAppPrivateKey; skipped" in caplog.text
    )
    assert "material" not in caplog.text


def test_fields_for_the_wrong_kind_of_repository_are_refused() -> None:
    with pytest.raises(CredentialsError, match="Secret s: a GitHub App is for git only"):
        credentials_from_fields(
            "image",
            {"githubAppID": "1", "githubAppInstallationID": "2", "githubAppPrivateKey": APP_KEY},
            where="Secret s",
        )
    with pytest.raises(CredentialsError, match=r"an AWS access key is for image or helm \(ECR\)"):
        credentials_from_fields(
            "git",
            {"awsRegion": "r", "awsAccessKeyID": "a", "awsSecretAccessKey": "s"},
            where="Secret s",
        )
