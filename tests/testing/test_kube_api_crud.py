"""The fake API server's verbs and object lifecycle, seen through the real ``kubernetes`` client."""

import kubernetes
import pytest
from kubernetes.client import ApiException

from kargo_dagster.testing.argocd_sim import application
from kargo_dagster.testing.kube_api import config_map, error_status, secret

ARGO = ("argoproj.io", "v1alpha1")
APPS = (*ARGO, "argocd", "applications")


def guestbook() -> dict:
    return application("guestbook", "https://github.com/acme/deploy.git", "main")


def test_create_sets_identity_and_get_returns_the_stored_object(custom):
    created = custom.create_namespaced_custom_object(*APPS, guestbook())
    meta = created["metadata"]
    assert meta["generation"] == 1
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z")
    assert meta["resourceVersion"].isdigit()
    assert custom.get_namespaced_custom_object(*APPS, "guestbook") == created
    listed = custom.list_namespaced_custom_object(*APPS)
    assert listed["kind"] == "ApplicationList"
    assert listed["items"] == [created]


def test_resource_version_moves_on_each_change_and_not_on_a_no_op(custom):
    first = custom.create_namespaced_custom_object(*APPS, guestbook())["metadata"]
    patch = {"metadata": {"annotations": {"team": "web"}}}
    second = custom.patch_namespaced_custom_object(*APPS, "guestbook", patch)["metadata"]
    assert int(second["resourceVersion"]) > int(first["resourceVersion"])
    again = custom.patch_namespaced_custom_object(*APPS, "guestbook", patch)["metadata"]
    assert again["resourceVersion"] == second["resourceVersion"]


def test_generation_follows_kubernetes_rules_for_a_crd_without_status_subresource(custom):
    custom.create_namespaced_custom_object(*APPS, guestbook())

    def generation_after(patch) -> int:
        return custom.patch_namespaced_custom_object(*APPS, "guestbook", patch)["metadata"][
            "generation"
        ]

    assert generation_after({"metadata": {"labels": {"tier": "web"}}}) == 1
    assert generation_after({"spec": {"source": {"targetRevision": "v2"}}}) == 2
    # Application has no status subresource: status is content like spec, as real Argo CD
    # apps with generations in the thousands show.
    assert generation_after({"status": {"health": {"status": "Healthy"}}}) == 3
    assert generation_after({"operation": {"sync": {}}}) == 4


def test_status_subresource_of_jobs(batch):
    job = {
        "metadata": {"name": "migrate"},
        "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "busybox"}]}}},
        "status": {"succeeded": 1},
    }
    created = batch.create_namespaced_job("kargo-demo", job)
    assert created.status.succeeded is None  # the status sent on create is ignored
    assert created.metadata.generation == 1
    body = {"status": {"active": 1}, "spec": {"parallelism": 5}}
    after_status = batch.patch_namespaced_job_status("migrate", "kargo-demo", body)
    assert after_status.status.active == 1
    assert after_status.spec.parallelism is None  # /status changes nothing else
    assert after_status.metadata.generation == 1
    after_spec = batch.patch_namespaced_job("migrate", "kargo-demo", body)
    assert after_spec.spec.parallelism == 5
    assert after_spec.status.active == 1  # the object's writes keep the stored status
    assert after_spec.metadata.generation == 2


def test_a_missing_object_is_a_not_found_status(custom, core):
    with pytest.raises(ApiException) as caught:
        custom.get_namespaced_custom_object(*APPS, "nope")
    assert caught.value.status == 404
    assert error_status(caught.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'applications.argoproj.io "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "group": "argoproj.io", "kind": "applications"},
        "code": 404,
    }
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_secret("nope", "kargo-demo")
    assert error_status(caught.value)["details"] == {"name": "nope", "kind": "secrets"}


def test_creating_an_existing_object_is_already_exists(custom):
    custom.create_namespaced_custom_object(*APPS, guestbook())
    with pytest.raises(ApiException) as caught:
        custom.create_namespaced_custom_object(*APPS, guestbook())
    assert caught.value.status == 409
    assert error_status(caught.value)["reason"] == "AlreadyExists"
    assert error_status(caught.value)["message"] == (
        'applications.argoproj.io "guestbook" already exists'
    )


def test_create_refuses_a_resource_version_and_honours_generate_name(custom):
    app = guestbook()
    app["metadata"]["resourceVersion"] = "12"
    with pytest.raises(ApiException) as caught:
        custom.create_namespaced_custom_object(*APPS, app)
    assert caught.value.status == 500
    assert "resourceVersion should not be set" in error_status(caught.value)["message"]
    app = guestbook()
    app["metadata"] = {"generateName": "guestbook-", "namespace": "argocd"}
    name = custom.create_namespaced_custom_object(*APPS, app)["metadata"]["name"]
    assert name.startswith("guestbook-") and len(name) == len("guestbook-") + 5


