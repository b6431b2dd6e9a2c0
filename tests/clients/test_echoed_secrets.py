"""A server that echoes the credentials it was sent never gets them into a message.

Each client talks to a real server on loopback that answers with an error quoting the
``Authorization`` header, the query, and the secret it decoded re-encoded into URLs. The
message may keep the echo, but no encoding of any secret: not the password, nor the base64
of ``user:password`` (padded or not), nor a bearer token, nor their URL-encoded forms.
"""

from pathlib import Path
from urllib.parse import quote

import pytest
from pydantic import SecretStr

from kargo_dagster.clients.argocd.applications import ArgoCDError
from kargo_dagster.clients.argocd.kubernetes_api import KubernetesArgoCDApplications
from kargo_dagster.clients.argocd.rest_api import RestArgoCDApplications
from kargo_dagster.clients.git.mirror import GitMirrors
from kargo_dagster.clients.kube.analysis_templates import ClusterTemplates
from kargo_dagster.clients.oci import RegistryClient
from kargo_dagster.clients.pull_requests.providers import GitProviderError, git_provider
from kargo_dagster.credentials import (
    CredentialRule,
    Credentials,
    CredentialType,
    StaticCredentialStore,
)
from kargo_dagster.errors import RepositoryError, VerificationError
from kargo_dagster.testing.kube_client_config import api_client
from kargo_dagster.verification.web_metric import WebMetricProvider
from tests.clients.echo_server import (
    CREDENTIAL_FORMS,
    ISSUED_TOKEN,
    PASSWORD,
    TOKEN,
    USERNAME,
    EchoServer,
    basic,
    encodings,
)


def assert_masked(message: str, forbidden: list[str]) -> None:
    leaked = [form for form in forbidden if form in message]
    assert not leaked, f"{leaked} in {message!r}"
    assert "*****" in message, "the echo should reach the message, masked"


def store(kind: CredentialType) -> StaticCredentialStore:
    credentials = Credentials(USERNAME, SecretStr(PASSWORD))
    return StaticCredentialStore([CredentialRule(kind, r"127\.0\.0\.1", credentials, True)])


def test_the_password_forms_differ() -> None:
    assert len(set(CREDENTIAL_FORMS)) == len(CREDENTIAL_FORMS)
    assert basic(USERNAME, PASSWORD)[0].endswith("=")


def test_a_registry_echoing_basic_credentials() -> None:
    with EchoServer(challenge="basic") as server, RegistryClient(store("image")) as client:
        with pytest.raises(RepositoryError) as caught:
            client.repository(f"{server.host}/team/app").list_tags()
    assert "HTTP 403" in str(caught.value)
    assert server.received == [f"Basic {basic(USERNAME, PASSWORD)[0]}"]
    assert_masked(str(caught.value), CREDENTIAL_FORMS)


def test_a_registry_echoing_the_token_it_issued() -> None:
    with EchoServer(challenge="bearer") as server, RegistryClient(store("image")) as client:
        with pytest.raises(RepositoryError) as caught:
            client.repository(f"{server.host}/team/app").list_tags()
    assert f"Bearer {ISSUED_TOKEN}" in server.received
    assert_masked(str(caught.value), CREDENTIAL_FORMS + encodings(ISSUED_TOKEN))


def test_a_token_service_echoing_basic_credentials() -> None:
    with (
        EchoServer(challenge="bearer", token_fails=True) as server,
        RegistryClient(store("image")) as client,
    ):
        with pytest.raises(RepositoryError) as caught:
            client.repository(f"{server.host}/team/app").list_tags()
    message = str(caught.value)
    assert "HTTP 500" in message and "getting a registry token" in message
    assert_masked(message, CREDENTIAL_FORMS)


def test_a_git_server_echoing_basic_credentials(tmp_path: Path) -> None:
    with EchoServer() as server:
        mirrors = GitMirrors(tmp_path / "git", store("git"))
        with pytest.raises(RepositoryError) as caught:
            mirrors.ls_remote(f"{server.url}/team/app.git")
    message = str(caught.value)
    assert "remote error" in message
    assert server.received, "git sent the credentials"
    assert_masked(message, CREDENTIAL_FORMS)


@pytest.mark.parametrize(
    ("provider", "path", "username"),
    [
        ("github", "acme/app", ""),
        ("gitlab", "acme/app", ""),
        ("gitea", "acme/app", ""),
        # An access token (Bearer) and an app password (Basic, decoded by the echo).
        ("bitbucket", "acme/app", ""),
        ("bitbucket", "acme/app", USERNAME),
        ("azure", "acme/ops/_git/app", ""),
    ],
)
def test_a_git_provider_echoing_its_token(provider: str, path: str, username: str) -> None:
    with EchoServer(status=401) as server:
        client = git_provider(f"{server.url}/{path}", token=TOKEN, username=username, name=provider)
        with client, pytest.raises(GitProviderError) as caught:
            client.get_pull_request(1)
    assert server.received, "the token was sent"
    assert_masked(str(caught.value), encodings(TOKEN))


def test_argo_cd_echoing_its_token() -> None:
    with EchoServer(status=500) as server:
        client = RestArgoCDApplications(server.url, TOKEN, request_timeout=5)
        try:
            with pytest.raises(ArgoCDError) as caught:
                client.get("argocd", "app")
        finally:
            client.close()
    assert server.received == [f"Bearer {TOKEN}"]
    assert_masked(str(caught.value), encodings(TOKEN))


def test_a_web_metric_never_shows_its_token() -> None:
    # The message names the URL, which here carries the token percent-encoded.
    with EchoServer() as server:
        metric = {
            "name": "m",
            "provider": {
                "web": {
                    "url": f"{server.url}/metrics/{quote(TOKEN, safe='')}",
                    "headers": [{"key": "Authorization", "value": f"Bearer {TOKEN}"}],
                }
            },
        }
        measurement = WebMetricProvider().measure(metric)
    assert measurement.phase == "Error"
    assert server.received == [f"Bearer {TOKEN}"]
    message = measurement.message
    assert "received non 2xx response code: 403" in message
    leaked = [form for form in encodings(TOKEN) if form in message]
    assert not leaked and "xxxxx" in message, message


def test_the_kubernetes_api_echoing_the_bearer_token() -> None:
    # Argo CD's Applications and AnalysisTemplates read through the Kubernetes API: a server
    # (or a proxy in front of it) that echoes the token has it masked in every form.
    with EchoServer(status=500) as server:
        client = api_client(server.url)
        # As the kubeconfig loader sets it: the whole header value.
        client.configuration.api_key = {"authorization": f"Bearer {TOKEN}"}
        applications = KubernetesArgoCDApplications(client, request_timeout=5)
        with pytest.raises(ArgoCDError) as argocd:
            applications.get("argocd", "app")
        with pytest.raises(VerificationError) as templates:
            ClusterTemplates(client, request_timeout=5).analysis_template("demo", "smoke")
    assert server.received and all(seen == f"Bearer {TOKEN}" for seen in server.received)
    assert_masked(str(argocd.value), encodings(TOKEN))
    assert_masked(str(templates.value), encodings(TOKEN))
