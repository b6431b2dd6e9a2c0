"""Receivers' secrets come from the Project's Kubernetes Secret (the ClusterConfig's from the
system resources namespace) or from the environment, and a receiver without one is reported at
its config's line rather than served."""

import hashlib
from pathlib import Path

import pytest

from kargo_dagster.errors import ManifestError
from kargo_dagster.spec import load_manifests
from kargo_dagster.testing.kube_api import FakeKubeAPI, secret
from kargo_dagster.webhooks.paths import receiver_path
from kargo_dagster.webhooks.receivers import (
    ChainedSecrets,
    EnvironmentSecrets,
    KubernetesSecrets,
    build_receivers,
    secret_env_name,
)
from tests.webhooks.manifests import cluster_receivers, receiver, with_receivers

CONFIG = with_receivers(
    receiver("gitlab", "gl", "gitlab-hook") + receiver("harbor", "harbor", "harbor.hook")
)


def projects(here: Path, text: str = CONFIG):
    (here / "demo.yaml").write_text(text)
    return load_manifests(here / "demo.yaml").projects.values()


def cluster(here: Path, text: str):
    (here / "cluster.yaml").write_text(text)
    catalog = load_manifests(here / "cluster.yaml")
    return catalog.projects.values(), catalog.cluster_config


def test_environment_variables_are_named_after_the_secret(tmp_path):
    env = {
        secret_env_name("gitlab-hook"): "gl-token",
        "KARGO_DAGSTER_WEBHOOK_SECRET_HARBOR_HOOK": "h",
    }
    receivers, problems = build_receivers(projects(tmp_path), EnvironmentSecrets(env))
    assert problems == []
    by_name = {r.name: r for r in receivers.values()}
    assert by_name["gl"].path == receiver_path("demo", "gitlab", "gl", "gl-token")
    assert by_name["harbor"].path == receiver_path("demo", "harbor", "harbor", "h")
    assert "gl-token" not in repr(by_name["gl"])


def test_kubernetes_secrets_are_read_by_the_providers_key_in_the_project_namespace(tmp_path):
    with FakeKubeAPI() as api:
        api.add(secret("demo", "gitlab-hook", {"secret-token": "from-kube"}))
        api.add(secret("demo", "harbor.hook", {"secret": "wrong-key"}))
        environment = EnvironmentSecrets({secret_env_name("gitlab-hook"): "from-env"})
        source = ChainedSecrets([KubernetesSecrets(api.api_client()), environment])
        receivers, problems = build_receivers(projects(tmp_path), source)
    [gitlab] = receivers.values()
    assert gitlab.name == "gl" and gitlab.secret == "from-kube"
    [missing] = problems
    assert str(missing).endswith(
        "/demo.yaml:20: ProjectConfig/demo: spec.webhookReceivers.1.harbor.secretRef.name: "
        "receiver harbor is not served: no secret for Secret harbor.hook "
        "(add key 'auth-header' to Secret harbor.hook in namespace demo or "
        "set KARGO_DAGSTER_WEBHOOK_SECRET_HARBOR_HOOK)"
    )
    assert "wrong-key" not in str(missing)


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ("{name: r, github: {secretRef: {}}}", "webhookReceivers.0.github.secretRef.name"),
        (
            "{name: r, generic: {secretRef: {name: s}, actions: [{action: Delete, "
            "targetSelectionCriteria: [{kind: Warehouse}]}]}}",
            "webhookReceivers.0.generic.actions.0.action",
        ),
        ("{name: r, generic: {secretRef: {name: s}, actions: []}}", "generic.actions"),
        ("{name: r, quay: {secretRef: {name: s}, extra: 1}}", "webhookReceivers.0.quay.extra"),
    ],
)
def test_bad_receiver_settings_name_the_file_and_field(tmp_path, settings, field):
    text = with_receivers(f"  - {settings}\n")
    (tmp_path / "demo.yaml").write_text(text)
    with pytest.raises(ManifestError) as error:
        load_manifests(tmp_path / "demo.yaml")
    assert "demo.yaml:" in str(error.value) and field in str(error.value)


CLUSTER = cluster_receivers(
    receiver("github", "all", "gh-hook") + receiver("quay", "q", "quay-hook")
)


def test_a_cluster_receivers_url_is_derived_without_a_project(tmp_path):
    found, config = cluster(tmp_path, with_receivers(receiver("github", "gh", "gh-hook")) + CLUSTER)
    env = EnvironmentSecrets({secret_env_name("gh-hook"): "s", secret_env_name("quay-hook"): "q"})
    receivers, problems = build_receivers(found, env, cluster_config=config)
    assert problems == []
    by_label = {r.label: r.path for r in receivers.values()}
    assert by_label == {
        "demo/gh (github)": receiver_path("demo", "github", "gh", "s"),
        "ClusterConfig/all (github)": "/github/" + hashlib.sha256(b"alls").hexdigest(),
        "ClusterConfig/q (quay)": "/quay/" + hashlib.sha256(b"qq").hexdigest(),
    }
    assert [r.project for r in receivers.values() if r.name == "all"] == [None]


@pytest.mark.parametrize("namespace", [None, "platform-secrets"])
def test_cluster_receivers_secrets_are_read_in_the_system_resources_namespace(tmp_path, namespace):
    found, config = cluster(tmp_path, CLUSTER)
    where = namespace or "kargo-system-resources"
    with FakeKubeAPI() as api:
        api.add(secret(where, "gh-hook", {"secret": "from-system"}))
        # A Project's namespace is not where Kargo looks for a cluster receiver's Secret.
        api.add(secret("demo", "quay-hook", {"secret": "from-project"}))
        source = KubernetesSecrets(api.api_client())
        options = {} if namespace is None else {"cluster_namespace": namespace}
        receivers, problems = build_receivers(found, source, cluster_config=config, **options)
    [served] = receivers.values()
    assert served.name == "all" and served.secret == "from-system"
    [missing] = problems
    assert str(missing).endswith(
        "/cluster.yaml:15: ClusterConfig/cluster: spec.webhookReceivers.1.quay.secretRef.name: "
        "receiver q is not served: no secret for Secret quay-hook "
        f"(add key 'secret' to Secret quay-hook in namespace {where})"
    )


def test_a_project_receiver_keeps_a_path_a_cluster_receiver_would_share(tmp_path):
    # Project "a" with receiver "b" and a cluster receiver "ab" with the same secret hash the
    # same text; Kargo looks among the ProjectConfigs first.
    text = with_receivers(receiver("github", "b", "gh-hook")).replace("demo", "a")
    found, config = cluster(tmp_path, text + cluster_receivers(receiver("github", "ab", "gh-hook")))
    env = EnvironmentSecrets({secret_env_name("gh-hook"): "s"})
    receivers, problems = build_receivers(found, env, cluster_config=config)
    assert problems == []
    assert [r.label for r in receivers.values()] == ["a/b (github)"]
