"""PATCH in its three formats, optimistic concurrency, and injected failures."""

import pytest
from kubernetes.client import ApiException

from kargo_dagster.testing.argocd_sim import application
from kargo_dagster.testing.kube_api import error_status

APPS = ("argoproj.io", "v1alpha1", "argocd", "applications")
CONFLICT_MESSAGE = (
    'Operation cannot be fulfilled on applications.argoproj.io "guestbook": the object has '
    "been modified; please apply your changes to the latest version and try again"
)


@pytest.fixture
def app(kube) -> dict:
    return kube.add(application("guestbook", "https://github.com/acme/deploy.git", "main"))


def test_merge_patch_is_what_the_client_sends_for_custom_objects(kube, custom, app):
    patched = custom.patch_namespaced_custom_object(
        *APPS,
        "guestbook",
        {
            "metadata": {"annotations": {"argocd.argoproj.io/refresh": "hard"}},
            "spec": {"source": {"targetRevision": "v2", "path": None}},
        },
    )
    assert kube.requests[-1].content_type == "application/merge-patch+json"
    assert patched["metadata"]["annotations"] == {"argocd.argoproj.io/refresh": "hard"}
    # Objects merge, null deletes, and the rest of the source stays.
    assert patched["spec"]["source"] == {
        "repoURL": "https://github.com/acme/deploy.git",
        "targetRevision": "v2",
    }


def test_json_patch(kube, custom, app):
    patched = custom.patch_namespaced_custom_object(
        *APPS,
        "guestbook",
        [
            {"op": "test", "path": "/spec/source/targetRevision", "value": "main"},
            {"op": "replace", "path": "/spec/source/targetRevision", "value": "v2"},
            {"op": "add", "path": "/metadata/labels", "value": {"tier": "web"}},
        ],
        _content_type="application/json-patch+json",
    )
    assert patched["spec"]["source"]["targetRevision"] == "v2"
    assert patched["metadata"]["labels"] == {"tier": "web"}
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            *APPS,
            "guestbook",
            [{"op": "remove", "path": "/spec/nothing"}],
            _content_type="application/json-patch+json",
        )
    assert caught.value.status == 400
    assert "/spec/nothing" in error_status(caught.value)["message"]


def test_strategic_merge_patch_is_refused_for_custom_resources(custom, app):
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            *APPS,
            "guestbook",
            {"spec": {"project": "shop"}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert caught.value.status == 415
    assert error_status(caught.value)["reason"] == "UnsupportedMediaType"


def test_strategic_merge_patch_merges_named_lists_of_built_in_kinds(kube, core):
    pod = {
        "metadata": {"name": "p"},
        "spec": {
            "containers": [
                {"name": "main", "image": "app:1"},
                {"name": "sidecar", "image": "proxy:1"},
            ]
        },
    }
    core.create_namespaced_pod("ns", pod)
    patched = core.patch_namespaced_pod(
        "p", "ns", {"spec": {"containers": [{"name": "main", "image": "app:2"}]}}
    )
    assert kube.requests[-1].content_type == "application/strategic-merge-patch+json"
    assert [(c.name, c.image) for c in patched.spec.containers] == [
        ("main", "app:2"),
        ("sidecar", "proxy:1"),
    ]


def test_a_patch_carrying_a_stale_resource_version_is_a_conflict(custom, app):
    read = custom.get_namespaced_custom_object(*APPS, "guestbook")
    custom.patch_namespaced_custom_object(*APPS, "guestbook", {"spec": {"project": "shop"}})
    stale = {
        "metadata": {"resourceVersion": read["metadata"]["resourceVersion"]},
        "spec": {"project": "other"},
    }
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(*APPS, "guestbook", stale)
    assert caught.value.status == 409
    assert error_status(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": CONFLICT_MESSAGE,
        "reason": "Conflict",
        "details": {"name": "guestbook", "group": "argoproj.io", "kind": "applications"},
        "code": 409,
    }
    assert custom.get_namespaced_custom_object(*APPS, "guestbook")["spec"]["project"] == "shop"
    # With the current resourceVersion (Kargo's optimistic lock) the patch applies.
    current = custom.get_namespaced_custom_object(*APPS, "guestbook")
    stale["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
    patched = custom.patch_namespaced_custom_object(*APPS, "guestbook", stale)
    assert patched["spec"]["project"] == "other"


def test_injected_failures_hit_the_next_matching_requests_only(kube, custom, app):
    kube.fail_next("write", "applications", "guestbook", code=409)
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(*APPS, "guestbook", {"spec": {"project": "x"}})
    assert error_status(caught.value)["message"] == CONFLICT_MESSAGE
    custom.patch_namespaced_custom_object(*APPS, "guestbook", {"spec": {"project": "x"}})

    kube.fail_next("get", "*", code=500, times=2)
    for _ in range(2):
        with pytest.raises(ApiException) as caught:
            custom.get_namespaced_custom_object(*APPS, "guestbook")
        assert caught.value.status == 500
    assert custom.get_namespaced_custom_object(*APPS, "guestbook")["spec"]["project"] == "x"

    kube.fail_next("list", "applications", code=429)
    with pytest.raises(ApiException) as caught:
        custom.list_namespaced_custom_object(*APPS)
    assert error_status(caught.value)["reason"] == "TooManyRequests"


def test_patching_a_missing_object_is_not_found(custom):
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(*APPS, "nope", {"spec": {}})
    assert caught.value.status == 404
