"""deploy/helm/values.yaml rendered by the real helm with Dagster's official chart (1.13.27).

The chart is a fixture (tests/fixtures/dagster-chart, see its ORIGIN.md): the chart repository
is out of reach here. helm validates our values against the chart's values.schema.json while it
renders; the tests also validate them with jsonschema, check what a user relies on in the
rendered manifests, and hand the rendered dagster.yaml to Dagster itself.
"""

import copy
import json
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from kargo_dagster.credentials import ENV_PREFIX, credentials_from_env

REPO = Path(__file__).parents[2]
TOOLS = REPO / ".tools" / "bin"
CHART = REPO / "tests" / "fixtures" / "dagster-chart"
SUBCHART = CHART / "charts" / "dagster-user-deployments"
VALUES = REPO / "deploy" / "helm" / "values.yaml"
RELEASE = "dagster"
NAMESPACE = "dagster"

SERVICE_ACCOUNT = "kargo-dagster"
IMAGE = "ghcr.io/example/kargo-dagster:0.1.0"
CREDENTIALS_SECRET = "kargo-dagster-credentials"
POSTGRES_SECRET = "kargo-dagster-postgresql"
WORK_DIR = "/var/cache/kargo-dagster"

Manifest = dict[str, Any]


def helm_binary() -> Path:
    """helm from .tools/bin; a test that needs it fails (never skips) when it is missing."""
    helm = TOOLS / "helm"
    if not helm.is_file():
        pytest.fail(f"helm is missing from {TOOLS}: run scripts/install-tools")
    return helm


def helm_template(*values_files: Path) -> subprocess.CompletedProcess[str]:
    args = [str(helm_binary()), "template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for values in values_files:
        args += ["-f", str(values)]
    return subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)