def test_replace_needs_the_current_resource_version(custom):
    created = custom.create_namespaced_custom_object(*APPS, guestbook())
    changed = guestbook()
    changed["spec"]["project"] = "shop"
    with pytest.raises(ApiException) as caught:
        custom.replace_namespaced_custom_object(*APPS, "guestbook", changed)
    assert caught.value.status == 422
    assert error_status(caught.value)["message"] == (
        'Application.argoproj.io "guestbook" is invalid: metadata.resourceVersion: '
        "Invalid value: 0x0: must be specified for an update"
    )
    changed["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    replaced = custom.replace_namespaced_custom_object(*APPS, "guestbook", changed)
    assert replaced["spec"]["project"] == "shop"
    assert replaced["metadata"]["uid"] == created["metadata"]["uid"]
    with pytest.raises(ApiException) as caught:
        custom.replace_namespaced_custom_object(*APPS, "guestbook", changed)
    assert caught.value.status == 409
    assert error_status(caught.value)["reason"] == "Conflict"


def test_the_name_on_the_url_must_match_the_body(custom):
    created = custom.create_namespaced_custom_object(*APPS, guestbook())
    with pytest.raises(ApiException) as caught:
        custom.replace_namespaced_custom_object(*APPS, "other", created)
    assert caught.value.status == 400
    assert "does not match the name on the URL" in error_status(caught.value)["message"]


def test_delete_returns_the_object_and_finalizers_hold_it(kube, custom):
    custom.create_namespaced_custom_object(*APPS, guestbook())
    deleted = custom.delete_namespaced_custom_object(*APPS, "guestbook")
    assert deleted["metadata"]["name"] == "guestbook"
    assert kube.find("argoproj.io/v1alpha1", "Application", "argocd", "guestbook") is None

    app = guestbook()
    app["metadata"]["finalizers"] = ["resources-finalizer.argocd.argoproj.io"]
    custom.create_namespaced_custom_object(*APPS, app)
    held = custom.delete_namespaced_custom_object(*APPS, "guestbook")
    assert held["metadata"]["deletionTimestamp"]
    assert custom.get_namespaced_custom_object(*APPS, "guestbook")["metadata"]["deletionTimestamp"]
    custom.patch_namespaced_custom_object(*APPS, "guestbook", {"metadata": {"finalizers": None}})
    with pytest.raises(ApiException) as caught:
        custom.get_namespaced_custom_object(*APPS, "guestbook")
    assert caught.value.status == 404


def test_delete_preconditions(custom):
    created = custom.create_namespaced_custom_object(*APPS, guestbook())
    old = created["metadata"]["resourceVersion"]
    custom.patch_namespaced_custom_object(*APPS, "guestbook", {"spec": {"project": "shop"}})
    stale = kubernetes.client.V1DeleteOptions(
        preconditions=kubernetes.client.V1Preconditions(resource_version=old)
    )
    with pytest.raises(ApiException) as caught:
        custom.delete_namespaced_custom_object(*APPS, "guestbook", body=stale)
    assert caught.value.status == 409
    assert f"Precondition failed: ResourceVersion in precondition: {old}" in str(caught.value.body)
    current = kubernetes.client.V1DeleteOptions(
        preconditions=kubernetes.client.V1Preconditions(uid=created["metadata"]["uid"])
    )
    custom.delete_namespaced_custom_object(*APPS, "guestbook", body=current)


def test_cluster_scoped_cluster_analysis_templates(custom):
    template = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ClusterAnalysisTemplate",
        "metadata": {"name": "smoke", "namespace": "ignored"},
        "spec": {"metrics": [{"name": "up", "provider": {"web": {"url": "http://app/health"}}}]},
    }
    created = custom.create_cluster_custom_object(*ARGO, "clusteranalysistemplates", template)
    assert "namespace" not in created["metadata"]
    assert custom.get_cluster_custom_object(*ARGO, "clusteranalysistemplates", "smoke") == created
    listed = custom.list_cluster_custom_object(*ARGO, "clusteranalysistemplates")
    assert [item["metadata"]["name"] for item in listed["items"]] == ["smoke"]
    with pytest.raises(ApiException) as caught:
        custom.list_namespaced_custom_object(*ARGO, "kargo-demo", "clusteranalysistemplates")
    assert caught.value.status == 404


