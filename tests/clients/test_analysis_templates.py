"""AnalysisTemplates read from a cluster: the real ``kubernetes`` client against the fake API
server, which serves Argo Rollouts' AnalysisTemplates and ClusterAnalysisTemplates."""

import socket
from collections.abc import Iterator, Mapping
from typing import Any

import kubernetes
import pytest

from kargo_dagster.clients.kube.analysis_templates import ClusterTemplates
from kargo_dagster.errors import VerificationError
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.spec import load_manifests
from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.verification.analysis_run import build_analysis_run
from kargo_dagster.verification.template_sources import CatalogTemplates, LayeredTemplates
from tests.manifests import (
    analysis_template,
    cluster_analysis_template,
    image_tag,
    job_metric,
    project,
    requested,
    stage,
    verification,
    warehouse,
    write_manifests,
)

TOKEN = "kube-t0ken-never-shown"
ULID = "01J9ZX4Q8R3K7M2N5P6T0V1W2Y"


def busybox_metric(name: str, command: str) -> dict[str, Any]:
    """A ``job`` metric running busybox ``command``, as a smoke test would."""
    return job_metric(name, "busybox", command=[command])


def template(name: str, *metrics: dict[str, Any]) -> dict[str, Any]:
    """An AnalysisTemplate in the shop namespace taking the ``version`` argument."""
    return analysis_template(name, "shop", *metrics, args=["version"])


@pytest.fixture
def kube() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI() as server:
        server.add(template("smoke", busybox_metric("up", "true")))
        server.add(cluster_analysis_template("global-smoke", busybox_metric("reachable", "true")))
        yield server


@pytest.fixture
def cluster(kube) -> Iterator[ClusterTemplates]:
    with ClusterTemplates(with_token(kube.api_client())) as templates:
        yield templates


def with_token(api_client: kubernetes.client.ApiClient) -> kubernetes.client.ApiClient:
    """The client sending a bearer token, as a service account's would."""
    api_client.configuration.api_key = {"authorization": TOKEN}
    api_client.configuration.api_key_prefix = {"authorization": "Bearer"}
    return api_client


# Reading -------------------------------------------------------------------------------------


def test_an_analysis_template_is_read_as_its_spec(cluster, kube):
    spec = cluster.analysis_template("shop", "smoke")
    assert spec == {"args": [{"name": "version"}], "metrics": [busybox_metric("up", "true")]}
    assert (
        kube.requests[-1].path
        == "/apis/argoproj.io/v1alpha1/namespaces/shop/analysistemplates/smoke"
    )


def test_a_cluster_analysis_template_is_read_as_its_spec(cluster, kube):
    spec = cluster.cluster_analysis_template("global-smoke")
    assert spec == {"metrics": [busybox_metric("reachable", "true")]}
    assert (
        kube.requests[-1].path == "/apis/argoproj.io/v1alpha1/clusteranalysistemplates/global-smoke"
    )


def test_missing_templates_are_none(cluster):
    assert cluster.analysis_template("shop", "nope") is None
    # Templates are namespaced: the Project's namespace is the only one looked in.
    assert cluster.analysis_template("elsewhere", "smoke") is None
    assert cluster.cluster_analysis_template("nope") is None


def test_a_cluster_without_argo_rollouts_is_named_as_such():
    with FakeKubeAPI(crds=[]) as bare, ClusterTemplates(bare.api_client()) as cluster:
        with pytest.raises(VerificationError) as caught:
            cluster.analysis_template("shop", "smoke")
        assert str(caught.value) == (
            f"cannot get AnalysisTemplate 'smoke' in namespace 'shop': the Kubernetes API at "
            f"{bare.url} does not serve AnalysisTemplates (argoproj.io/v1alpha1); is Argo "
            "Rollouts installed there? (the server could not find the requested resource)"
        )
        with pytest.raises(VerificationError, match="does not serve ClusterAnalysisTemplates"):
            cluster.cluster_analysis_template("global-smoke")


# Failures ------------------------------------------------------------------------------------


def test_a_refusal_says_who_refused_what_and_never_shows_the_token(cluster, kube):
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": 'analysistemplates.argoproj.io "smoke" is forbidden: User '
        '"system:serviceaccount:dagster:dagster" cannot get resource "analysistemplates" in '
        'API group "argoproj.io" in the namespace "shop"',
        "reason": "Forbidden",
        "details": {"name": "smoke", "group": "argoproj.io", "kind": "analysistemplates"},
        "code": 403,
    }
    kube.fail_next("get", "analysistemplates", "smoke", code=403, body=body)
    with pytest.raises(VerificationError) as caught:
        cluster.analysis_template("shop", "smoke")
    # The API's own message is kept: it says who was refused what.
    assert str(caught.value) == (
        f"the Kubernetes API at {kube.url} refused to get AnalysisTemplate 'smoke' in "
        f"namespace 'shop' (403 Forbidden): {body['message']}"
    )
    assert TOKEN not in str(caught.value)


def test_a_server_error_is_an_error_not_a_missing_template(cluster, kube):
    kube.fail_next("get", "clusteranalysistemplates", "global-smoke", code=500)
    with pytest.raises(VerificationError) as caught:
        cluster.cluster_analysis_template("global-smoke")
    assert str(caught.value) == (
        f"the Kubernetes API at {kube.url} refused to get ClusterAnalysisTemplate "
        "'global-smoke' (500 Internal Server Error): Internal error occurred: injected failure"
    )
    # Only that request failed.
    assert cluster.cluster_analysis_template("global-smoke") is not None


