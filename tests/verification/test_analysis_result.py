"""Reading a verification's phase, message and measurements from its AnalysisRun."""

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import kubernetes
import pytest
import yaml

from kargo_dagster.freight import Freight, FreightOrigin, GitCommit, Image
from kargo_dagster.spec import load_manifests
from kargo_dagster.testing.analysis_sim import AnalysisRunSimulator
from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.verification.analysis_result import (
    VerificationPhase,
    terminate_patch,
    verification_result,
)
from kargo_dagster.verification.analysis_run import (
    analysis_run_selector,
    build_analysis_run,
    freight_collection_id,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "analysis"
ARGO = ("argoproj.io", "v1alpha1")
COLLECTION = {
    "app": Freight(
        origin=FreightOrigin(name="app"),
        images=(Image(repo_url="registry.example.com/demo/app", tag="1.4.0", digest="sha256:0f"),),
    ),
    "config": Freight(
        origin=FreightOrigin(name="config"),
        commits=(GitCommit(repo_url="https://git.example.com/demo/config.git", id="c" * 40),),
    ),
}


def run(phase: str | None = None, *, terminate: bool = False, **status: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisRun",
        "metadata": {"name": "uat.01j9zx.e9a2868", "namespace": "kargo-demo"},
        "spec": {"metrics": [{"name": "up", "provider": {"web": {"url": "http://app"}}}]},
    }
    if terminate:
        body["spec"]["terminate"] = True
    if phase is not None:
        status["phase"] = phase
    if status:
        body["status"] = status
    return body


# --- Phases -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("analysis_phase", "phase", "terminal"),
    [
        (None, VerificationPhase.PENDING, False),
        ("", VerificationPhase.PENDING, False),
        ("Pending", VerificationPhase.PENDING, False),
        ("Running", VerificationPhase.RUNNING, False),
        ("Successful", VerificationPhase.SUCCESSFUL, True),
        ("Failed", VerificationPhase.FAILED, True),
        ("Error", VerificationPhase.ERROR, True),
        ("Inconclusive", VerificationPhase.INCONCLUSIVE, True),
    ],
)
def test_the_analysis_phase_is_the_verification_phase(
    analysis_phase: str | None, phase: VerificationPhase, terminal: bool
):
    result = verification_result(run(analysis_phase))
    assert result.phase is phase
    assert result.terminal is terminal
    assert result.passed is (phase is VerificationPhase.SUCCESSFUL)
    assert result.analysis_phase == (analysis_phase or "")


def test_an_unknown_phase_is_an_error_rather_than_a_wait():
    result = verification_result(run("Degraded", message="provider exploded"))
    assert (result.phase, result.terminal) == (VerificationPhase.ERROR, True)
    assert result.message == "the AnalysisRun is in an unknown phase 'Degraded': provider exploded"


def test_the_message_is_argo_rollouts_own():
    message = 'Metric "up" assessed Failed due to failed (1) > failureLimit (0)'
    result = verification_result(run("Failed", message=message))
    assert result.message == message
    assert result.description == f"Failed: {message}"
    assert verification_result(run("Successful")).description == "Successful"


@pytest.mark.parametrize(
    ("analysis_phase", "message"),
    [(None, None), ("Pending", None), ("Running", None), ("Successful", "Run Terminated")],
)
def test_a_terminated_run_is_aborted(analysis_phase: str | None, message: str | None):
    status = {"message": message} if message else {}
    result = verification_result(run(analysis_phase, terminate=True, **status))
    assert (result.phase, result.terminal, result.passed) == (
        VerificationPhase.ABORTED,
        True,
        False,
    )
    assert result.message == "Verification aborted: the AnalysisRun was terminated"


def test_a_run_that_completed_before_termination_keeps_its_phase():
    failed = verification_result(run("Failed", terminate=True, message="Metric failed"))
    assert (failed.phase, failed.message) == (VerificationPhase.FAILED, "Metric failed")
    done = verification_result(run("Successful", terminate=True))
    assert done.phase is VerificationPhase.SUCCESSFUL


def test_the_terminate_patch_is_kargos():
    assert terminate_patch() == {"spec": {"terminate": True}}


# --- Measurements -----------------------------------------------------------------------------


