"""The Argo CD simulator drives Applications through Argo CD's state machine.

Clients here write Applications the way Kargo's argocd-update does (a merge patch carrying
the resourceVersion, the hard-refresh annotation and ``.operation``) through the real
``kubernetes`` client, and read what a real Argo CD would have written.
"""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import kubernetes
import pytest
import yaml
from kubernetes.client import ApiException

from kargo_dagster.testing.argocd_sim import REFRESH_ANNOTATION, ArgoCDSimulator, application
from kargo_dagster.testing.git_remote import GitRemote
from kargo_dagster.testing.kube_api import FakeKubeAPI, error_status
from kargo_dagster.testing.polling import wait_until
from kargo_dagster.testing.simulated_controller import SimulatorError

APPS = ("argoproj.io", "v1alpha1", "argocd", "applications")
REPO = "https://github.com/acme/deploy.git"
SHA_A, SHA_B, SHA_C = "a" * 40, "b" * 40, "c" * 40
FIXTURES = Path(__file__).parent.parent / "fixtures" / "argocd"


class Clock:
    """A clock that moves one second each time it is read, so every write has its time."""

    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def kube() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI(clock=Clock()) as server:
        yield server


@pytest.fixture
def argocd(kube) -> ArgoCDSimulator:
    simulator = ArgoCDSimulator(kube)
    simulator.set_revision(REPO, "main", SHA_A)
    simulator.set_revision(REPO, "stage", SHA_B)
    simulator.set_revision(REPO, "prod", SHA_C)
    return simulator


@pytest.fixture
def deployed(kube, argocd, custom) -> dict:
    """guestbook, deployed at main (SHA_A) and Healthy."""
    kube.add(application("guestbook", REPO, "main"))
    argocd.settle()
    kargo_update(custom, "stage")
    argocd.settle()
    kargo_update(custom, "main")
    argocd.settle()
    app = get(custom)
    assert (app["status"]["sync"]["status"], app["status"]["health"]["status"]) == (
        "Synced",
        "Healthy",
    )
    return app


def get(custom, name: str = "guestbook") -> dict:
    return custom.get_namespaced_custom_object(*APPS, name)


def kargo_update(custom, target_revision: str, name: str = "guestbook", promotion: str = "p1"):
    """What Kargo's argocd-update writes to start a sync."""
    live = get(custom, name)
    patch = {
        "metadata": {
            "resourceVersion": live["metadata"]["resourceVersion"],
            "annotations": {REFRESH_ANNOTATION: "hard"},
        },
        "spec": {"source": {"targetRevision": target_revision}},
        "operation": {
            "initiatedBy": {"username": "kargo-controller", "automated": True},
            "info": [
                {"name": "Reason", "value": "Promotion triggered a sync of this Application."},
                {"name": "kargo.akuity.io/promotion", "value": promotion},
            ],
            "sync": {},
        },
        "status": {"operationState": None},
    }
    return custom.patch_namespaced_custom_object(*APPS, name, patch)


def test_a_new_app_is_reconciled_out_of_sync(kube, argocd, custom):
    kube.add(application("guestbook", REPO, "main"))
    assert argocd.settle() == 1
    status = get(custom)["status"]
    assert status["sync"]["status"] == "OutOfSync"
    assert status["sync"]["revision"] == SHA_A
    assert status["sync"]["comparedTo"]["source"]["targetRevision"] == "main"
    assert status["health"]["status"] == "Missing"
    assert status["reconciledAt"]


