"""Kargo credential Secrets read through the Kubernetes API (the fake API server)."""

import pytest

from kargo_dagster.clients.kube.credentials import KubernetesCredentialStore
from kargo_dagster.errors import CredentialsError
from kargo_dagster.testing.kube_api import FakeKubeAPI, secret

LABEL = "kargo.akuity.io/cred-type"


@pytest.fixture
def api():
    with FakeKubeAPI() as server:
        server.add(
            secret(
                "kargo-demo",
                "exact",
                {"repoURL": "ghcr.io/acme/app", "username": "bot", "password": "exact-pw"},
                {LABEL: "image"},
            )
        )
        server.add(
            secret(
                "kargo-demo",
                "any-acme",
                {
                    "repoURL": r"^ghcr\.io/acme/.*$",
                    "repoURLIsRegex": "true",
                    "username": "bot",
                    "password": "regex-pw",
                },
                {LABEL: "image"},
            )
        )
        server.add(
            secret(
                "shared",
                "git",
                {"repoURL": "https://git.example.com/acme/deploy.git", "password": "git-pw"},
                {LABEL: "git"},
            )
        )
        server.add(secret("kargo-demo", "unlabelled", {"repoURL": "ghcr.io/acme/other"}))
        yield server


def password(store: KubernetesCredentialStore, kind, url: str) -> str | None:
    found = store.lookup(kind, url)
    return found.password.get_secret_value() if found else None


def test_exact_before_regex_then_shared_namespaces(api):
    store = KubernetesCredentialStore(api.api_client(), ["kargo-demo", "shared"])
    assert password(store, "image", "ghcr.io/acme/app") == "exact-pw"
    assert password(store, "image", "ghcr.io/acme/other") == "regex-pw"
    assert password(store, "git", "https://git.example.com/acme/deploy") == "git-pw"
    assert password(store, "helm", "https://charts.example.com") is None


def test_secrets_are_listed_once_per_namespace_within_the_ttl(api):
    now = [0.0]
    store = KubernetesCredentialStore(api.api_client(), ["kargo-demo"], clock=lambda: now[0])
    for _ in range(5):
        store.lookup("image", "ghcr.io/acme/app")
    lists = [r for r in api.requests if r[1].endswith("/secrets")]
    assert len(lists) == 1
    now[0] = 31.0
    store.lookup("image", "ghcr.io/acme/app")
    assert len([r for r in api.requests if r[1].endswith("/secrets")]) == 2


def test_unreachable_api_is_a_clear_error():
    with FakeKubeAPI() as server:
        client = server.api_client()
    store = KubernetesCredentialStore(client, ["kargo-demo"])
    with pytest.raises(CredentialsError, match="cannot reach the Kubernetes API"):
        store.lookup("image", "ghcr.io/acme/app")
