"""``argocd-update`` and the ``health`` gate against a real Argo CD.

As ``tests/defs/test_argocd_end_to_end.py`` does with the simulator: a promotion rewrites
the GitOps branch, pushes it and has Argo CD sync the Stage's Application to the pushed
commit; ``health`` then passes on Argo CD's own verdict. An Application that does not name
the Stage in ``kargo.akuity.io/authorized-stage`` is refused and left untouched.
"""

from typing import Any, cast

import dagster as dg
import kubernetes
import pytest

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.testing.argocd_sim import application
from tests.cluster import TAG, checks, freight, stage, write_manifests
from tests.cluster.conftest import Cluster, GitOps
from tests.defs.promotions import failure_message, promote

pytestmark = pytest.mark.cluster


def promotion_steps(gitops: GitOps, app: str) -> list[dict[str, Any]]:
    """Write the Freight's tag into the branch, push it, and sync ``app`` to that commit."""
    return [
        {
            "uses": "git-clone",
            "config": {
                "repoURL": gitops.push_url,
                "checkout": [{"branch": gitops.branch, "path": "./repo"}],
            },
        },
        {
            "uses": "yaml-update",
            "config": {
                "path": "./repo/app/configmap.yaml",
                "updates": [{"key": "data.version", "value": TAG}],
            },
        },
        {"uses": "git-commit", "config": {"path": "./repo", "message": f"deploy {TAG}"}},
        {"uses": "git-push", "as": "push", "config": {"path": "./repo"}},
        {
            "uses": "argocd-update",
            "config": {
                "apps": [
                    {
                        "name": app,
                        "sources": [
                            {
                                "repoURL": gitops.read_url,
                                "desiredRevision": "${{ outputs.push.commit }}",
                            }
                        ],
                    }
                ]
            },
        },
    ]


def test_argocd_update_syncs_the_pushed_commit_and_health_passes(
    cluster: Cluster, project: str, gitops: GitOps, create, instance, tmp_path
):
    app = f"{project}-dev"
    create(
        application(
            app,
            gitops.read_url,
            gitops.branch,
            namespace=cluster.argocd_namespace,
            path="app",
            destination_namespace=project,
            authorized_stage=f"{project}:dev",
        ),
        "applications",
    )
    manifests = write_manifests(
        tmp_path, project, [stage(project, "dev", promotion_steps(gitops, app))]
    )
    kargo = cluster.kargo(tmp_path, credentials=gitops.credentials)
    defs = load_definitions(manifests, resources={"kargo": kargo})
    key = record_freight(instance, project, freight("v1.2.3"))

    result = promote(defs, instance, dg.AssetKey([project, "stage", "dev"]), key)

    assert result.success, failure_message(result)
    gates = checks(result)
    assert gates["health"].passed, gates["health"].description
    assert gates["health"].description == "Healthy"
    [materialization] = result.get_asset_materialization_events()
    [health_check] = cast(Any, materialization.materialization.metadata["healthChecks"]).value
    [synced] = health_check["apps"]
    [pushed] = synced["desiredRevisions"]
    assert (synced["name"], synced["namespace"]) == (app, cluster.argocd_namespace)
    # Argo CD itself says it synced that commit, and what it deployed carries the Freight.
    found = cluster.read("applications", cluster.argocd_namespace, app)
    assert found["status"]["sync"]["revision"] == pushed
    assert found["status"]["operationState"]["phase"] == "Succeeded"
    assert found["status"]["health"]["status"] == "Healthy"
    deployed = cast(
        kubernetes.client.V1ConfigMap,
        cluster.core.read_namespaced_config_map("app-version", project),
    )
    assert deployed.data == {"version": "v1.2.3"}


def test_an_application_not_authorized_for_the_stage_is_refused(
    cluster: Cluster, project: str, create, instance, tmp_path
):
    app = f"{project}-unauthorized"
    # No kargo.akuity.io/authorized-stage annotation. Its source is a placeholder: nothing
    # syncs it, since the step refuses before it changes anything.
    create(
        application(
            app,
            "https://git.example.invalid/kargo-dagster/none.git",
            "main",
            namespace=cluster.argocd_namespace,
            destination_namespace=project,
        ),
        "applications",
    )
    steps = [{"uses": "argocd-update", "config": {"apps": [{"name": app}]}}]
    manifests = write_manifests(tmp_path, project, [stage(project, "dev", steps)])
    defs = load_definitions(manifests, resources={"kargo": cluster.kargo(tmp_path)})
    key = record_freight(instance, project, freight("v1.2.3"))

    result = promote(defs, instance, dg.AssetKey([project, "stage", "dev"]), key)

    assert not result.success
    message = failure_message(result)
    assert app in message
    assert "kargo.akuity.io/authorized-stage" in message
    assert f"{project}:dev" in message
    untouched = cluster.read("applications", cluster.argocd_namespace, app)
    assert "operation" not in untouched
    assert "argocd.argoproj.io/refresh" not in (untouched["metadata"].get("annotations") or {})