def test_a_kargo_sync_walks_the_application_state_machine(argocd, custom, deployed):
    history_before = len(deployed["status"]["history"])
    kargo_update(custom, "stage")
    argocd.step()  # the refresh loop answers the annotation first
    app = get(custom)
    assert REFRESH_ANNOTATION not in app["metadata"]["annotations"]
    assert (app["status"]["sync"]["status"], app["status"]["sync"]["revision"]) == (
        "OutOfSync",
        SHA_B,
    )
    assert app["status"]["health"]["status"] == "Healthy"
    assert "operationState" not in app["status"] and "operation" in app

    argocd.step()  # the operation starts
    app = get(custom)
    state = app["status"]["operationState"]
    assert state["phase"] == "Running" and state["startedAt"]
    assert state["operation"]["info"][1] == {"name": "kargo.akuity.io/promotion", "value": "p1"}
    assert "operation" in app

    argocd.step()  # manifests applied
    state = get(custom)["status"]["operationState"]
    assert state["syncResult"]["revision"] == SHA_B
    assert state["syncResult"]["resources"][0]["status"] == "Synced"
    assert state["message"] == "waiting for healthy state of apps/Deployment/guestbook"

    argocd.step()  # done: the operation goes in the same write
    app = get(custom)
    state = app["status"]["operationState"]
    assert (state["phase"], state["message"]) == (
        "Succeeded",
        "successfully synced (all tasks run)",
    )
    assert state["finishedAt"]
    assert "operation" not in app
    entry = app["status"]["history"][-1]
    assert len(app["status"]["history"]) == history_before + 1
    assert entry["revision"] == SHA_B
    assert entry["source"]["targetRevision"] == "stage"
    assert entry["initiatedBy"] == {"username": "kargo-controller", "automated": True}
    assert entry["id"] == app["status"]["history"][-2]["id"] + 1
    assert app["status"]["reconciledAt"] < state["finishedAt"]

    argocd.step()  # the forced refresh after the operation
    status = get(custom)["status"]
    assert (status["sync"]["status"], status["sync"]["revision"]) == ("Synced", SHA_B)
    assert status["reconciledAt"] >= status["operationState"]["finishedAt"]
    assert status["health"]["status"] == "Progressing"

    argocd.step()
    assert get(custom)["status"]["health"]["status"] == "Healthy"
    assert argocd.step() == 0


def test_a_sync_records_an_operation_completed_event(kube, argocd, custom, deployed):
    events = sorted(kube.list_objects("v1", "Event", "argocd"), key=lambda e: e["lastTimestamp"])
    assert [(e["reason"], e["type"]) for e in events][-1] == ("OperationCompleted", "Normal")
    assert events[-1]["message"] == f"Sync operation to {SHA_A} succeeded"
    assert events[-1]["involvedObject"]["name"] == "guestbook"


def test_a_failed_sync(kube, argocd, custom, deployed):
    argocd.fail_next_sync("guestbook")
    kargo_update(custom, "stage")
    argocd.settle()
    app = get(custom)
    state = app["status"]["operationState"]
    assert state["phase"] == "Failed"
    assert state["message"].startswith("one or more objects failed to apply")
    assert state["syncResult"]["resources"][0]["status"] == "SyncFailed"
    assert "operation" not in app
    assert app["status"]["history"] == deployed["status"]["history"]
    assert app["status"]["sync"]["status"] == "OutOfSync"  # still deployed at main
    events = sorted(kube.list_objects("v1", "Event", "argocd"), key=lambda e: e["lastTimestamp"])
    assert events[-1]["type"] == "Warning" and "failed" in events[-1]["message"]


def test_an_error_outcome(argocd, custom, deployed):
    argocd.fail_next_sync("guestbook", phase="Error", message="ComparisonError: boom")
    kargo_update(custom, "stage")
    argocd.settle()
    assert get(custom)["status"]["operationState"]["phase"] == "Error"


def test_retries_follow_the_operation_retry_limit(argocd, custom, deployed):
    argocd.fail_next_sync("guestbook", times=1)
    live = kargo_update(custom, "stage")
    custom.patch_namespaced_custom_object(
        *APPS, "guestbook", {"operation": {"retry": {"limit": 2}}}
    )
    assert live["operation"]
    for _ in range(4):  # refresh, start, apply, fail
        argocd.step()
    state = get(custom)["status"]["operationState"]
    assert state["phase"] == "Running"
    assert state["finishedAt"] and state["retryCount"] == 1
    assert "Retrying attempt #1 at" in state["message"]
    argocd.settle()
    state = get(custom)["status"]["operationState"]
    assert (state["phase"], state["retryCount"]) == ("Succeeded", 1)

    argocd.fail_next_sync("guestbook", times=3)
    kargo_update(custom, "prod")
    custom.patch_namespaced_custom_object(
        *APPS, "guestbook", {"operation": {"retry": {"limit": 2}}}
    )
    argocd.settle()
    state = get(custom)["status"]["operationState"]
    assert state["phase"] == "Failed"
    assert state["message"].endswith("(retried 2 times).")


def test_slow_syncs_stay_running(argocd, custom, deployed):
    argocd.slow_syncs("guestbook", steps=3)
    kargo_update(custom, "stage")
    argocd.step()  # refresh
    for _ in range(2 + 3):  # start, apply, then three more steps
        argocd.step()
        assert get(custom)["status"]["operationState"]["phase"] == "Running"
    argocd.step()
    assert get(custom)["status"]["operationState"]["phase"] == "Succeeded"


