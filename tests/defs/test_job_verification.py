"""``job`` metrics without Argo Rollouts: the verified check runs their pod through Pipes.

The fake Kubernetes API's pod simulator runs each pod's command as a local process, so the
pod below is a Python script; dagster-k8s's ``PipesK8sClient`` creates it, follows its log
and deletes it, as against a cluster.
"""

import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import kubernetes
import pytest

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.resources import AnalysisPods, AnalysisSettings, KargoResource
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.testing.pod_sim import PodSimulator
from tests.defs.promotions import check_json, promote
from tests.manifests import (
    job_metric,
    verified_stage_manifests,
)

# The smoke test: reports its own verdict through Pipes, or just exits non-zero.
SMOKE = """\
import os, sys
from dagster_pipes import open_dagster_pipes

version = os.environ["VERSION"]
if version == "v0.0.0":
    print("no such version", flush=True)
    sys.exit(4)
with open_dagster_pipes() as pipes:
    pipes.log.info(f"smoke-testing {version}")
    pipes.report_custom_message({"value": "0.97"})
    pipes.report_asset_check(
        asset_key=pipes.get_extra("asset_key"),
        check_name=pipes.get_extra("check_name"),
        passed=version != "v6.6.6",
        metadata={"version": version, "metric": pipes.get_extra("metric")},
    )
"""

APP = "registry.example.com/shop/app"
DEV = dg.AssetKey(["shop", "stage", "dev"])


def manifests(path: Path) -> Path:
    """Stage dev, verified by a ``job`` metric whose pod runs ``SMOKE`` for the Freight's tag."""
    metric = job_metric(
        "smoke-test",
        "registry.example.com/shop/smoke:1",
        command=[sys.executable, "-c", SMOKE],
        container="smoke",
        env={"VERSION": "{{args.version}}"},
        labels={"team": "shop"},
    )
    return verified_stage_manifests(path, APP, metric)


@pytest.fixture
def kube() -> Iterator[FakeKubeAPI]:
    # PipesK8sClient loads its kubeconfig into the kubernetes client's process-wide default;
    # later tests must not inherit a configuration pointing at a stopped server.
    previous = kubernetes.client.Configuration.get_default_copy()
    try:
        with FakeKubeAPI() as api:
            yield api
    finally:
        kubernetes.client.Configuration.set_default(previous)


def verify(tmp_path: Path, instance, kube: FakeKubeAPI, version: str):
    pods = AnalysisPods(
        kubeconfig=str(kube.write_kubeconfig(tmp_path / "kubeconfig")),
        poll_interval_seconds=0.1,
    )
    kargo = KargoResource(
        work_dir=str(tmp_path / "work"), analysis=AnalysisSettings(pods=pods, timeout_seconds=60)
    )
    defs = load_definitions(manifests(tmp_path / "stages.yaml"), resources={"kargo": kargo})
    image = Image(repo_url=APP, tag=version, digest="sha256:" + "2" * 64)
    key = record_freight(
        instance, "shop", Freight(origin=FreightOrigin(name="app"), images=(image,))
    )
    simulator = PodSimulator(kube)
    with simulator.running():
        result = promote(defs, instance, DEV, key)
    verified = {e.check_name: e for e in result.get_asset_check_evaluations()}["verified"]
    return result, verified, simulator


def test_a_job_metric_runs_its_pod_and_the_pod_decides(tmp_path, instance, kube):
    result, verified, simulator = verify(tmp_path, instance, kube, "v1.2.3")
    assert verified.passed, verified.description
    assert verified.metadata["executedBy"].value == "kargo-dagster"
    [measurement] = check_json(verified, "verification")["measurements"]
    assert (measurement["metric"], measurement["phase"], measurement["value"]) == (
        "smoke-test",
        "Successful",
        "0.97",
    )
    # One pod, in the Project's namespace, labelled for the Stage and metric, then deleted.
    [run] = simulator.runs
    assert (run.namespace, run.exit_code) == ("shop", 0)
    assert kube.list_objects("v1", "Pod", "shop") == []
    created = [r for r in kube.requests if r.method == "POST" and r.path.endswith("/pods")]
    labels = created[0].body["metadata"]["labels"]
    assert labels["kargo.akuity.io/stage"] == "dev"
    assert labels["kargo-dagster.io/metric"] == "smoke-test"
    assert labels["team"] == "shop"
    # The pod's Pipes log reaches the run's log.
    logs = [
        event.message
        for event in instance.all_logs(result.run_id)
        if "smoke-testing v1.2.3" in (event.message or "")
    ]
    assert logs


def test_a_pod_reporting_a_failed_check_fails_the_gate(tmp_path, instance, kube):
    _, verified, _ = verify(tmp_path, instance, kube, "v6.6.6")
    assert not verified.passed
    assert verified.metadata["phase"].value == "Failed"
    [measurement] = check_json(verified, "verification")["measurements"]
    assert measurement["phase"] == "Failed"


def test_a_pod_exiting_non_zero_fails_the_measurement(tmp_path, instance, kube):
    _, verified, simulator = verify(tmp_path, instance, kube, "v0.0.0")
    assert not verified.passed
    assert verified.metadata["phase"].value == "Failed"
    [measurement] = check_json(verified, "verification")["measurements"]
    assert measurement["phase"] == "Failed"
    assert (
        measurement["message"]
        == "container 'smoke' exited non-zero; its last output: no such version"
    )
    assert [run.exit_code for run in simulator.runs] == [4]
