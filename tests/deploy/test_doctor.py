"""``kargo-dagster doctor``: deployment settings that cannot work are named before a promotion.

It reads the instance's ``dagster.yaml``, the values for Dagster's Helm chart, the instance's
own pool limits and, through the cluster, the Secrets the values name; each problem is one
line naming the file and key, and any error makes it exit 1.
"""

from pathlib import Path

import dagster as dg
import pytest
import yaml

from kargo_dagster.cli import main
from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.testing.kube_client_config import write_kubeconfig
from tests.deploy.test_helm_values import helm_template

REPO = Path(__file__).parents[2]
VALUES = REPO / "deploy" / "helm" / "values.yaml"
STAGES = str(REPO / "stages")
K8S = {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": {"job_namespace": "dagster"}}
POSTGRES = {"postgres": {"postgres_url": "postgresql://dagster@db.example.internal/dagster"}}


def doctor(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, list[str]]:
    code = main(["doctor", "--path", STAGES, *arguments])
    return code, capsys.readouterr().out.splitlines()


def write_yaml(path: Path, data: dict) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_the_shipped_helm_values_pass(capsys, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    code, lines = doctor(capsys, "--values", str(VALUES))
    assert code == 0, lines
    assert lines[-1] == "0 error(s), 0 warning(s)"


def test_helm_values_without_pool_limits_or_a_database_host_are_errors(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    values = yaml.safe_load(VALUES.read_text())
    del values["concurrency"]
    values["postgresql"]["postgresqlHost"] = ""
    values["dagsterDaemon"]["runMonitoring"]["enabled"] = False
    path = write_yaml(tmp_path / "values.yaml", values)
    code, lines = doctor(capsys, "--values", path)
    assert code == 1
    assert f"error: {path}: postgresql.postgresqlHost: postgresql.enabled is false but no " in (
        "\n".join(lines)
    )
    assert any(
        line.startswith(f"error: {path}: concurrency.pools.defaultLimit: ") for line in lines
    )
    assert any(
        line.startswith(f"warning: {path}: dagsterDaemon.runMonitoring.enabled: ") for line in lines
    )
    assert lines[-1] == "2 error(s), 1 warning(s)"


def test_sqlite_with_the_k8s_run_launcher_is_an_error(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    config = {"run_launcher": K8S, "concurrency": {"pools": {"default_limit": 1}}}
    path = write_yaml(tmp_path / "dagster.yaml", config)
    code, lines = doctor(capsys, "--instance", path)
    assert code == 1
    assert f"error: {path}: storage: SQLite storage with the K8sRunLauncher: " in "\n".join(lines)
    # A queue and run monitoring are advised for runs in pods.
    assert sum(line.startswith("warning: ") for line in lines) == 2


def test_postgres_with_queue_monitoring_and_pools_passes(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    config = {
        "storage": POSTGRES,
        "run_launcher": K8S,
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
        },
        "run_monitoring": {"enabled": True},
        "concurrency": {"pools": {"default_limit": 1}},
    }
    code, lines = doctor(capsys, "--instance", write_yaml(tmp_path / "dagster.yaml", config))
    assert code == 0, lines
    assert "every Stage pool (3) is limited to 1" in lines[-2]


def test_the_instances_own_pool_limits_count(instance: dg.DagsterInstance, capsys, monkeypatch):
    # No default limit, but `dagster instance concurrency set` gave each Stage's pool one.
    monkeypatch.setenv("DAGSTER_HOME", instance.root_directory)
    for stage in ("dev", "staging", "prod"):
        instance.event_log_storage.set_concurrency_slots(f"kargo/kargo-demo/{stage}", 1)
    code, lines = doctor(capsys)
    assert code == 0, lines
    instance.event_log_storage.set_concurrency_slots("kargo/kargo-demo/prod", 2)
    code, lines = doctor(capsys)
    assert code == 1
    assert (
        "concurrency.pools.default_limit: Stage pool kargo/kargo-demo/prod has a limit above 1"
        in "\n".join(lines)
    )


def test_a_missing_secret_is_named_with_the_values_key(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with FakeKubeAPI() as kube:
        kube.add(secret("dagster", "kargo-dagster-postgresql"))
        monkeypatch.setenv("KUBECONFIG", str(write_kubeconfig(kube.url, tmp_path / "config")))
        code, lines = doctor(capsys, "--values", str(VALUES), "--namespace", "dagster")
    assert code == 1
    assert "ok: Secret dagster/kargo-dagster-postgresql: exists" in lines
    assert (
        f"error: {VALUES}: dagster-user-deployments.deployments.0.envSecrets.0.name: Secret "
        "kargo-dagster-credentials does not exist in namespace dagster: pods that read it will "
        "not start"
    ) in lines
    assert lines[-1] == "1 error(s), 0 warning(s)"


def secret(namespace: str, name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "data": {},
    }


def test_nothing_to_check_says_what_to_give(capsys, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert main(["doctor", "--path", STAGES]) == 1
    assert "give --instance dagster.yaml or --values" in capsys.readouterr().err


def test_the_instance_the_chart_renders_from_the_values_passes(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    rendered = helm_template(VALUES)
    assert rendered.returncode == 0, rendered.stderr
    [config_map] = [
        doc
        for doc in yaml.safe_load_all(rendered.stdout)
        if doc and doc["kind"] == "ConfigMap" and doc["metadata"]["name"].endswith("-instance")
    ]
    path = tmp_path / "dagster.yaml"
    path.write_text(config_map["data"]["dagster.yaml"])
    code, lines = doctor(capsys, "--instance", str(path))
    assert code == 0, lines
    assert lines[-1] == "0 error(s), 0 warning(s)"
