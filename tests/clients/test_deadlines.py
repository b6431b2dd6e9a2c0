"""Every client's requests end at their total deadline, however steadily a server dribbles.

The server sends one byte every half second for a minute, so no read ever times out (the
read timeouts here are 5 s); the deadline is 2 s. Each call must fail with an error naming
the request and the deadline; a hang alarm half-way through the server's minute only stops
a call that never ends.
"""

from collections.abc import Iterator

import pytest

from kargo_dagster.clients.argocd.applications import ArgoCDError
from kargo_dagster.clients.argocd.kubernetes_api import KubernetesArgoCDApplications
from kargo_dagster.clients.argocd.rest_api import RestArgoCDApplications
from kargo_dagster.clients.deadlines import budget
from kargo_dagster.clients.helm_repo import HelmRepoClient
from kargo_dagster.clients.kube.analysis_templates import ClusterTemplates
from kargo_dagster.clients.kube.credentials import KubernetesCredentialStore
from kargo_dagster.clients.oci.client import RegistryClient
from kargo_dagster.clients.pull_requests.providers import GitProviderError, git_provider
from kargo_dagster.errors import CredentialsError, RepositoryError, VerificationError
from kargo_dagster.testing.dribbling_server import DribblingServer
from kargo_dagster.testing.kube_client_config import api_client
from kargo_dagster.verification.web_metric import WebMetricProvider
from tests.hang_alarm import hang_alarm

DEADLINE = 2.0
READ_TIMEOUT = 5.0
# The server dribbles for a minute; a call still going after half of it hangs.
DRIBBLE_SECONDS = 60.0
WELL_BEFORE = DRIBBLE_SECONDS / 2


@pytest.fixture
def dribbling() -> Iterator[DribblingServer]:
    with DribblingServer(interval=0.5, duration=DRIBBLE_SECONDS) as server:
        yield server


@pytest.fixture
def dribbling_headers() -> Iterator[DribblingServer]:
    with DribblingServer(interval=0.5, duration=DRIBBLE_SECONDS, phase="headers") as server:
        yield server


def test_a_registry_tag_list_ends_at_its_deadline(dribbling: DribblingServer) -> None:
    client = RegistryClient(timeout=READ_TIMEOUT, deadline=DEADLINE)

    with hang_alarm(WELL_BEFORE), pytest.raises(RepositoryError) as raised:
        client.repository(f"{dribbling.host}/app").list_tags()

    message = str(raised.value)
    assert f"GET {dribbling.url}/v2/app/tags/list exceeded its deadline (2 s)" in message
    assert "'127.0.0.1" in message and "/app'" in message  # the repository is named


def test_a_registry_dribbling_its_headers_ends_at_the_deadline(
    dribbling_headers: DribblingServer,
) -> None:
    client = RegistryClient(timeout=READ_TIMEOUT, deadline=DEADLINE)

    with hang_alarm(WELL_BEFORE), pytest.raises(RepositoryError) as raised:
        client.repository(f"{dribbling_headers.host}/app").list_tags()

    assert "/v2/app/tags/list exceeded its deadline (2 s)" in str(raised.value)


def test_a_helm_index_ends_at_its_deadline(dribbling: DribblingServer) -> None:
    with HelmRepoClient(timeout=READ_TIMEOUT, deadline=DEADLINE) as helm:
        with hang_alarm(WELL_BEFORE), pytest.raises(RepositoryError) as raised:
            helm.chart_versions(f"{dribbling.url}/charts", "app")

    assert f"GET {dribbling.url}/charts/index.yaml exceeded its deadline (2 s)" in str(raised.value)


