"""Writes are pruned, defaulted and validated against the bundled CRD schemas."""

import json
from pathlib import Path

import pytest
from kubernetes.client import ApiException

from kargo_dagster.testing.argocd_sim import application
from kargo_dagster.testing.crd_schemas import CRD_DIRECTORY, bundled_crds
from kargo_dagster.testing.kube_api import error_status
from kargo_dagster.testing.kube_store import KubeAPIError

ARGO = ("argoproj.io", "v1alpha1")
APPS = (*ARGO, "argocd", "applications")


def guestbook() -> dict:
    return application("guestbook", "https://github.com/acme/deploy.git", "main")


def refused(call) -> dict:
    with pytest.raises(ApiException) as caught:
        call()
    assert caught.value.status == 422
    return error_status(caught.value)


def datadog_template(**datadog) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "error-rate"},
        "spec": {
            "metrics": [
                {"name": "errors", "provider": {"datadog": {"query": "sum:errors", **datadog}}}
            ]
        },
    }


def test_bundled_crds_are_the_kinds_served_and_follow_their_manifests():
    kinds = {(c.kind, c.namespaced, c.status_subresource) for c in bundled_crds()}
    assert kinds == {
        ("Application", True, False),
        ("AnalysisRun", True, False),
        ("AnalysisTemplate", True, False),
        ("ClusterAnalysisTemplate", False, False),
    }
    assert (CRD_DIRECTORY / "README.md").is_file()


def test_a_schema_violation_is_invalid_with_every_field_named(custom):
    app = guestbook()
    del app["spec"]["project"]
    app["spec"]["syncPolicy"] = {"retry": {"limit": "ten"}}
    body = refused(lambda: custom.create_namespaced_custom_object(*APPS, app))
    type_message = (
        'Invalid value: "string": spec.syncPolicy.retry.limit in body must be of type '
        'integer: "string"'
    )
    assert body["reason"] == "Invalid"
    assert body["message"] == (
        'Application.argoproj.io "guestbook" is invalid: [spec.project: Required value, '
        f"spec.syncPolicy.retry.limit: {type_message}]"
    )
    assert body["details"] == {
        "name": "guestbook",
        "group": "argoproj.io",
        "kind": "Application",
        "causes": [
            {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.project"},
            {
                "reason": "FieldValueTypeInvalid",
                "message": type_message,
                "field": "spec.syncPolicy.retry.limit",
            },
        ],
    }


def test_list_items_are_named_by_index(custom):
    app = guestbook()
    del app["spec"]["source"]
    app["spec"]["sources"] = [
        {"repoURL": "https://github.com/acme/deploy.git"},
        {"targetRevision": "main"},
    ]
    body = refused(lambda: custom.create_namespaced_custom_object(*APPS, app))
    assert [c["field"] for c in body["details"]["causes"]] == ["spec.sources[1].repoURL"]


def test_patches_are_validated_after_they_apply(custom):
    custom.create_namespaced_custom_object(*APPS, guestbook())
    body = refused(
        lambda: custom.patch_namespaced_custom_object(
            *APPS, "guestbook", {"status": {"reconciledAt": "yesterday"}}
        )
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "yesterday": status.reconciledAt in body must be of type '
            'date-time: "yesterday"',
            "field": "status.reconciledAt",
        }
    ]


def test_unknown_fields_are_pruned_with_a_warning(kube, custom):
    app = guestbook()
    app["spec"]["source"]["targetRevison"] = "typo"
    app["spec"]["source"]["helm"] = {"valuesObject": {"free": {"form": True}}}
    response = custom.create_namespaced_custom_object(*APPS, app, _preload_content=False)
    stored = json.loads(response.data)
    assert "targetRevison" not in stored["spec"]["source"]
    # x-kubernetes-preserve-unknown-fields keeps what it covers.
    assert stored["spec"]["source"]["helm"]["valuesObject"] == {"free": {"form": True}}
    assert (
        response.headers.get("Warning") == '299 - "unknown field \\"spec.source.targetRevison\\""'
    )
    assert kube.store.warnings == ['unknown field "spec.source.targetRevison"']


def test_nulls_of_non_nullable_fields_are_dropped(custom):
    app = guestbook()
    app["status"] = None
    app["operation"] = None
    created = custom.create_namespaced_custom_object(*APPS, app)
    assert "status" not in created and "operation" not in created


