"""The ``argocd`` setting of KargoResource: the connection the Argo CD steps use."""

import dagster as dg
import pytest

from kargo_dagster.clients.argocd_applications import ArgoCDError
from kargo_dagster.clients.argocd_kubernetes import KubernetesArgoCDApplications
from kargo_dagster.clients.argocd_rest import RestArgoCDApplications
from kargo_dagster.defs.resources import (
    ArgoCDKubernetes,
    ArgoCDRest,
    ArgoCDSettings,
    KargoResource,
)
from kargo_dagster.testing.argocd_rest_api import ArgoCDRestAPI
from kargo_dagster.testing.argocd_sim import application
from kargo_dagster.testing.kube_api import FakeKubeAPI

TOKEN = "kube-t0ken-never-shown"


def test_no_setting_means_no_connection():
    assert KargoResource().argocd_applications() is None


def test_a_host_with_a_token_from_the_environment(monkeypatch):
    monkeypatch.setenv("ARGOCD_KUBE_TOKEN", TOKEN)
    with FakeKubeAPI() as kube:
        kube.add(application("guestbook", "https://github.com/acme/deploy.git", namespace="gitops"))
        settings = ArgoCDSettings(
            namespace="gitops",
            poll_interval_seconds=2,
            kubernetes=ArgoCDKubernetes(host=kube.url, token=dg.EnvVar("ARGOCD_KUBE_TOKEN")),
        )
        with KargoResource(argocd=settings).argocd_applications() as apps:  # type: ignore[union-attr]
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
        "cannot configure the Kubernetes connection to Argo CD (KargoResource.argocd): "
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
        with KargoResource(argocd=settings).argocd_applications() as apps:  # type: ignore[union-attr]
            assert apps.list("argocd", "") == []
            assert apps.where == f"the Kubernetes API at {kube.url}"


def test_the_rest_transport_uses_argo_cds_api_with_a_token(monkeypatch):
    monkeypatch.setenv("ARGOCD_API_TOKEN", TOKEN)
    with FakeKubeAPI() as kube, ArgoCDRestAPI(kube, token=TOKEN) as api:
        kube.add(application("guestbook", "https://github.com/acme/deploy.git"))
        settings = ArgoCDSettings(
            transport="rest", rest=ArgoCDRest(url=api.url, token=dg.EnvVar("ARGOCD_API_TOKEN"))
        )
        with KargoResource(argocd=settings).argocd_applications() as apps:  # type: ignore[union-attr]
            assert isinstance(apps, RestArgoCDApplications)
            app = apps.get("argocd", "guestbook")
    assert app is not None
    assert app["metadata"]["name"] == "guestbook"


def test_the_rest_transport_needs_its_settings():
    with pytest.raises(ArgoCDError, match="transport 'rest' needs `rest`"):
        KargoResource(argocd=ArgoCDSettings(transport="rest")).argocd_applications()
