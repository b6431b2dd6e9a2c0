"""dagster-k8s's ``PipesK8sClient`` runs a pod end to end against the fake Kubernetes API.

The pod simulator runs the pod's command as a local process; the client creates the pod
from a kubeconfig, waits for it to be ready, follows its log for Pipes messages, waits for
it to terminate and deletes it, exactly as against a cluster.
"""

import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import kubernetes
import pytest
from dagster_k8s import PipesK8sClient

from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.testing.pod_sim import PodSimulator

NAMESPACE = "kargo-demo"

# Both scripts pause after their first message, so the client is following the log while
# the process still runs, as it does with any pod that takes a moment.
REPORTING = """\
import time
from dagster_pipes import open_dagster_pipes

with open_dagster_pipes() as pipes:
    pipes.log.info("probing the prod stage")
    time.sleep(0.3)
    pipes.report_asset_materialization(
        metadata={"healthy_replicas": 3, "endpoint": "https://shop.example.com/healthz"}
    )
"""

FAILING = """\
import sys
import time
from dagster_pipes import open_dagster_pipes

with open_dagster_pipes() as pipes:
    pipes.log.info("probing the prod stage")
time.sleep(0.3)
print("prod endpoint answered 503", file=sys.stderr, flush=True)
sys.exit(3)
"""


@pytest.fixture
def kube() -> Iterator[FakeKubeAPI]:
    # load_kube_config replaces the kubernetes client's process-wide default configuration;
    # put the previous one back so that later tests do not reach a stopped server.
    previous = kubernetes.client.Configuration.get_default_copy()
    try:
        with FakeKubeAPI() as api:
            yield api
    finally:
        kubernetes.client.Configuration.set_default(previous)


def pod_asset(script: str) -> dg.AssetsDefinition:
    @dg.asset
    def prod_probe(
        context: dg.AssetExecutionContext, k8s_pipes_client: PipesK8sClient
    ) -> dg.MaterializeResult:
        return k8s_pipes_client.run(
            context=context,
            image="python:3.11",
            command=[sys.executable, "-c", script],
            namespace=NAMESPACE,
        ).get_materialize_result()

    return prod_probe


def materialize(
    kube: FakeKubeAPI, tmp_path: Path, script: str, instance: dg.DagsterInstance
) -> dg.ExecuteInProcessResult:
    client = PipesK8sClient(
        kubeconfig_file=str(kube.write_kubeconfig(tmp_path / "kubeconfig")), poll_interval=0.1
    )
    return dg.materialize(
        [pod_asset(script)],
        resources={"k8s_pipes_client": client},
        instance=instance,
        raise_on_error=False,
    )


def test_the_pod_reports_its_materialization_through_pipes(kube, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    with PodSimulator(kube) as pods, pods.running():
        result = materialize(kube, tmp_path, REPORTING, instance)

    assert result.success
    [materialization] = result.asset_materializations_for_node("prod_probe")
    assert materialization.metadata["healthy_replicas"] == dg.IntMetadataValue(3)
    assert materialization.metadata["endpoint"] == dg.TextMetadataValue(
        "https://shop.example.com/healthz"
    )
    messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert "probing the prod stage" in messages
    [run] = pods.runs
    assert (run.namespace, run.argv[0], run.exit_code) == (NAMESPACE, sys.executable, 0)
    assert kube.list_objects("v1", "Pod", NAMESPACE) == [], "the client deletes its pod"


def test_a_failing_pod_fails_the_run_with_its_output(kube, tmp_path):
    instance = dg.DagsterInstance.ephemeral()
    with PodSimulator(kube) as pods, pods.running():
        result = materialize(kube, tmp_path, FAILING, instance)

    assert not result.success
    [failure] = result.get_step_failure_events()
    error = failure.step_failure_data.error
    assert error is not None
    text = error.to_string()
    assert "DagsterK8sError" in text
    assert 'Container "dagster-pipes-execution" failed' in text
    assert "prod endpoint answered 503" in text
    assert [run.exit_code for run in pods.runs] == [3]
    assert kube.list_objects("v1", "Pod", NAMESPACE) == [], "the client deletes its pod"
