"""ConfigMaps and Secrets read through the Kubernetes API (the fake API server)."""

import pytest

from kargo_dagster.clients.kube.resource_data import KubernetesResourceData
from kargo_dagster.clients.resource_data import (
    CRED_TYPE_LABEL,
    LazyResourceData,
    ResourceData,
    ResourceRef,
    StoredObject,
)
from kargo_dagster.errors import CredentialsError, ResourceDataError
from kargo_dagster.testing.kube_api import FakeKubeAPI, config_map, secret

PASSWORD = "pw-9c0e7f31d2"


@pytest.fixture
def api():
    with FakeKubeAPI() as server:
        server.add(config_map("shop", "settings", {"env": "dev"}, {"team": "web"}))
        server.add(secret("shop", "creds", {"token": "tok-1", "note": "naïve"}))
        server.add(
            secret(
                "kargo-shared-resources",
                "git",
                {"password": PASSWORD},
                {CRED_TYPE_LABEL: "git"},
            )
        )
        server.add(config_map("shared-elsewhere", "defaults", {"region": "eu"}))
        yield server


def test_objects_are_read_from_the_project_or_the_shared_namespace(api):
    data = KubernetesResourceData(api.api_client())

    assert data.read(ResourceRef("ConfigMap", "shop", "settings")) == StoredObject(
        {"env": "dev"}, {"team": "web"}
    )
    # Secret data comes decoded.
    assert data.read(ResourceRef("Secret", "shop", "creds")) == StoredObject(
        {"token": "tok-1", "note": "naïve"}, {}
    )
    assert data.read(ResourceRef("Secret", None, "git")) == StoredObject(
        {"password": PASSWORD}, {CRED_TYPE_LABEL: "git"}
    )


def test_the_shared_namespace_can_be_changed(api):
    data = KubernetesResourceData(api.api_client(), shared_namespace="shared-elsewhere")
    assert data.read(ResourceRef("ConfigMap", None, "defaults")) == StoredObject(
        {"region": "eu"}, {}
    )
    assert data.read(ResourceRef("Secret", None, "git")) is None


def test_a_missing_object_is_absent(api):
    data = KubernetesResourceData(api.api_client())
    assert data.read(ResourceRef("ConfigMap", "shop", "nope")) is None
    assert data.read(ResourceRef("Secret", "other-project", "creds")) is None


@pytest.mark.parametrize(("code", "reason"), [(403, "Forbidden"), (500, "Internal Server Error")])
def test_a_refusal_names_the_object_and_the_status_only(api, code, reason):
    status = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code}
    api.fail_next("get", "secrets", "git", code=code, body={**status, "message": PASSWORD})
    data = KubernetesResourceData(api.api_client())

    with pytest.raises(ResourceDataError) as raised:
        data.read(ResourceRef("Secret", None, "git"))

    assert str(raised.value) == (
        f"cannot read Secret kargo-shared-resources/git (Kubernetes API answered {code} {reason})"
    )


def test_an_unreachable_api_server_is_a_read_error():
    with FakeKubeAPI() as gone:
        client = gone.api_client()

    with pytest.raises(ResourceDataError, match=r"^cannot reach the Kubernetes API to read "):
        KubernetesResourceData(client).read(ResourceRef("ConfigMap", "shop", "settings"))


def test_a_lazy_source_connects_on_the_first_read_only(api):
    made: list[ResourceData] = []

    def connect() -> ResourceData:
        made.append(KubernetesResourceData(api.api_client()))
        return made[-1]

    lazy = LazyResourceData(connect)
    assert made == []
    lazy.read(ResourceRef("ConfigMap", "shop", "settings"))
    lazy.read(ResourceRef("Secret", "shop", "creds"))
    assert len(made) == 1


def test_a_lazy_source_that_cannot_connect_is_a_read_error():
    def connect() -> ResourceData:
        raise CredentialsError("KargoResource.kubernetes_credentials: no kubeconfig found")

    with pytest.raises(ResourceDataError) as raised:
        LazyResourceData(connect).read(ResourceRef("Secret", "shop", "creds"))

    assert str(raised.value) == (
        "cannot read Secret shop/creds: KargoResource.kubernetes_credentials: no kubeconfig found"
    )
