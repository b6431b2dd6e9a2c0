"""The ``argocd`` setting of KargoResource: the connection the Argo CD steps use."""

import dagster as dg
import pytest

from kargo_dagster.clients.argocd.applications import ArgoCDError
from kargo_dagster.clients.argocd.kubernetes_api import KubernetesArgoCDApplications
from kargo_dagster.clients.argocd.rest_api import RestArgoCDApplications
from kargo_dagster.defs.kube_connections import argocd_api_client
from kargo_dagster.defs.resources import (
    ArgoCDKubernetes,
    ArgoCDRest,
    ArgoCDSettings,
    KargoResource,
)
from kargo_dagster.testing.argocd_rest_api import ArgoCDRestAPI
from kargo_dagster.testing.argocd_sim import application
from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.testing.kube_client_config import write_kubeconfig

TOKEN = "kube-t0ken-never-shown"


def test_without_a_setting_kubeconfig_from_the_environment_is_used(tmp_path, monkeypatch):
    with FakeKubeAPI() as kube:
        kube.add(application("guestbook", "https://github.com/acme/deploy.git"))
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(kube.url, tmp_path / "config")))
        with KargoResource().argocd_applications() as apps:
            assert apps.default_namespace == "argocd"
            assert apps.get("argocd", "guestbook") is not None


def test_without_a_setting_or_kubeconfig_the_home_kubeconfig_is_used(tmp_path, monkeypatch):
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".kube").mkdir()
    with FakeKubeAPI() as kube:
        write_kubeconfig(kube.url, tmp_path / ".kube" / "config")
        with KargoResource().argocd_applications() as apps:
            assert apps.list("argocd", "") == []


def test_in_a_pod_the_service_account_is_used_before_the_home_kubeconfig(tmp_path):
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text(TOKEN)
    (account / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    write_kubeconfig("http://127.0.0.1:9", home / ".kube" / "config")
    environ = {
        "KUBERNETES_SERVICE_HOST": "10.0.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
        "HOME": str(home),
    }
    client = argocd_api_client(ArgoCDKubernetes(), "", environ=environ, service_account_dir=account)
    with client:
        configuration = client.configuration
        assert configuration.host == "https://10.0.0.1:443"
        assert configuration.ssl_ca_cert == str(account / "ca.crt")
        assert configuration.auth_settings()["BearerToken"]["value"].lower() == f"bearer {TOKEN}"


def test_when_nothing_is_configured_the_error_says_what_was_tried(tmp_path):
    environ = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "HOME": str(tmp_path)}
    with pytest.raises(ArgoCDError) as caught:
        argocd_api_client(
            ArgoCDKubernetes(), "", environ=environ, service_account_dir=tmp_path / "sa"
        )
    assert str(caught.value) == (
        "no connection to the Kubernetes API where Argo CD runs is configured; tried "
        "KargoResource.argocd.kubernetes.host and .kubeconfig (not set), $KUBECONFIG (not set), "
        f"the pod's service account (no token at {tmp_path / 'sa' / 'token'}), "
        f"{tmp_path / '.kube' / 'config'} (no such file)"
    )


def test_an_explicit_setting_wins_over_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with FakeKubeAPI() as kube:
        settings = ArgoCDSettings(kubernetes=ArgoCDKubernetes(host=kube.url))
        with KargoResource(argocd=settings).argocd_applications() as apps:
            assert apps.list("argocd", "") == []


def test_a_host_with_a_token_from_the_environment(monkeypatch):
    monkeypatch.setenv("ARGOCD_KUBE_TOKEN", TOKEN)
    with FakeKubeAPI() as kube:
        kube.add(application("guestbook", "https://github.com/acme/deploy.git", namespace="gitops"))
        settings = ArgoCDSettings(
            namespace="gitops",
            poll_interval_seconds=2,
            kubernetes=ArgoCDKubernetes(host=kube.url, token=dg.EnvVar("ARGOCD_KUBE_TOKEN")),
        )
        with KargoResource(argocd=settings).argocd_applications() as apps:
            assert (apps.default_namespace, apps.poll_interval) == ("gitops", 2)
            app = apps.get("gitops", "guestbook")
            assert app is not None
            assert isinstance(apps, KubernetesArgoCDApplications)
            configuration = apps._api_client.configuration
            assert configuration.get_api_key_with_prefix("authorization") == f"Bearer {TOKEN}"
            kube.fail_next("get", "applications", code=500)
            with pytest.raises(ArgoCDError) as caught:
                apps.get("gitops", "guestbook")
    assert TOKEN not in str(caught.value)


def test_an_unusable_kubeconfig_is_reported_by_setting(tmp_path):
    settings = ArgoCDSettings(
        kubernetes=ArgoCDKubernetes(kubeconfig=str(tmp_path / "missing"), context="prod")
    )
    with pytest.raises(ArgoCDError) as caught:
        KargoResource(argocd=settings).argocd_applications()
    assert str(caught.value).startswith(
        "cannot configure the connection to the Kubernetes API where Argo CD runs "
        "(KargoResource.argocd.kubernetes): "
    )


def test_a_kubeconfig_context_is_used(tmp_path):
    with FakeKubeAPI() as kube:
        kubeconfig = tmp_path / "config"
        kubeconfig.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: fake\n  cluster:\n    server: {kube.url}\n"
            f"users:\n- name: kargo\n  user:\n    token: {TOKEN}\n"
            "contexts:\n- name: other\n  context: {cluster: fake, user: kargo, namespace: x}\n"
            "- name: argo\n  context: {cluster: fake, user: kargo}\n"
            "current-context: other\n"
        )
        settings = ArgoCDSettings(
            kubernetes=ArgoCDKubernetes(kubeconfig=str(kubeconfig), context="argo")
        )
        with KargoResource(argocd=settings).argocd_applications() as apps:
            assert apps.list("argocd", "") == []
            assert apps.where == f"the Kubernetes API at {kube.url}"


def test_the_rest_transport_uses_argo_cds_api_with_a_token(monkeypatch):
    monkeypatch.setenv("ARGOCD_API_TOKEN", TOKEN)
    with FakeKubeAPI() as kube, ArgoCDRestAPI(kube, token=TOKEN) as api:
        kube.add(application("guestbook", "https://github.com/acme/deploy.git"))
        settings = ArgoCDSettings(
            transport="rest", rest=ArgoCDRest(url=api.url, token=dg.EnvVar("ARGOCD_API_TOKEN"))
        )
        with KargoResource(argocd=settings).argocd_applications() as apps:
            assert isinstance(apps, RestArgoCDApplications)
            app = apps.get("argocd", "guestbook")
    assert app is not None
    assert app["metadata"]["name"] == "guestbook"


def test_the_rest_transport_needs_its_settings():
    with pytest.raises(ArgoCDError, match="transport 'rest' needs `rest`"):
        KargoResource(argocd=ArgoCDSettings(transport="rest")).argocd_applications()