def test_a_github_api_call_ends_at_its_deadline(dribbling: DribblingServer) -> None:
    repo_url = f"{dribbling.url}/acme/app.git"
    with git_provider(
        repo_url, token="t0ken-value", name="github", timeout=READ_TIMEOUT, deadline=DEADLINE
    ) as provider:
        with hang_alarm(WELL_BEFORE), pytest.raises(GitProviderError) as raised:
            provider.get_pull_request(7)

    message = str(raised.value)
    assert f"GET {dribbling.url}/api/v3/repos/acme/app/pulls/7 exceeded its deadline" in message
    assert raised.value.retryable
    assert "t0ken-value" not in message


def test_an_argocd_api_call_ends_at_its_deadline(dribbling: DribblingServer) -> None:
    with RestArgoCDApplications(
        dribbling.url, "argocd-token", request_timeout=READ_TIMEOUT, request_deadline=DEADLINE
    ) as argocd:
        with hang_alarm(WELL_BEFORE), pytest.raises(ArgoCDError) as raised:
            argocd.get("argocd", "guestbook")

    assert f"GET {dribbling.url}/api/v1/applications/guestbook exceeded its deadline (2 s)" in (
        str(raised.value)
    )
    assert raised.value.retryable


def test_a_web_metric_ends_at_its_timeout_with_the_url_shown_safely(
    dribbling: DribblingServer,
) -> None:
    # Argo Rollouts' timeoutSeconds bounds the whole request, as Go's http.Client.Timeout.
    url = f"http://robot:s3cret-pass@{dribbling.host}/metrics?apikey=k3y-value"
    metric = {"name": "m", "provider": {"web": {"url": url, "timeoutSeconds": 2}}}

    with hang_alarm(WELL_BEFORE):
        measurement = WebMetricProvider().measure(metric)

    assert measurement.phase == "Error"
    assert "/metrics exceeded its deadline (2 s)" in measurement.message
    assert "s3cret-pass" not in measurement.message
    assert "k3y-value" not in measurement.message


def test_an_argocd_application_through_kubernetes_ends_at_its_deadline(
    dribbling: DribblingServer,
) -> None:
    with KubernetesArgoCDApplications(
        api_client(dribbling.url), request_timeout=READ_TIMEOUT, request_deadline=DEADLINE
    ) as applications:
        with hang_alarm(WELL_BEFORE), pytest.raises(ArgoCDError) as raised:
            applications.get("argocd", "guestbook")

    assert (
        f"GET {dribbling.url}/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/"
        "guestbook exceeded its deadline (2 s)"
    ) in str(raised.value)


def test_an_analysis_template_read_ends_at_its_deadline(dribbling: DribblingServer) -> None:
    with ClusterTemplates(
        api_client(dribbling.url), request_timeout=READ_TIMEOUT, request_deadline=DEADLINE
    ) as cluster:
        with hang_alarm(WELL_BEFORE), pytest.raises(VerificationError) as raised:
            cluster.cluster_analysis_template("smoke")

    assert "/clusteranalysistemplates/smoke exceeded its deadline (2 s)" in str(raised.value)


def test_listing_credential_secrets_ends_at_its_deadline(dribbling: DribblingServer) -> None:
    store = KubernetesCredentialStore(
        api_client(dribbling.url),
        ["kargo-demo"],
        request_timeout=READ_TIMEOUT,
        request_deadline=DEADLINE,
    )

    with hang_alarm(WELL_BEFORE), pytest.raises(CredentialsError) as raised:
        store.lookup("image", "ghcr.io/acme/app")

    assert "/namespaces/kargo-demo/secrets exceeded its deadline (2 s)" in str(raised.value)


def test_a_budget_ending_first_is_what_the_error_names(dribbling: DribblingServer) -> None:
    client = RegistryClient(timeout=READ_TIMEOUT, deadline=DRIBBLE_SECONDS)

    with hang_alarm(WELL_BEFORE), pytest.raises(RepositoryError) as raised:
        with budget(DEADLINE, "the budget of this test"):
            client.repository(f"{dribbling.host}/app").list_tags()

    assert "/v2/app/tags/list exceeded the budget of this test (2 s)" in str(raised.value)