def load_yaml(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def merged(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm's coalescing of values: maps merge key by key, anything else is replaced."""
    result = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(result.get(key), Mapping):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def schema_errors(schema_path: Path, values: Mapping[str, Any]) -> list[str]:
    schema = json.loads(schema_path.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    return [
        f"{'.'.join(str(p) for p in error.absolute_path)}: {error.message}"
        for error in validator.iter_errors(values)
    ]


def our_values_for_chart() -> dict[str, Any]:
    return merged(load_yaml(CHART / "values.yaml"), load_yaml(VALUES))


def our_values_for_subchart() -> dict[str, Any]:
    """The subchart's values as helm hands them over: its own section plus the parent's global."""
    parent = our_values_for_chart()
    values = merged(load_yaml(SUBCHART / "values.yaml"), parent["dagster-user-deployments"])
    values["global"] = merged(values.get("global") or {}, parent["global"])
    return values


@pytest.fixture(scope="module")
def manifests() -> list[Manifest]:
    rendered = helm_template(VALUES)
    assert rendered.returncode == 0, rendered.stderr
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


def find(manifests: list[Manifest], kind: str, name: str) -> Manifest:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


@pytest.fixture(scope="module")
def instance(manifests: list[Manifest]) -> dict[str, Any]:
    """The dagster.yaml that the webserver, the daemon and every run pod mount."""
    config_map = find(manifests, "ConfigMap", f"{RELEASE}-instance")
    return yaml.safe_load(config_map["data"]["dagster.yaml"])


@pytest.fixture(scope="module")
def code_server(manifests: list[Manifest]) -> Manifest:
    return find(manifests, "Deployment", f"{RELEASE}-dagster-user-deployments-kargo-dagster")


def container(deployment: Manifest) -> Manifest:
    (main,) = deployment["spec"]["template"]["spec"]["containers"]
    return main


def env_value(main: Manifest, name: str) -> Manifest:
    (entry,) = [e for e in main.get("env") or [] if e["name"] == name]
    return entry


def run_container_context(code_server: Manifest) -> dict[str, Any]:
    """What the code server hands the K8sRunLauncher for the pods of the runs it launches."""
    entry = env_value(container(code_server), "DAGSTER_CLI_API_GRPC_CONTAINER_CONTEXT")
    return json.loads(entry["value"])["k8s"]


# --- the values and the chart's schemas ------------------------------------------------------


def test_values_render_with_the_chart(manifests: list[Manifest]):
    kinds = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    assert ("Deployment", f"{RELEASE}-daemon") in kinds
    assert ("Deployment", f"{RELEASE}-dagster-webserver") in kinds
    assert ("Service", "kargo-dagster") in kinds
    assert ("ServiceAccount", SERVICE_ACCOUNT) in kinds


def test_values_satisfy_the_chart_schema():
    assert schema_errors(CHART / "values.schema.json", our_values_for_chart()) == []


def test_code_location_values_satisfy_the_subchart_schema():
    assert schema_errors(SUBCHART / "values.schema.json", our_values_for_subchart()) == []


def test_a_misspelt_key_is_refused_by_helm_and_by_the_schema(tmp_path: Path):
    typo = tmp_path / "typo.yaml"
    typo.write_text("concurrency:\n  pools:\n    defaultLimt: 1\n")
    rendered = helm_template(VALUES, typo)
    assert rendered.returncode != 0
    assert "defaultLimt" in rendered.stderr
    values = merged(our_values_for_chart(), load_yaml(typo))
    assert any(
        "defaultLimt" in error for error in schema_errors(CHART / "values.schema.json", values)
    )


def test_the_postgres_password_is_not_in_the_values():
    values = load_yaml(VALUES)
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["postgresql"]["postgresqlPassword"] == ""


# --- the Dagster instance --------------------------------------------------------------------


def test_runs_launch_as_kubernetes_jobs_from_a_queue(instance: dict[str, Any]):
    assert instance["run_launcher"]["class"] == "K8sRunLauncher"
    assert instance["run_launcher"]["module"] == "dagster_k8s"
    launcher = instance["run_launcher"]["config"]
    assert launcher["job_namespace"] == NAMESPACE
    assert launcher["postgres_password_secret"] == POSTGRES_SECRET
    assert CREDENTIALS_SECRET in launcher["env_secrets"]
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"


def test_storage_is_the_external_postgres_with_the_password_from_the_secret(
    instance: dict[str, Any],
):
    postgresql = load_yaml(VALUES)["postgresql"]
    for storage in ("run_storage", "event_log_storage", "schedule_storage"):
        assert instance[storage]["module"].startswith("dagster_postgres")
        db = instance[storage]["config"]["postgres_db"]
        assert db["hostname"] == postgresql["postgresqlHost"]
        assert db["db_name"] == postgresql["postgresqlDatabase"]
        assert db["username"] == postgresql["postgresqlUsername"]
        assert db["password"] == {"env": "DAGSTER_PG_PASSWORD"}


def test_every_pool_is_limited_to_one_and_runs_have_no_second_limit(instance: dict[str, Any]):
    assert instance["concurrency"]["pools"]["default_limit"] == 1
    queue = instance["run_coordinator"].get("config") or {}
    for limit in (
        "max_concurrent_runs",
        "tag_concurrency_limits",
        "block_op_concurrency_limited_runs",
    ):
        assert limit not in queue


def test_run_monitoring_is_on(instance: dict[str, Any]):
    assert instance["run_monitoring"]["enabled"] is True
    assert instance["run_monitoring"]["start_timeout_seconds"] > 0


def dagster_accepts(dagster_yaml: str) -> None:
    """Load the instance config the way Dagster does, and each configured class's config."""
    from dagster._config import process_config, resolve_to_config_type
    from dagster._core.instance.config import dagster_instance_config
    from dagster._serdes import class_from_code_pointer
    from dagster._utils import convert_dagster_submodule_name

    with tempfile.TemporaryDirectory() as home:
        (Path(home) / "dagster.yaml").write_text(dagster_yaml)
        config, _ = dagster_instance_config(home)
    for key in (
        "scheduler",
        "run_launcher",
        "run_coordinator",
        "run_storage",
        "event_log_storage",
        "schedule_storage",
        "compute_logs",
    ):
        klass: Any = class_from_code_pointer(
            convert_dagster_submodule_name(config[key]["module"], "private"), config[key]["class"]
        )
        result = process_config(
            resolve_to_config_type(klass.config_type()), config[key].get("config") or {}
        )
        assert result.success, (key, result.errors)


def test_dagster_accepts_the_rendered_instance(
    manifests: list[Manifest], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("DAGSTER_PG_PASSWORD", "not-a-real-password")
    config_map = find(manifests, "ConfigMap", f"{RELEASE}-instance")
    dagster_accepts(config_map["data"]["dagster.yaml"])


def test_dagster_refuses_a_run_limit_next_to_the_pools(tmp_path: Path):
    """Why the values leave the run queue's limits empty: Dagster rejects both at once."""
    from dagster._core.errors import DagsterInvalidConfigError

    limit = tmp_path / "limit.yaml"
    limit.write_text(
        "dagsterDaemon:\n  runCoordinator:\n    config:\n      queuedRunCoordinator:\n"
        "        maxConcurrentRuns: 5\n"
    )
    rendered = helm_template(VALUES, limit)
    assert rendered.returncode == 0, rendered.stderr
    docs = [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]
    dagster_yaml = find(docs, "ConfigMap", f"{RELEASE}-instance")["data"]["dagster.yaml"]
    with pytest.raises(DagsterInvalidConfigError, match="max_concurrent_runs"):
        dagster_accepts(dagster_yaml)


# --- the code location and its runs ----------------------------------------------------------


def test_the_code_server_serves_definitions_py_from_our_image(code_server: Manifest):
    main = container(code_server)
    assert main["image"] == IMAGE
    assert main["args"] == [
        "dagster", "api", "grpc", "-h", "0.0.0.0", "-p", "3030", "-f", "/app/definitions.py"
    ]  # fmt: skip
    pod = code_server["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_the_code_server_reads_credentials_and_the_db_password_from_secrets(
    code_server: Manifest,
):
    main = container(code_server)
    assert {"secretRef": {"name": CREDENTIALS_SECRET}} in main["envFrom"]
    password = env_value(main, "DAGSTER_PG_PASSWORD")["valueFrom"]["secretKeyRef"]
    assert password == {"name": POSTGRES_SECRET, "key": "postgresql-password"}


def test_the_code_server_has_its_work_dir_on_an_empty_dir(code_server: Manifest):
    main = container(code_server)
    assert env_value(main, "KARGO_DAGSTER_WORK_DIR")["value"] == WORK_DIR
    (mount,) = [m for m in main["volumeMounts"] if m["mountPath"] == WORK_DIR]
    volumes = code_server["spec"]["template"]["spec"]["volumes"]
    (volume,) = [v for v in volumes if v["name"] == mount["name"]]
    assert volume["emptyDir"] == {}


def test_runs_get_the_code_locations_secrets_work_dir_and_service_account(
    code_server: Manifest,
):
    context = run_container_context(code_server)
    assert CREDENTIALS_SECRET in context["env_secrets"]
    assert {"name": "KARGO_DAGSTER_WORK_DIR", "value": WORK_DIR} in context["env"]
    (mount,) = [m for m in context["volume_mounts"] if m["mountPath"] == WORK_DIR]
    assert {"name": mount["name"], "emptyDir": {}} in context["volumes"]
    assert context["service_account_name"] == SERVICE_ACCOUNT
    assert context["run_k8s_config"]["pod_spec_config"]["security_context"]["runAsUser"] == 10001


def test_dagster_system_pods_read_the_db_password_from_the_secret(manifests: list[Manifest]):
    assert not [m for m in manifests if m["kind"] == "Secret"]
    for name in (f"{RELEASE}-daemon", f"{RELEASE}-dagster-webserver"):
        main = container(find(manifests, "Deployment", name))
        password = env_value(main, "DAGSTER_PG_PASSWORD")["valueFrom"]["secretKeyRef"]
        assert password["name"] == POSTGRES_SECRET


def test_the_documented_credential_variables_are_the_ones_kargo_dagster_reads():
    documented = {}
    for line in VALUES.read_text().splitlines():
        text = line.strip().lstrip("#").strip()
        if text.startswith(ENV_PREFIX) and ":" in text:
            name, _, value = text.partition(":")
            documented[name.strip()] = value.split("#")[0].strip().strip('"')
    assert {f"{ENV_PREFIX}GHCR_TYPE", f"{ENV_PREFIX}GHCR_PASSWORD"} <= documented.keys()
    (rule,) = credentials_from_env(documented).rules
    assert (rule.kind, rule.repo_url) == ("image", "ghcr.io/acme/app")


# --- RBAC for Argo CD ------------------------------------------------------------------------

ARGOCD_RULES = [
    {"apiGroups": ["argoproj.io"], "resources": ["applications"],
     "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    {"apiGroups": ["argoproj.io"], "resources": ["analysisruns"],
     "verbs": ["get", "list", "watch", "create", "delete"]},
    {"apiGroups": ["argoproj.io"], "resources": ["analysistemplates"], "verbs": ["get", "list"]},
]  # fmt: skip
CLUSTER_RULES = [
    {"apiGroups": ["argoproj.io"], "resources": ["clusteranalysistemplates"],
     "verbs": ["get", "list"]},
]  # fmt: skip


def test_argocd_rbac_grants_exactly_what_kargo_dagster_needs(manifests: list[Manifest]):
    role = find(manifests, "Role", "kargo-dagster")
    assert role["metadata"]["namespace"] == "argocd"
    assert role["rules"] == ARGOCD_RULES
    cluster_role = find(manifests, "ClusterRole", "kargo-dagster-clusteranalysistemplates")
    assert cluster_role["rules"] == CLUSTER_RULES


def test_argocd_rbac_binds_the_service_account_the_code_server_and_runs_use(
    manifests: list[Manifest], code_server: Manifest
):
    used = code_server["spec"]["template"]["spec"]["serviceAccountName"]
    assert used == run_container_context(code_server)["service_account_name"] == SERVICE_ACCOUNT
    account = find(manifests, "ServiceAccount", used)
    assert account["metadata"].get("namespace", NAMESPACE) == NAMESPACE
    subject = {"kind": "ServiceAccount", "name": used, "namespace": NAMESPACE}
    binding = find(manifests, "RoleBinding", "kargo-dagster")
    assert binding["metadata"]["namespace"] == "argocd"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "kargo-dagster"
    }  # fmt: skip
    assert binding["subjects"] == [subject]
    cluster_binding = find(
        manifests, "ClusterRoleBinding", "kargo-dagster-clusteranalysistemplates"
    )
    assert cluster_binding["roleRef"]["name"] == "kargo-dagster-clusteranalysistemplates"
    assert cluster_binding["subjects"] == [subject]
