"""Label and field selectors, and paginated lists, through the real client."""

import pytest
from kubernetes.client import ApiException

from kargo_dagster.testing.argocd_sim import application
from kargo_dagster.testing.kube_api import error_status

APPS = ("argoproj.io", "v1alpha1", "argocd", "applications")


@pytest.fixture
def apps(kube):
    for name, labels in (
        ("dev", {"stage": "dev", "tier": "web"}),
        ("prod-eu", {"stage": "prod", "region": "eu", "tier": "web"}),
        ("prod-us", {"stage": "prod", "region": "us"}),
        ("tools", {}),
    ):
        kube.add(application(name, "https://github.com/acme/deploy.git", labels=labels))


@pytest.mark.parametrize(
    ("selector", "names"),
    [
        ("stage=prod", ["prod-eu", "prod-us"]),
        ("stage==prod,region=eu", ["prod-eu"]),
        ("stage!=prod", ["dev", "tools"]),
        ("region", ["prod-eu", "prod-us"]),
        ("!region", ["dev", "tools"]),
        ("stage in (dev, prod),tier", ["dev", "prod-eu"]),
        ("region notin (eu)", ["dev", "prod-us", "tools"]),
        ("", ["dev", "prod-eu", "prod-us", "tools"]),
    ],
)
def test_label_selectors(custom, apps, selector, names):
    listed = custom.list_namespaced_custom_object(*APPS, label_selector=selector)
    assert [item["metadata"]["name"] for item in listed["items"]] == names


def test_a_malformed_selector_is_a_bad_request(custom, apps):
    with pytest.raises(ApiException) as caught:
        custom.list_namespaced_custom_object(*APPS, label_selector="bad key=x")
    assert caught.value.status == 400
    assert "unable to parse requirement" in error_status(caught.value)["message"]


def test_field_selectors(custom, apps):
    listed = custom.list_namespaced_custom_object(
        *APPS, field_selector="metadata.name!=dev,metadata.namespace=argocd"
    )
    assert [item["metadata"]["name"] for item in listed["items"]] == [
        "prod-eu",
        "prod-us",
        "tools",
    ]


def test_lists_page_with_limit_and_continue(custom, apps):
    first = custom.list_namespaced_custom_object(*APPS, limit=3)
    assert [i["metadata"]["name"] for i in first["items"]] == ["dev", "prod-eu", "prod-us"]
    assert first["metadata"]["remainingItemCount"] == 1
    rest = custom.list_namespaced_custom_object(
        *APPS, limit=3, _continue=first["metadata"]["continue"]
    )
    assert [i["metadata"]["name"] for i in rest["items"]] == ["tools"]
    assert "continue" not in rest["metadata"]
