"""Through Argo CD and the gates, dev to staging, on the example pipeline in ``stages/``.

The example's own manifests run against the demo's world on free ports: a real registry, a
real GitOps repository, the simulated Argo CD syncing ``guestbook-<stage>`` and the guestbook
stand-in that the Stages' smoke test probes (version v0.3.0 ships broken).
"""

import contextlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import pytest

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.resources import ArgoCDKubernetes, ArgoCDSettings, KargoResource
from kargo_dagster.demo.services import (
    APP_PORT,
    GIT_PORT,
    KUBE_PORT,
    REGISTRY_PORT,
    DemoServices,
    demo_services,
)
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.testing.kube_client_config import write_kubeconfig
from kargo_dagster.testing.server_process import free_port
from tests.defs.promotions import check_json, declined, failure_message, promote

REPO = Path(__file__).parents[2]
TOOLS = REPO / ".tools" / "bin"
DEV = dg.AssetKey(["kargo-demo", "stage", "dev"])
STAGING = dg.AssetKey(["kargo-demo", "stage", "staging"])


@dataclass
class World:
    services: DemoServices
    defs: dg.Definitions
    manifests: Path
    work_dir: Path

    def freight(self, instance: dg.DagsterInstance, version: str) -> str:
        """Publish ``version`` and record it as Freight, as the Warehouse sensor would."""
        digest = self.services.publish(version)
        image = Image(repo_url=self.services.image, tag=version, digest=digest)
        freight = Freight(origin=FreightOrigin(name="guestbook"), images=(image,))
        return record_freight(instance, "kargo-demo", freight)

    def definitions(self, argocd: ArgoCDSettings | None) -> dg.Definitions:
        kargo = KargoResource(
            work_dir=str(self.work_dir), kubectl=str(TOOLS / "kubectl"), argocd=argocd
        )
        return load_definitions(self.manifests, resources={"kargo": kargo})


@contextlib.contextmanager
def example_world(tmp_path: Path) -> Iterator[World]:
    ports = {name: free_port() for name in ("registry", "git", "kube", "app")}
    home = tmp_path / "home"
    home.mkdir()
    with demo_services(
        home,
        registry_port=ports["registry"],
        git_port=ports["git"],
        kube_port=ports["kube"],
        app_port=ports["app"],
    ) as services:
        # The example's manifests, pointed at this world's ports.
        manifests = tmp_path / "stages"
        shutil.copytree(REPO / "stages", manifests)
        for path in manifests.glob("*.yaml"):
            text = path.read_text()
            for default, port in (
                (REGISTRY_PORT, ports["registry"]),
                (GIT_PORT, ports["git"]),
                (KUBE_PORT, ports["kube"]),
                (APP_PORT, ports["app"]),
            ):
                text = text.replace(f"127.0.0.1:{default}/", f"127.0.0.1:{port}/")
            path.write_text(text)
        world = World(services, dg.Definitions(), manifests, tmp_path / "work")
        world.defs = world.definitions(argocd_settings(services.kube_url))
        yield world


def argocd_settings(host: str) -> ArgoCDSettings:
    return ArgoCDSettings(
        kubernetes=ArgoCDKubernetes(host=host),
        poll_interval_seconds=0.05,
        request_timeout_seconds=2,
        health_timeout_seconds=20,
    )


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_freight_goes_through_argo_cd_and_its_gates_from_dev_to_staging(tmp_path, instance):
    with example_world(tmp_path) as world:
        good = world.freight(instance, "v0.2.0")
        promoted = promote(world.defs, instance, DEV, good)
        assert promoted.success, failure_message(promoted)
        # The promotion pushed to the GitOps repository and Argo CD synced dev to that commit.
        head = world.services.gitops.rev("main")
        overlay = world.services.gitops.git("show", "main:env/dev/kustomization.yaml")
        assert "newTag: v0.2.0" in overlay
        app = world.services.kube.get(
            "argoproj.io/v1alpha1", "Application", "argocd", "guestbook-dev"
        )
        assert app["status"]["sync"]["revision"] == head
        assert app["status"]["operationState"]["phase"] == "Succeeded"
        [event] = promoted.get_asset_materialization_events()
        summary = str(event.materialization.metadata["summary"].value)
        assert f"### Auto-promoted {good} into dev" not in summary
        assert f"### Promoted {good} into dev" in summary
        assert "| task-1::push | git-push | Succeeded |" in summary
        gates = checks(promoted)
        assert gates["health"].passed, gates["health"].description
        assert gates["verified"].passed, gates["verified"].description
        # The smoke test asked the deployed guestbook twice, as its metric says.
        verification = check_json(gates["verified"], "verification")
        [metric] = verification["metrics"]
        assert (metric["metric"], metric["phase"], metric["count"]) == (
            "guestbook-healthy",
            "Successful",
            2,
        )
        # Verified in dev, the Freight is available to staging, whose app syncs in turn.
        into_staging = promote(world.defs, instance, STAGING, good)
        assert into_staging.success, failure_message(into_staging)
        assert checks(into_staging)["verified"].passed
        staging_app = world.services.kube.get(
            "argoproj.io/v1alpha1", "Application", "argocd", "guestbook-staging"
        )
        assert staging_app["status"]["sync"]["revision"] == world.services.gitops.rev("main")

        # v0.3.0 deploys, but the guestbook reports it failing: the smoke test stops it.
        bad = world.freight(instance, "v0.3.0")
        promoted = promote(world.defs, instance, DEV, bad)
        gates = checks(promoted)
        assert gates["health"].passed
        assert not gates["verified"].passed
        assert gates["verified"].metadata["phase"].value == "Failed"
        assert 'Metric "guestbook-healthy" assessed Failed' in (gates["verified"].description or "")
        refused = declined(instance, promote(world.defs, instance, STAGING, bad), "refused")
        assert f"Freight {bad}" in refused
        assert "not verified in Stage dev" in refused
        # Staging still runs the good Freight.
        assert "newTag: v0.2.0" in world.services.gitops.git(
            "show", "main:env/staging/kustomization.yaml"
        )