def measurement(phase: str, value: str | None, minute: int, **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {
        "phase": phase,
        "startedAt": f"2025-03-01T09:{minute:02d}:00Z",
        "finishedAt": f"2025-03-01T09:{minute:02d}:01Z",
        **extra,
    }
    if value is not None:
        m["value"] = value
    return m


FAILED_RUN = run(
    "Failed",
    message='Metric "latency" assessed Failed due to failed (2) > failureLimit (1)',
    startedAt="2025-03-01T09:00:00Z",
    completedAt="2025-03-01T09:03:01Z",
    metricResults=[
        {
            "name": "smoke",
            "phase": "Successful",
            "count": 1,
            "successful": 1,
            "dryRun": True,
            "measurements": [measurement("Successful", "ok", 0)],
        },
        {
            "name": "latency",
            "phase": "Failed",
            "count": 3,
            "successful": 1,
            "failed": 2,
            "error": 1,
            "consecutiveError": 0,
            "message": "Get https://bot:hunter2@metrics.example.com/q: EOF",
            "measurements": [
                measurement("Successful", "[0.31]", 0),
                measurement(
                    "Error",
                    None,
                    1,
                    message="Get https://bot:hunter2@metrics.example.com/q: EOF",
                ),
                measurement("Failed", "[0.72]", 2),
                measurement("Failed", "[0.81]", 3),
            ],
        },
    ],
)


def test_the_measurement_table_for_check_metadata():
    result = verification_result(FAILED_RUN)
    assert result.to_json() == {
        "phase": "Failed",
        "terminal": True,
        "message": 'Metric "latency" assessed Failed due to failed (2) > failureLimit (1)',
        "analysisRun": {"namespace": "kargo-demo", "name": "uat.01j9zx.e9a2868", "phase": "Failed"},
        "startedAt": "2025-03-01T09:00:00Z",
        "completedAt": "2025-03-01T09:03:01Z",
        "metrics": [
            {
                "metric": "smoke",
                "phase": "Successful",
                "count": 1,
                "successful": 1,
                "failed": 0,
                "inconclusive": 0,
                "error": 0,
                "dryRun": True,
            },
            {
                "metric": "latency",
                "phase": "Failed",
                "count": 3,
                "successful": 1,
                "failed": 2,
                "inconclusive": 0,
                "error": 1,
                "message": "Get https://bot:xxxxx@metrics.example.com/q: EOF",
            },
        ],
        "measurements": [
            {
                "metric": "smoke",
                "phase": "Successful",
                "value": "ok",
                "startedAt": "2025-03-01T09:00:00Z",
                "finishedAt": "2025-03-01T09:00:01Z",
            },
            {
                "metric": "latency",
                "phase": "Successful",
                "value": "[0.31]",
                "startedAt": "2025-03-01T09:00:00Z",
                "finishedAt": "2025-03-01T09:00:01Z",
            },
            {
                "metric": "latency",
                "phase": "Error",
                "value": "",
                "startedAt": "2025-03-01T09:01:00Z",
                "finishedAt": "2025-03-01T09:01:01Z",
                "message": "Get https://bot:xxxxx@metrics.example.com/q: EOF",
            },
            {
                "metric": "latency",
                "phase": "Failed",
                "value": "[0.72]",
                "startedAt": "2025-03-01T09:02:00Z",
                "finishedAt": "2025-03-01T09:02:01Z",
            },
            {
                "metric": "latency",
                "phase": "Failed",
                "value": "[0.81]",
                "startedAt": "2025-03-01T09:03:00Z",
                "finishedAt": "2025-03-01T09:03:01Z",
            },
        ],
    }
    assert "hunter2" not in yaml.safe_dump(result.to_json())


def test_only_the_latest_measurements_of_each_metric_are_kept():
    result = verification_result(FAILED_RUN, measurement_limit=2)
    assert [(m.metric, m.value) for m in result.measurements] == [
        ("smoke", "ok"),
        ("latency", "[0.72]"),
        ("latency", "[0.81]"),
    ]
    assert [m.omitted for m in result.metrics] == [0, 2]
    assert result.to_json()["metrics"][1]["omittedMeasurements"] == 2
    none = verification_result(FAILED_RUN, measurement_limit=0)
    assert none.measurements == () and [m.omitted for m in none.metrics] == [1, 4]
    with pytest.raises(ValueError, match="must not be negative"):
        verification_result(FAILED_RUN, measurement_limit=-1)


def test_a_run_without_status_has_empty_tables():
    result = verification_result(run())
    assert result.to_json() == {
        "phase": "Pending",
        "terminal": False,
        "message": "",
        "analysisRun": {"namespace": "kargo-demo", "name": "uat.01j9zx.e9a2868", "phase": ""},
        "startedAt": "",
        "completedAt": "",
        "metrics": [],
        "measurements": [],
    }


# --- Against the Rollouts controller's part, through the Kubernetes API ------------------------


class ClusterTemplates:
    """AnalysisTemplates read from the Kubernetes API, as a cluster-backed source would."""

    def __init__(self, custom: kubernetes.client.CustomObjectsApi) -> None:
        self.custom = custom

    def analysis_template(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        try:
            found = self.custom.get_namespaced_custom_object(
                *ARGO, namespace, "analysistemplates", name
            )
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return None
            raise
        return cast(dict[str, Any], found)["spec"]

    def cluster_analysis_template(self, name: str) -> Mapping[str, Any] | None:
        try:
            found = self.custom.get_cluster_custom_object(*ARGO, "clusteranalysistemplates", name)
        except kubernetes.client.ApiException as error:
            if error.status == 404:
                return None
            raise
        return cast(dict[str, Any], found)["spec"]


@pytest.fixture
def custom() -> Iterator[tuple[FakeKubeAPI, kubernetes.client.CustomObjectsApi]]:
    with FakeKubeAPI() as kube:
        client = kube.api_client()
        try:
            yield kube, kubernetes.client.CustomObjectsApi(client)
        finally:
            client.close()


def install_templates(custom: kubernetes.client.CustomObjectsApi) -> None:
    """Store the fixture's templates in the cluster, as ``kubectl apply`` would."""
    for document in yaml.safe_load_all((FIXTURES / "kargo-demo.yaml").read_text()):
        if document["kind"] == "AnalysisTemplate":
            custom.create_namespaced_custom_object(
                *ARGO, document["metadata"]["namespace"], "analysistemplates", document
            )
        elif document["kind"] == "ClusterAnalysisTemplate":
            custom.create_cluster_custom_object(*ARGO, "clusteranalysistemplates", document)


def start_verification(custom: kubernetes.client.CustomObjectsApi) -> dict[str, Any]:
    uat = load_manifests(FIXTURES).projects["kargo-demo"].stages["uat"]
    install_templates(custom)
    built = build_analysis_run(uat, COLLECTION, ClusterTemplates(custom))
    created = custom.create_namespaced_custom_object(*ARGO, "kargo-demo", "analysisruns", built)
    return cast(dict[str, Any], created)


def read_back(custom: kubernetes.client.CustomObjectsApi, name: str) -> dict[str, Any]:
    found = custom.get_namespaced_custom_object(*ARGO, "kargo-demo", "analysisruns", name)
    return cast(dict[str, Any], found)


def test_a_built_run_is_created_measured_and_read_as_successful(custom):
    kube, api = custom
    created = start_verification(api)
    name = created["metadata"]["name"]
    assert verification_result(created).phase is VerificationPhase.PENDING

    listed = api.list_namespaced_custom_object(
        *ARGO,
        "kargo-demo",
        "analysisruns",
        label_selector=analysis_run_selector("uat", freight_collection_id(COLLECTION)),
    )
    assert [r["metadata"]["name"] for r in listed["items"]] == [name]

    analysis = AnalysisRunSimulator(kube)
    analysis.step()
    analysis.step()
    running = verification_result(read_back(api, name))
    assert (running.phase, running.terminal) == (VerificationPhase.RUNNING, False)
    assert [m.metric for m in running.metrics] == ["smoke", "p99-latency", "error-rate"]

    analysis.settle()
    result = verification_result(read_back(api, name))
    assert (result.phase, result.passed) == (VerificationPhase.SUCCESSFUL, True)
    assert [(m.metric, m.phase, m.count) for m in result.metrics] == [
        ("smoke", "Successful", 1),
        ("p99-latency", "Successful", 5),
        ("error-rate", "Successful", 4),
    ]
    assert {m.value for m in result.measurements} == {"1"}


def test_a_failing_metric_fails_the_verification_with_its_reason(custom):
    kube, api = custom
    name = start_verification(api)["metadata"]["name"]
    analysis = AnalysisRunSimulator(kube)
    analysis.set_outcome("Failed", metric="error-rate")
    analysis.settle()
    result = verification_result(read_back(api, name))
    assert (result.phase, result.terminal) == (VerificationPhase.FAILED, True)
    assert result.message == (
        'Metric "error-rate" assessed Failed due to failed (1) > failureLimit (0)'
    )
    assert ("error-rate", "Failed", "0") in {
        (m.metric, m.phase, m.value) for m in result.measurements
    }


def test_aborting_a_running_verification(custom):
    kube, api = custom
    name = start_verification(api)["metadata"]["name"]
    analysis = AnalysisRunSimulator(kube)
    analysis.step()
    analysis.step()
    api.patch_namespaced_custom_object(*ARGO, "kargo-demo", "analysisruns", name, terminate_patch())
    assert verification_result(read_back(api, name)).phase is VerificationPhase.ABORTED
    analysis.settle()
    finished = read_back(api, name)
    assert (finished["status"]["phase"], finished["status"]["message"]) == (
        "Successful",
        "Run Terminated",
    )
    result = verification_result(finished)
    assert (result.phase, result.passed) == (VerificationPhase.ABORTED, False)
