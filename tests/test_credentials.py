"""Credential rules: matching, precedence, and configuration from the environment."""

import pytest
from pydantic import SecretStr

from kargo_dagster.credentials import (
    ChainedCredentialStore,
    CredentialRule,
    Credentials,
    CredentialType,
    StaticCredentialStore,
    credentials_from_env,
)
from kargo_dagster.errors import CredentialsError


def rule(
    url: str, password: str, *, kind: CredentialType = "image", regex: bool = False
) -> CredentialRule:
    return CredentialRule(kind, url, Credentials("u", SecretStr(password)), is_regex=regex)


def secret_of(store, kind, url):
    found = store.lookup(kind, url)
    return found.password.get_secret_value() if found else None


def test_exact_beats_regex_and_kinds_do_not_mix():
    store = StaticCredentialStore(
        (rule(r"ghcr\.io/acme/", "regex", regex=True), rule("ghcr.io/acme/app", "exact"))
    )
    assert secret_of(store, "image", "ghcr.io/acme/app") == "exact"
    assert secret_of(store, "image", "ghcr.io/acme/web") == "regex"
    assert secret_of(store, "helm", "ghcr.io/acme/app") is None


def test_git_urls_compare_normalised():
    store = StaticCredentialStore((rule("https://git.example.com/a/b.git", "pw", kind="git"),))
    assert secret_of(store, "git", "https://git.example.com/a/b/") == "pw"


def test_chained_stores_ask_in_order():
    first = StaticCredentialStore((rule("ghcr.io/acme/app", "first"),))
    second = StaticCredentialStore((rule("ghcr.io/acme/app", "second"), rule("x.io/y", "y")))
    chain = ChainedCredentialStore([first, second])
    assert secret_of(chain, "image", "ghcr.io/acme/app") == "first"
    assert secret_of(chain, "image", "x.io/y") == "y"


def test_credentials_never_print_their_password():
    credentials = Credentials("bot", SecretStr("hunter2"))
    assert "hunter2" not in repr(credentials) and "hunter2" not in str(credentials)


def test_rules_from_environment_variables():
    store = credentials_from_env(
        {
            "KARGO_DAGSTER_CREDS_GHCR_TYPE": "image",
            "KARGO_DAGSTER_CREDS_GHCR_REPO_URL": r"^ghcr\.io/acme/",
            "KARGO_DAGSTER_CREDS_GHCR_REPO_URL_IS_REGEX": "true",
            "KARGO_DAGSTER_CREDS_GHCR_USERNAME": "bot",
            "KARGO_DAGSTER_CREDS_GHCR_PASSWORD": "tok",
            "UNRELATED": "x",
        }
    )
    assert secret_of(store, "image", "ghcr.io/acme/app") == "tok"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"KARGO_DAGSTER_CREDS_X_TYPE": "image", "KARGO_DAGSTER_CREDS_X_PASSWORD": "s3cret"},
            "credential rule X is missing KARGO_DAGSTER_CREDS_X_REPO_URL",
        ),
        (
            {
                "KARGO_DAGSTER_CREDS_X_TYPE": "oci",
                "KARGO_DAGSTER_CREDS_X_REPO_URL": "a",
                "KARGO_DAGSTER_CREDS_X_PASSWORD": "s3cret",
            },
            "KARGO_DAGSTER_CREDS_X_TYPE must be git, helm or image",
        ),
        (
            {
                "KARGO_DAGSTER_CREDS_X_TYPE": "git",
                "KARGO_DAGSTER_CREDS_X_REPO_URL": "(",
                "KARGO_DAGSTER_CREDS_X_REPO_URL_IS_REGEX": "true",
                "KARGO_DAGSTER_CREDS_X_PASSWORD": "s3cret",
            },
            "KARGO_DAGSTER_CREDS_X_REPO_URL is not a valid regular expression",
        ),
    ],
)
def test_bad_environment_rules_are_named_without_values(environ, message):
    with pytest.raises(CredentialsError) as caught:
        credentials_from_env(environ)
    assert str(caught.value).startswith(message)
    assert "s3cret" not in str(caught.value)
