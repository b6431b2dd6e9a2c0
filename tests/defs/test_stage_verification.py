"""The ``verified`` check runs the Stage's AnalysisTemplates as one AnalysisRun, as Kargo does,
in a fake Kubernetes API where the AnalysisRun simulator plays Argo Rollouts."""

import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import dagster as dg
import pytest

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.instance_queries import current_freight
from kargo_dagster.defs.resources import ArgoCDKubernetes, KargoResource, RolloutsSettings
from kargo_dagster.defs.run_failures import failure_reasons
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.testing.analysis_sim import AnalysisRunSimulator
from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.testing.loopback import LoopbackServer, QuietHandler
from kargo_dagster.testing.polling import wait_until
from tests.defs.promotions import check_json, promote
from tests.manifests import job_metric, smoke_metric, verified_stage_manifests

APP = "registry.example.com/shop/app"
HEALTHZ = "/healthz?v={{args.version}}"
UP = {"name": "up", "provider": {"web": {"url": "https://shop.example.com" + HEALTHZ}}}


def manifests(path: Path, metric: Mapping[str, Any] = UP) -> Path:
    """Stage dev, verified by AnalysisTemplate smoke measuring ``metric`` for the Freight's tag."""
    return verified_stage_manifests(path, APP, metric)


DEV = dg.AssetKey(["shop", "stage", "dev"])
FREIGHT = Freight(
    origin=FreightOrigin(name="app"),
    images=(Image(repo_url=APP, tag="v1.2.3", digest="sha256:" + "1" * 64),),
)


def verify_dev(tmp_path: Path, instance, *, outcome: str):
    with FakeKubeAPI() as kube:
        settings = RolloutsSettings(
            kubernetes=ArgoCDKubernetes(host=kube.url), poll_interval_seconds=0.05
        )
        kargo = KargoResource(work_dir=str(tmp_path / "work"), rollouts=settings)
        defs = load_definitions(manifests(tmp_path / "stages.yaml"), resources={"kargo": kargo})
        key = record_freight(instance, "shop", FREIGHT)
        with AnalysisRunSimulator(kube, outcome=outcome).running():
            result = promote(defs, instance, DEV, key)
        runs = kube.list_objects("argoproj.io/v1alpha1", "AnalysisRun", "shop")
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    return result, checks["verified"], runs


def test_a_successful_analysis_verifies_the_freight(tmp_path, instance):
    result, verified, runs = verify_dev(tmp_path, instance, outcome="Successful")
    assert result.success
    assert verified.passed
    assert verified.metadata["phase"].value == "Successful"
    [run] = runs
    # Built as Kargo builds it: the Stage's label and args evaluated for this Freight.
    assert run["metadata"]["labels"]["kargo.akuity.io/stage"] == "dev"
    assert run["metadata"]["name"].startswith("dev.")
    assert run["spec"]["args"] == [{"name": "version", "value": "v1.2.3"}]
    assert verified.metadata["analysisRun"].value == f"shop/{run['metadata']['name']}"


def test_a_failed_analysis_fails_the_gate(tmp_path, instance):
    result, verified, runs = verify_dev(tmp_path, instance, outcome="Failed")
    assert not verified.passed
    assert verified.metadata["phase"].value == "Failed"
    assert len(runs) == 1
    assert not result.success