def test_a_stalled_refresh_leaves_reconciled_at_behind(argocd, custom, deployed):
    argocd.stall_refresh("guestbook")
    kargo_update(custom, "stage")
    argocd.settle()
    app = get(custom)
    status = app["status"]
    assert status["operationState"]["phase"] == "Succeeded"
    # What Kargo's health check treats as not yet known: the operation finished after the
    # last reconciliation, and the sync status still shows the old revision.
    assert status["reconciledAt"] < status["operationState"]["finishedAt"]
    assert status["sync"]["revision"] == SHA_A
    assert app["metadata"]["annotations"][REFRESH_ANNOTATION] == "hard"
    argocd.resume_refresh("guestbook")
    argocd.settle()
    status = get(custom)["status"]
    assert (status["sync"]["status"], status["sync"]["revision"]) == ("Synced", SHA_B)
    assert status["reconciledAt"] >= status["operationState"]["finishedAt"]


def test_a_foreign_operation_in_progress(argocd, custom, deployed):
    argocd.start_foreign_sync("guestbook", username="alice", steps=2)
    app = get(custom)
    state = app["status"]["operationState"]
    assert state["phase"] == "Running"
    assert state["operation"]["initiatedBy"] == {"username": "alice"}
    assert "info" not in state["operation"]
    argocd.step()  # applied
    argocd.step()
    argocd.step()
    assert get(custom)["status"]["operationState"]["phase"] == "Running"
    argocd.step()
    state = get(custom)["status"]["operationState"]
    assert state["phase"] == "Succeeded"
    assert get(custom)["status"]["history"][-1]["initiatedBy"] == {"username": "alice"}


def test_a_conflict_on_the_next_write(argocd, custom, deployed):
    argocd.conflict_on_next_write("guestbook")
    with pytest.raises(ApiException) as caught:
        kargo_update(custom, "stage")
    assert caught.value.status == 409
    assert error_status(caught.value)["reason"] == "Conflict"
    kargo_update(custom, "stage")  # a retried GET and patch go through
    argocd.settle()
    assert get(custom)["status"]["sync"]["revision"] == SHA_B


def test_degraded_health(argocd, custom, deployed):
    argocd.health_after_sync(
        "guestbook",
        status="Degraded",
        message='Deployment "guestbook" exceeded its progress deadline',
    )
    kargo_update(custom, "stage")
    argocd.settle()
    health = get(custom)["status"]["health"]
    assert health["status"] == "Degraded"
    assert "progress deadline" in health["message"]
    argocd.set_health("guestbook", status="Healthy")
    assert get(custom)["status"]["health"]["status"] == "Healthy"


def test_a_missing_app(argocd, custom, deployed):
    argocd.remove_app("guestbook")
    with pytest.raises(ApiException) as caught:
        get(custom)
    assert caught.value.status == 404
    assert argocd.step() == 0


def test_an_unresolvable_revision_is_a_comparison_error(kube, argocd, custom):
    kube.add(application("guestbook", REPO, "no-such-branch"))
    argocd.settle()
    status = get(custom)["status"]
    assert status["sync"]["status"] == "Unknown"
    assert status["conditions"][0]["type"] == "ComparisonError"
    assert "unable to resolve 'no-such-branch'" in status["conditions"][0]["message"]


def test_an_operation_without_sync_is_an_error(argocd, custom, deployed):
    custom.patch_namespaced_custom_object(
        *APPS, "guestbook", {"operation": {"initiatedBy": {"username": "bob"}}}
    )
    argocd.settle()
    state = get(custom)["status"]["operationState"]
    assert (state["phase"], state["message"]) == (
        "Error",
        "Invalid operation request: no operation specified",
    )


def test_a_terminated_operation_fails(argocd, custom, deployed):
    argocd.slow_syncs("guestbook", steps=10)
    kargo_update(custom, "stage")
    argocd.step()
    argocd.step()
    custom.patch_namespaced_custom_object(
        *APPS, "guestbook", {"status": {"operationState": {"phase": "Terminating"}}}
    )
    argocd.step()
    state = get(custom)["status"]["operationState"]
    assert (state["phase"], state["message"]) == ("Failed", "Operation terminated")