def test_without_an_argocd_setting_the_kubeconfig_in_the_environment_reaches_argo_cd(
    tmp_path, instance, monkeypatch
):
    # As Kargo's controllers: no configuration, the standard chain finds the cluster.
    with example_world(tmp_path) as world:
        kubeconfig = write_kubeconfig(world.services.kube_url, tmp_path / "kubeconfig")
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        key = world.freight(instance, "v0.2.0")
        promoted = promote(world.definitions(None), instance, DEV, key)
        assert promoted.success, failure_message(promoted)
        app = world.services.kube.get(
            "argoproj.io/v1alpha1", "Application", "argocd", "guestbook-dev"
        )
        assert app["status"]["sync"]["revision"] == world.services.gitops.rev("main")
        gates = checks(promoted)
        assert gates["health"].passed, gates["health"].description


def test_a_degraded_app_fails_the_gate_and_staging_refuses_the_freight(tmp_path, instance):
    with example_world(tmp_path) as world:
        world.services.argocd.health_after_sync(
            "guestbook-dev", status="Degraded", message="guestbook: CrashLoopBackOff"
        )
        key = world.freight(instance, "v0.2.0")
        promoted = promote(world.defs, instance, DEV, key)
        gates = checks(promoted)
        assert not gates["health"].passed
        assert 'has health state "Degraded"' in (gates["health"].description or "")
        assert not gates["verified"].passed
        refused = promote(world.defs, instance, STAGING, key)
        assert "not verified in Stage dev" in declined(instance, refused, "refused")


def test_an_app_not_authorized_for_the_stage_is_refused(tmp_path, instance):
    with example_world(tmp_path) as world:
        app = world.services.kube.get(
            "argoproj.io/v1alpha1", "Application", "argocd", "guestbook-dev"
        )
        del app["metadata"]["annotations"]["kargo.akuity.io/authorized-stage"]
        world.services.kube.add(app)
        promoted = promote(world.defs, instance, DEV, world.freight(instance, "v0.2.0"))
        assert not promoted.success
        message = failure_message(promoted)
        assert "guestbook-dev" in message
        assert "kargo.akuity.io/authorized-stage" in message
        assert "kargo-demo:dev" in message


@pytest.mark.parametrize("fault", ["unreachable", "server-error"])
def test_argo_cd_failing_fails_the_promotion_with_a_retryable_error(tmp_path, instance, fault):
    with example_world(tmp_path) as world:
        defs = world.defs
        if fault == "unreachable":
            defs = world.definitions(argocd_settings(f"http://127.0.0.1:{free_port()}"))
        else:
            world.services.kube.fail_next("get", "applications", "guestbook-dev", code=500)
        promoted = promote(defs, instance, DEV, world.freight(instance, "v0.2.0"))
        assert not promoted.success
        message = failure_message(promoted)
        # Errored, not Failed: Kargo's word for a step that may succeed when run again.
        assert "into Stage dev errored: step 'task-1::step-5' (argocd-update)" in message
        assert "met error threshold" in message
        if fault == "unreachable":
            assert "cannot reach the Kubernetes API" in message
            assert "Connection refused" in message
        else:
            assert "(500 Internal Server Error)" in message