class _Shop(QuietHandler):
    """The shop's health endpoint: healthy for every version but v6.6.6."""

    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        healthy = "v=v6.6.6" not in self.path
        body = json.dumps({"status": "ok" if healthy else "down"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.mark.parametrize("version", ["v1.2.3", "v6.6.6"])
def test_without_argo_rollouts_the_check_runs_the_web_metric_itself(tmp_path, instance, version):
    _Shop.requests = []
    server = LoopbackServer(_Shop)
    try:
        path = manifests(tmp_path / "stages.yaml", smoke_metric(server.url))
        kargo = KargoResource(work_dir=str(tmp_path / "work"))
        defs = load_definitions(path, resources={"kargo": kargo})
        image = FREIGHT.images[0].model_copy(update={"tag": version})
        freight = FREIGHT.model_copy(update={"images": (image,)})
        key = record_freight(instance, "shop", freight)
        result = promote(defs, instance, DEV, key)
    finally:
        server.close()
    verified = {e.check_name: e for e in result.get_asset_check_evaluations()}["verified"]
    assert _Shop.requests == [f"/healthz?v={version}"]
    assert verified.metadata["executedBy"].value == "kargo-dagster"
    [measurement] = check_json(verified, "verification")["measurements"]
    if version == "v1.2.3":
        assert verified.passed, verified.description
        assert (measurement["phase"], measurement["value"]) == ("Successful", '"ok"')
    else:
        assert not verified.passed
        assert verified.metadata["phase"].value == "Failed"
        assert (measurement["phase"], measurement["value"]) == ("Failed", '"down"')
    # What the UI shows at a glance: the Stage holds the Freight; its partition is green when
    # it passed and red when it failed, and a failed run says why in one line at its top.
    assert current_freight(instance, DEV).partition_key == key  # type: ignore[union-attr]
    partitions = defs.resolve_assets_def(DEV).partitions_def
    assert partitions is not None
    status = instance.get_status_by_partition(DEV, [key], partitions)
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    if version == "v1.2.3":
        assert status == {key: dg.AssetPartitionStatus.MATERIALIZED}
        assert "kargo/reason" not in run.tags
    else:
        assert status == {key: dg.AssetPartitionStatus.FAILED}
        assert run.tags["kargo/reason"].startswith(
            f"verified failed for Freight {key} in Stage dev: "
        )
        # What promote and history say of the run: the failed check once, not its verdict too.
        assert failure_reasons(instance, result.run_id) == [run.tags["kargo/reason"]]


def test_a_job_metric_without_a_pod_connection_says_how_to_configure_one(tmp_path, instance):
    path = manifests(tmp_path / "stages.yaml", job_metric("up", "busybox", container="smoke"))
    defs = load_definitions(path, resources={"kargo": KargoResource(work_dir=str(tmp_path))})
    result = promote(defs, instance, DEV, record_freight(instance, "shop", FREIGHT))
    verified = {e.check_name: e for e in result.get_asset_check_evaluations()}["verified"]
    assert not verified.passed
    assert "metric 'up' runs a Job; give KargoResource " in (verified.description or "")
    assert "analysis=AnalysisSettings(pods=AnalysisPods(...))" in (verified.description or "")


# A metric with an interval and no count measures until the run is terminated.
ENDLESS = {**UP, "interval": "1s"}


def test_a_run_that_outlasts_the_timeout_is_terminated(tmp_path, instance):
    path = manifests(tmp_path / "stages.yaml", ENDLESS)
    with FakeKubeAPI() as kube:
        settings = RolloutsSettings(
            kubernetes=ArgoCDKubernetes(host=kube.url),
            poll_interval_seconds=0.05,
            timeout_seconds=0.5,
        )
        kargo = KargoResource(work_dir=str(tmp_path / "work"), rollouts=settings)
        defs = load_definitions(path, resources={"kargo": kargo})
        key = record_freight(instance, "shop", FREIGHT)
        with AnalysisRunSimulator(kube).running():
            result = promote(defs, instance, DEV, key)
        [run] = kube.list_objects("argoproj.io/v1alpha1", "AnalysisRun", "shop")
    verified = {e.check_name: e for e in result.get_asset_check_evaluations()}["verified"]
    assert not verified.passed
    assert verified.metadata["phase"].value == "Error"
    assert "after 0.5s (RolloutsSettings.timeout_seconds), so it was terminated" in (
        verified.description or ""
    )
    assert run["spec"]["terminate"] is True


def test_interrupting_a_verification_terminates_its_analysis_run(tmp_path, instance):
    path = manifests(tmp_path / "stages.yaml", ENDLESS)
    with FakeKubeAPI() as kube:
        settings = RolloutsSettings(
            kubernetes=ArgoCDKubernetes(host=kube.url),
            poll_interval_seconds=0.05,
            timeout_seconds=0.2,
        )
        kargo = KargoResource(work_dir=str(tmp_path / "work"), rollouts=settings)
        defs = load_definitions(path, resources={"kargo": kargo})
        key = record_freight(instance, "shop", FREIGHT)
        with AnalysisRunSimulator(kube).running():
            assert promote(defs, instance, DEV, key).success is False
            # `kargo-dagster verify` waits on a new AnalysisRun until it is interrupted.
            definitions = tmp_path / "definitions.py"
            definitions.write_text(
                "from kargo_dagster import load_definitions\n"
                "from kargo_dagster.defs.resources import *\n"
                f"connection = ArgoCDKubernetes(host={kube.url!r})\n"
                "settings = RolloutsSettings(kubernetes=connection, poll_interval_seconds=0.05)\n"
                f"kargo = KargoResource(work_dir={str(tmp_path / 'work')!r}, rollouts=settings)\n"
                f"defs = load_definitions({str(path)!r}, resources={{'kargo': kargo}})\n"
            )
            verify = subprocess.Popen(
                [
                    str(Path(sys.executable).parent / "kargo-dagster"),
                    "verify",
                    "--path",
                    str(path),
                    "--definitions",
                    str(definitions),
                    "--stage",
                    "dev",
                ],
                env={**os.environ, "DAGSTER_HOME": str(instance.root_directory)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            try:
                # Interrupted once it polls its AnalysisRun: from then on it must terminate it.
                wait_until(
                    lambda: polled_newest_run(kube),
                    what="verify to poll a new AnalysisRun",
                    timeout=60,
                    process=verify,
                )
                verify.send_signal(signal.SIGINT)
                output, _ = verify.communicate(timeout=60)
            finally:
                if verify.poll() is None:
                    verify.kill()
            newest = newest_run(kube)
    assert verify.returncode != 0, output
    assert newest["spec"].get("terminate") is True, output


def newest_run(kube: FakeKubeAPI) -> dict[str, Any]:
    runs = kube.list_objects("argoproj.io/v1alpha1", "AnalysisRun", "shop")
    return max(runs, key=lambda run: run["metadata"]["creationTimestamp"] + run["metadata"]["name"])


def polled_newest_run(kube: FakeKubeAPI) -> bool:
    """Whether a second AnalysisRun was created and then read back by whoever waits on it."""
    if len(kube.list_objects("argoproj.io/v1alpha1", "AnalysisRun", "shop")) < 2:
        return False
    path = f"/analysisruns/{newest_run(kube)['metadata']['name']}"
    return any(r.method == "GET" and r.path.endswith(path) for r in list(kube.requests))