def test_deleting_an_app_waits_for_argo_cd_finalizers(argocd, custom, kube):
    app = application("guestbook", REPO, "main")
    app["metadata"]["finalizers"] = ["resources-finalizer.argocd.argoproj.io"]
    kube.add(app)
    argocd.settle()
    custom.delete_namespaced_custom_object(*APPS, "guestbook")
    assert get(custom)["metadata"]["deletionTimestamp"]
    argocd.step()
    with pytest.raises(ApiException):
        get(custom)


def test_multi_source_apps_sync_revisions(kube, argocd, custom):
    sources = [
        {"repoURL": "https://charts.example.com", "chart": "web", "targetRevision": "1.2.0"},
        {"repoURL": REPO, "targetRevision": "main", "ref": "values"},
    ]
    kube.add(application("shop", "", sources=sources))
    argocd.settle()
    custom.patch_namespaced_custom_object(
        *APPS, "shop", {"operation": {"sync": {}, "initiatedBy": {"username": "kargo"}}}
    )
    argocd.settle()
    app = get(custom, "shop")
    result = app["status"]["operationState"]["syncResult"]
    assert result["revisions"] == ["1.2.0", SHA_A]
    assert app["status"]["sync"] == {
        "status": "Synced",
        "revisions": ["1.2.0", SHA_A],
        "comparedTo": {
            "destination": app["spec"]["destination"],
            "sources": app["spec"]["sources"],
        },
    }
    assert app["status"]["history"][-1]["revisions"] == ["1.2.0", SHA_A]


def test_revisions_resolve_from_a_local_git_repository(kube, custom, tmp_path):
    remote = GitRemote.create(tmp_path, "deploy")
    first = remote.commit("first", {"app.yaml": "replicas: 1\n"})
    remote.tag("v1.0.0", message="release")
    argocd = ArgoCDSimulator(kube)
    kube.add(application("guestbook", remote.url, "main"))
    kube.add(application("tagged", remote.url, "v1.0.0"))
    argocd.settle()
    assert get(custom)["status"]["sync"]["revision"] == first
    assert get(custom, "tagged")["status"]["sync"]["revision"] == first  # the tagged commit
    second = remote.commit("second", {"app.yaml": "replicas: 2\n"})
    custom.patch_namespaced_custom_object(
        *APPS, "guestbook", {"metadata": {"annotations": {REFRESH_ANNOTATION: "hard"}}}
    )
    argocd.settle()
    assert get(custom)["status"]["sync"]["revision"] == second


def test_auto_sync_starts_an_automated_operation(kube, argocd, custom):
    policy = {"automated": {"prune": True}, "syncOptions": ["CreateNamespace=true"]}
    kube.add(application("guestbook", REPO, "main", sync_policy=policy))
    argocd.step()  # refresh: OutOfSync, and the automated operation is requested
    app = get(custom)
    assert app["operation"]["initiatedBy"] == {"automated": True}
    assert app["operation"]["sync"] == {
        "prune": True,
        "revision": SHA_A,
        "syncOptions": ["CreateNamespace=true"],
    }
    argocd.settle()
    status = get(custom)["status"]
    assert (status["sync"]["status"], status["health"]["status"]) == ("Synced", "Healthy")


def test_a_recorded_synced_app_is_left_alone(kube):
    app = yaml.safe_load((FIXTURES / "argo-cd__controller__testdata__diff-cache.yaml").read_text())
    stored = kube.add(app)
    argocd = ArgoCDSimulator(kube, namespace="argo-cd")
    assert argocd.step() == 0
    assert kube.get("argoproj.io/v1alpha1", "Application", "argo-cd", "velero-test") == stored


def test_background_mode_serves_code_that_polls(kube, argocd, client, deployed):
    custom = kubernetes.client.CustomObjectsApi(client)
    with argocd.running(interval=0.01):
        kargo_update(custom, "stage")

        def synced() -> bool:
            status = get(custom)["status"]
            healthy = status["health"]["status"] == "Healthy"
            return status["sync"].get("revision") == SHA_B and healthy

        wait_until(synced, what=lambda: f"a healthy sync to B: {argocd.log}", interval=0.01)


def test_settle_reports_a_simulator_that_never_settles(argocd, custom, deployed):
    argocd.slow_syncs("guestbook", steps=1000)
    kargo_update(custom, "stage")
    with pytest.raises(SimulatorError, match="did not settle in 20 steps"):
        argocd.settle(max_steps=20)
