"""The ``health`` check: Kargo's Argo CD health of the Applications a promotion synced."""

import dagster as dg

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.resources import ArgoCDKubernetes, ArgoCDSettings, KargoResource
from kargo_dagster.testing.argocd_sim import ArgoCDSimulator, application
from kargo_dagster.testing.git_remote import GitHTTPServer
from kargo_dagster.testing.kube_api import FakeKubeAPI
from tests.defs.promotions import promote
from tests.defs.test_kargo_advanced_promote import TOOLS, guestbook, local_copy, repository

DEV = dg.AssetKey(["kargo-advanced", "stage", "dev"])


def promote_with_argo_cd(tmp_path, instance, *, health: str, message: str = ""):
    """Promote kargo-advanced into dev with guestbook-dev reaching ``health`` after its sync."""
    remotes, remote, source_commit = repository(tmp_path)
    with GitHTTPServer(remotes) as git_server, FakeKubeAPI() as kube:
        repo_url = git_server.url_for(remote)
        kube.add(
            application(
                "guestbook-dev",
                repo_url,
                "env/dev",
                destination_namespace="kargo-advanced-dev",
                authorized_stage="kargo-advanced:dev",
            )
        )
        argocd = ArgoCDSimulator(kube)
        argocd.health_after_sync("guestbook-dev", status=health, message=message)
        settings = ArgoCDSettings(
            kubernetes=ArgoCDKubernetes(host=kube.url),
            poll_interval_seconds=0.05,
            health_timeout_seconds=20,
            url="https://argocd.example.com",
        )
        kargo = KargoResource(
            work_dir=str(tmp_path / "work"), kubectl=str(TOOLS / "kubectl"), argocd=settings
        )
        defs = load_definitions(local_copy(tmp_path, repo_url), resources={"kargo": kargo})
        key = record_freight(
            instance, "kargo-advanced", guestbook(repo_url, source_commit, "v0.0.2")
        )
        with argocd.running():
            result = promote(defs, instance, DEV, key)
    return result, remote.rev("env/dev")


def health_evaluation(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == "health"]
    return evaluation


def test_a_synced_healthy_application_passes_the_health_check(tmp_path, instance):
    result, rendered = promote_with_argo_cd(tmp_path, instance, health="Healthy")
    assert result.success
    evaluation = health_evaluation(result)
    assert evaluation.passed
    assert evaluation.description == "Healthy"
    [row] = evaluation.metadata["applications"].value.records  # type: ignore[union-attr]
    assert row.data == {
        "namespace": "argocd",
        "name": "guestbook-dev",
        "status": "Healthy",
        "issues": "",
    }
    link = evaluation.metadata["argocd/argocd/guestbook-dev"].value
    assert link == "https://argocd.example.com/applications/argocd/guestbook-dev"
    [status] = evaluation.metadata["health"].value["applicationStatuses"]  # type: ignore[index]
    assert rendered in str(status)


def test_a_degraded_application_fails_the_gate(tmp_path, instance):
    result, _ = promote_with_argo_cd(
        tmp_path, instance, health="Degraded", message="Deployment exceeded its progress deadline"
    )
    evaluation = health_evaluation(result)
    assert not evaluation.passed
    assert evaluation.description is not None
    assert evaluation.description.startswith("Unhealthy: ")
    assert "Degraded" in evaluation.description
    # Argo CD's own words are in the Application's status summary.
    assert "progress deadline" in str(evaluation.metadata["health"].value)
    # Freight that is not healthy here is not verified here, so no downstream Stage takes it.
    assert not result.success
    verified = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert verified == {"health": False, "verified": False}
