"""The ``health`` check: Kargo's Argo CD health of the Applications a promotion synced."""

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.cli import main
from kargo_dagster.defs.resources import ArgoCDKubernetes, ArgoCDSettings, KargoResource
from kargo_dagster.testing.argocd_sim import ArgoCDSimulator, application
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from kargo_dagster.testing.kube_api import FakeKubeAPI
from tests.defs.promotions import promote
from tests.defs.test_kargo_advanced_promote import TOOLS, guestbook, local_copy, repository

DEV = dg.AssetKey(["kargo-advanced", "stage", "dev"])


@dataclass
class Pipeline:
    """A kargo-advanced code location whose Argo CD is simulated."""

    defs: dg.Definitions
    definitions_file: str
    manifests: Path
    key: str
    argocd: ArgoCDSimulator
    remote: GitRemote


@contextlib.contextmanager
def argo_cd_pipeline(tmp_path, instance, *, health: str, message: str = "") -> Iterator[Pipeline]:
    """kargo-advanced with guestbook-dev in a simulated Argo CD reaching ``health`` after syncs."""
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
        manifests = local_copy(tmp_path, repo_url)
        defs = load_definitions(manifests, resources={"kargo": kargo})
        # The same code location as a file, as the command line loads one.
        definitions_file = tmp_path / "definitions.py"
        definitions_file.write_text(
            "from kargo_dagster import load_definitions\n"
            "from kargo_dagster.defs.resources import *\n"
            f"defs = load_definitions({str(manifests)!r}, resources={{'kargo': {kargo!r}}})\n"
        )
        key = record_freight(
            instance, "kargo-advanced", guestbook(repo_url, source_commit, "v0.0.2")
        )
        with argocd.running():
            yield Pipeline(defs, str(definitions_file), manifests, key, argocd, remote)


def promote_with_argo_cd(tmp_path, instance, *, health: str, message: str = ""):
    """Promote kargo-advanced into dev with guestbook-dev reaching ``health`` after its sync."""
    with argo_cd_pipeline(tmp_path, instance, health=health, message=message) as pipeline:
        result = promote(pipeline.defs, instance, DEV, pipeline.key)
        return result, pipeline.remote.rev("env/dev")


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


def test_verify_runs_the_checks_again_and_a_degraded_app_fails_them(
    tmp_path, instance, monkeypatch, capsys
):
    with argo_cd_pipeline(tmp_path, instance, health="Healthy") as pipeline:
        assert promote(pipeline.defs, instance, DEV, pipeline.key).success
        monkeypatch.setenv("DAGSTER_HOME", str(instance.root_directory))
        arguments = [
            "verify", "--path", str(pipeline.manifests), "--definitions", pipeline.definitions_file,
            "--stage", "dev", "--actor", "alice",
        ]  # fmt: skip
        assert main(arguments) == 0
        assert f"Freight {pipeline.key} in Stage dev: verified" in capsys.readouterr().out
        # The app degrades after the promotion: verifying again fails both checks.
        pipeline.argocd.set_health("guestbook-dev", status="Degraded")
        assert main(arguments) == 1
    out = capsys.readouterr().out
    assert "health failed: Unhealthy: " in out
    assert f"Freight {pipeline.key} in Stage dev: not verified" in out
    runs = instance.get_runs(dg.RunsFilter(tags={"kargo/action": "verify"}))
    assert len(runs) == 2
    assert {run.tags["kargo/actor"] for run in runs} == {"alice"}