def test_namespaced_kinds_list_across_namespaces(kube, custom, core):
    kube.add(guestbook())
    kube.add(application("shop", "https://github.com/acme/deploy.git", namespace="apps"))
    everywhere = custom.list_custom_object_for_all_namespaces(*ARGO, "applications")
    assert [i["metadata"]["namespace"] for i in everywhere["items"]] == ["apps", "argocd"]
    kube.add(secret("a", "one", {}))
    kube.add(secret("b", "two", {}))
    assert [s.metadata.name for s in core.list_secret_for_all_namespaces().items] == [
        "one",
        "two",
    ]


def test_secrets_fold_string_data_into_data(core):
    body = kubernetes.client.V1Secret(
        metadata=kubernetes.client.V1ObjectMeta(name="creds"), string_data={"password": "pw"}
    )
    created = core.create_namespaced_secret("kargo-demo", body)
    assert created.data == {"password": "cHc="}
    assert created.string_data is None


def test_pods_have_a_status_subresource_and_logs(kube, core):
    pod = kubernetes.client.V1Pod(
        metadata=kubernetes.client.V1ObjectMeta(name="step-1"),
        spec=kubernetes.client.V1PodSpec(
            containers=[kubernetes.client.V1Container(name="main", image="busybox")]
        ),
    )
    created = core.create_namespaced_pod("kargo-demo", pod)
    assert created.status.phase == "Pending"
    done = core.patch_namespaced_pod_status(
        "step-1", "kargo-demo", {"status": {"phase": "Succeeded"}}
    )
    assert done.status.phase == "Succeeded"
    kube.set_pod_log("kargo-demo", "step-1", "hello\n")
    # The client hands text responses back undecoded when asked for the raw response.
    response = core.read_namespaced_pod_log("step-1", "kargo-demo", _preload_content=False)
    assert response.data == b"hello\n"


def test_events_are_created_and_selected_by_field(core):
    for name, reason in (("a", "OperationStarted"), ("b", "OperationCompleted")):
        core.create_namespaced_event(
            "argocd",
            kubernetes.client.CoreV1Event(
                metadata=kubernetes.client.V1ObjectMeta(name=name),
                involved_object=kubernetes.client.V1ObjectReference(
                    kind="Application", name="guestbook", namespace="argocd"
                ),
                reason=reason,
                message="kargo-controller initiated sync to v2",
            ),
        )
    selected = core.list_namespaced_event(
        "argocd", field_selector="involvedObject.name=guestbook,reason=OperationStarted"
    )
    assert [e.metadata.name for e in selected.items] == ["a"]


def test_dry_run_validates_without_storing(kube, custom):
    created = custom.create_namespaced_custom_object(*APPS, guestbook(), dry_run="All")
    assert created["metadata"]["name"] == "guestbook"
    assert kube.find("argoproj.io/v1alpha1", "Application", "argocd", "guestbook") is None


def test_delete_collection_by_label(kube, core):
    kube.add(config_map("ns", "a", {}, {"app": "x"}))
    kube.add(config_map("ns", "b", {}, {"app": "y"}))
    core.delete_collection_namespaced_config_map("ns", label_selector="app=x")
    assert [c.metadata.name for c in core.list_namespaced_config_map("ns").items] == ["b"]


def test_discovery_lists_the_served_resources(client):
    resources = kubernetes.client.CustomObjectsApi(client).get_api_resources(*ARGO)
    assert isinstance(resources, kubernetes.client.V1APIResourceList)
    names = {r.name: r.namespaced for r in resources.resources or []}
    assert names == {
        "analysisruns": True,
        "analysistemplates": True,
        "applications": True,
        "clusteranalysistemplates": False,
    }
    version = kubernetes.client.VersionApi(client).get_code()
    assert isinstance(version, kubernetes.client.VersionInfo)
    assert version.major == "1"


def test_watch_and_unknown_paths_are_refused_clearly(kube, custom):
    with pytest.raises(ApiException) as caught:
        custom.list_namespaced_custom_object(*APPS, watch=True)
    assert caught.value.status == 400
    assert "does not serve watch" in error_status(caught.value)["message"]
    with pytest.raises(ApiException) as caught:
        custom.list_namespaced_custom_object("example.com", "v1", "ns", "widgets")
    assert error_status(caught.value)["message"] == (
        "the server could not find the requested resource"
    )


def test_add_serves_unknown_kinds_and_requests_are_recorded(kube, custom):
    kube.add(
        {
            "apiVersion": "example.com/v1",
            "kind": "Widget",
            "metadata": {"name": "w", "namespace": "ns"},
            "spec": {"anything": True},
        },
        plural="widgetz",
    )
    assert custom.get_namespaced_custom_object("example.com", "v1", "ns", "widgetz", "w")["spec"]
    method, path = kube.requests[-1][:2]
    assert (method, path) == ("GET", "/apis/example.com/v1/namespaces/ns/widgetz/w")
    assert kube.requests[-1].status == 200