def test_defaults_and_enums_of_analysis_templates(custom):
    created = custom.create_namespaced_custom_object(
        *ARGO, "kargo-demo", "analysistemplates", datadog_template()
    )
    datadog = created["spec"]["metrics"][0]["provider"]["datadog"]
    assert (datadog["apiVersion"], datadog["interval"]) == ("v1", "5m")
    template = datadog_template(apiVersion="v3")
    template["metadata"]["name"] = "other"
    body = refused(
        lambda: custom.create_namespaced_custom_object(
            *ARGO, "kargo-demo", "analysistemplates", template
        )
    )
    assert body["details"]["causes"] == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "v3": supported values: "v1", "v2"',
            "field": "spec.metrics[0].provider.datadog.apiVersion",
        }
    ]


@pytest.mark.parametrize(("count", "valid"), [(3, True), ("3", True), (True, False)])
def test_int_or_string_fields(custom, count, valid):
    run = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": "run"},
        "spec": {
            "metrics": [{"name": "m", "count": count, "provider": {"web": {"url": "http://x"}}}]
        },
    }

    def create():
        return custom.create_namespaced_custom_object(*ARGO, "kargo-demo", "analysisruns", run)

    if valid:
        assert create()["spec"]["metrics"][0]["count"] == count
    else:
        assert refused(create)["details"]["causes"][0]["field"] == "spec.metrics[0].count"


def test_names_and_labels_are_checked(custom):
    app = guestbook()
    app["metadata"]["name"] = "Guestbook"
    body = refused(lambda: custom.create_namespaced_custom_object(*APPS, app))
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert "a lowercase RFC 1123 subdomain" in body["message"]
    app = guestbook()
    app["metadata"]["labels"] = {"team": "web team"}
    body = refused(lambda: custom.create_namespaced_custom_object(*APPS, app))
    assert body["details"]["causes"][0]["field"] == "metadata.labels"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": None}, "Object 'Kind' is missing"),
        ({"apiVersion": "argoproj.io/v1"}, "does not match the expected API version"),
        ({"metadata": {"name": "guestbook", "namespace": "other"}}, "namespace"),
    ],
)
def test_envelope_mistakes_are_bad_requests(custom, change, message):
    app = {key: value for key, value in {**guestbook(), **change}.items() if value is not None}
    with pytest.raises(ApiException) as caught:
        custom.create_namespaced_custom_object(*APPS, app)
    assert caught.value.status == 400
    assert message in error_status(caught.value)["message"]


def test_application_has_no_status_endpoint(custom):
    custom.create_namespaced_custom_object(*APPS, guestbook())
    with pytest.raises(ApiException) as caught:
        custom.get_namespaced_custom_object_status(*APPS, "guestbook")
    assert caught.value.status == 404


def test_seeding_checks_the_schema_too(kube):
    app = guestbook()
    app["spec"]["destination"] = "in-cluster"
    with pytest.raises(KubeAPIError, match=r"spec\.destination: Invalid value") as caught:
        kube.add(app)
    assert caught.value.code == 422


def test_registered_crds_with_a_status_subresource(kube, custom):
    kube.register_crd(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "names": {"kind": "Widget", "plural": "widgets"},
                "scope": "Namespaced",
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "subresources": {"status": {}},
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "properties": {
                                    "spec": {
                                        "type": "object",
                                        "properties": {"size": {"type": "integer"}},
                                    },
                                    "status": {
                                        "type": "object",
                                        "properties": {"ready": {"type": "boolean"}},
                                    },
                                },
                            }
                        },
                    }
                ],
            },
        }
    )
    widgets = ("example.com", "v1", "ns", "widgets")
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 1},
        "status": {"ready": True},
    }
    created = custom.create_namespaced_custom_object(*widgets, widget)
    assert "status" not in created  # a status subresource ignores status on create
    status = custom.patch_namespaced_custom_object_status(
        *widgets, "w", {"status": {"ready": True}}
    )
    assert status["status"] == {"ready": True}
    assert status["metadata"]["generation"] == 1
    resized = custom.patch_namespaced_custom_object(*widgets, "w", {"spec": {"size": 2}})
    assert resized["metadata"]["generation"] == 2
    assert resized["status"] == {"ready": True}


def test_crd_files_are_package_data():
    names = sorted(path.name for path in Path(CRD_DIRECTORY).glob("*.yaml"))
    assert names == [
        "analysisruns.argoproj.io.yaml",
        "analysistemplates.argoproj.io.yaml",
        "applications.argoproj.io.yaml",
        "clusteranalysistemplates.argoproj.io.yaml",
    ]
    assert CRD_DIRECTORY.parent.name == "testing"