def test_an_unreachable_api_says_where_with_credentials_masked():
    with FakeKubeAPI() as gone:
        api_client = gone.api_client()
    api_client.configuration.host = gone.url.replace("http://", f"http://kargo:{TOKEN}@")
    with ClusterTemplates(api_client) as cluster, pytest.raises(VerificationError) as caught:
        cluster.analysis_template("shop", "smoke")
    masked = gone.url.replace("http://", "http://kargo:xxxxx@")
    assert str(caught.value) == (
        f"cannot reach the Kubernetes API at {masked} to get AnalysisTemplate 'smoke' in "
        "namespace 'shop': Connection refused"
    )
    assert TOKEN not in str(caught.value)


def test_an_api_that_does_not_answer_times_out():
    with socket.socket() as silent:
        # Connections are accepted by the kernel, but nobody ever answers.
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        configuration = kubernetes.client.Configuration()
        configuration.host = f"http://127.0.0.1:{silent.getsockname()[1]}"
        cluster = ClusterTemplates(kubernetes.client.ApiClient(configuration), request_timeout=0.2)
        with cluster, pytest.raises(VerificationError) as caught:
            cluster.cluster_analysis_template("global-smoke")
    assert str(caught.value).endswith(
        "to get ClusterAnalysisTemplate 'global-smoke': the request timed out"
    )


# Layers and the AnalysisRun --------------------------------------------------------------------

APP = "registry.example.com/shop/app"
UP = {
    "name": "up",
    "provider": {"web": {"url": "https://shop.example.com/healthz?v={{args.version}}"}},
}
# Stage dev is verified by three templates: one in the manifests, one in the Project's
# namespace of the cluster and one ClusterAnalysisTemplate.
MANIFESTS = (
    project("shop"),
    warehouse("app", "shop", image=APP),
    template("smoke", UP),
    stage(
        "dev",
        "shop",
        requested=[requested("app")],
        verification=verification(
            "smoke",
            "load",
            {"name": "global-smoke", "kind": "ClusterAnalysisTemplate"},
            args={"version": image_tag(APP)},
        ),
    ),
)
FREIGHT = Freight(
    origin=FreightOrigin(name="app"),
    images=(Image(repo_url=APP, tag="v1.2.3", digest="sha256:" + "1" * 64),),
)


def test_the_manifests_come_first_and_the_cluster_fills_in(tmp_path, kube, cluster):
    write_manifests(tmp_path / "stages.yaml", *MANIFESTS)
    catalog = load_manifests(tmp_path)
    # The cluster's "smoke" differs from the manifests': the manifests' one must be used.
    kube.add(template("load", busybox_metric("load", "true")))
    layered = LayeredTemplates(CatalogTemplates(catalog), cluster)
    dev = catalog.projects["shop"].stages["dev"]
    run = build_analysis_run(dev, {"app": FREIGHT}, layered, ulid=lambda: ULID)
    assert [m["name"] for m in run["spec"]["metrics"]] == ["up", "load", "reachable"]
    assert run["spec"]["metrics"][0]["provider"] == {
        "web": {"url": "https://shop.example.com/healthz?v={{args.version}}"}
    }
    assert run["spec"]["metrics"][1] == busybox_metric("load", "true")
    assert run["spec"]["args"] == [{"name": "version", "value": "v1.2.3"}]
    asked = [r.path.rsplit("/", 1)[-1] for r in kube.requests if r.method == "GET"]
    assert asked == ["load", "global-smoke"]


def test_a_template_nowhere_is_reported_missing(tmp_path, cluster):
    write_manifests(tmp_path / "stages.yaml", *MANIFESTS)
    catalog = load_manifests(tmp_path)
    dev = catalog.projects["shop"].stages["dev"]
    with pytest.raises(VerificationError) as caught:
        build_analysis_run(
            dev, {"app": FREIGHT}, LayeredTemplates(CatalogTemplates(catalog), cluster)
        )
    assert str(caught.value) == (
        "Stage shop/dev: spec.verification.analysisTemplates refers to AnalysisTemplate 'load' "
        "in namespace 'shop', which does not exist; create it or remove the reference"
    )


class Everything:
    """A source that has every template."""

    def analysis_template(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return {"metrics": [job_metric(name, "true")]}

    def cluster_analysis_template(self, name: str) -> Mapping[str, Any] | None:
        return {"metrics": [job_metric(name, "true")]}


def test_a_failing_cluster_fails_the_run_instead_of_skipping_the_template(tmp_path, kube, cluster):
    write_manifests(tmp_path / "stages.yaml", *MANIFESTS)
    catalog = load_manifests(tmp_path)
    kube.add(template("load", busybox_metric("load", "true")))
    # A later source must not answer for one that failed.
    fallback = LayeredTemplates(CatalogTemplates(catalog), cluster, Everything())
    kube.fail_next("get", "analysistemplates", "load", code=500)
    dev = catalog.projects["shop"].stages["dev"]
    with pytest.raises(VerificationError) as caught:
        build_analysis_run(dev, {"app": FREIGHT}, fallback)
    assert str(caught.value).startswith(
        "Stage shop/dev: cannot read AnalysisTemplate 'load' in namespace 'shop': the "
        f"Kubernetes API at {kube.url} refused to get AnalysisTemplate 'load' in namespace "
        "'shop' (500 Internal Server Error)"
    )


def test_layers_without_the_template_answer_none():
    assert LayeredTemplates().analysis_template("shop", "smoke") is None
    assert LayeredTemplates().cluster_analysis_template("smoke") is None
