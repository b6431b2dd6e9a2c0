"""What the Dagster UI shows at a glance, read in headless Chromium from a real webserver.

A Project shop (dev -> staging -> prod, prod soaking for an hour) goes through what a team
meets on a first day: v1.0.0 verified in dev and staging; prod refuses it until a person
approves it from the UI (the Stage's approve job, the Freight picked as its partition); the
broken v6.6.6 fails its verification in dev; staging and prod refuse it. Then the UI must say:
prod is not red and still holds v1.0.0 with its checks passed, dev's v6.6.6 partition and
checks are failed, the refused and the failed run say why in one line, and the pipeline view
tells each Stage's Freight and state. A good v1.0.1 then turns dev's checks passed again.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.testing import free_port
from kargo_dagster.testing.loopback import LoopbackServer
from kargo_dagster.testing.polling import wait_until
from tests.defs.test_demo import launch_job, rendered_dom, visible_text
from tests.defs.test_stage_verification import _Shop
from tests.manifests import (
    analysis_template,
    image_tag,
    project,
    requested,
    smoke_metric,
    stage,
    step,
    verification,
    warehouse,
    write_manifests,
)
from tests.server_probe import answers

APP = "registry.example.com/shop/app"
WEBSERVER = [sys.executable, "-m", "dagster_webserver", "-w", "workspace.yaml", "-h", "127.0.0.1"]
DEFINITIONS = """\
from kargo_dagster import load_definitions
from kargo_dagster.defs.resources import KargoResource

defs = load_definitions({manifests!r}, resources={{"kargo": KargoResource(work_dir={work!r})}})
"""


def manifests(path: Path, probe: str) -> Path:
    metric = smoke_metric(probe)
    to_prod = requested("app", stages=["staging"])
    to_prod["sources"]["requiredSoakTime"] = "1h"
    return write_manifests(
        path,
        project("shop"),
        warehouse("app", "shop", image=APP),
        analysis_template("smoke", "shop", metric, args=["version"]),
        stage(
            "dev",
            "shop",
            requested=[requested("app")],
            steps=[step("compose-output", image=image_tag(APP))],
            verification=verification("smoke", args={"version": image_tag(APP)}),
        ),
        stage("staging", "shop", requested=[requested("app", stages=["dev"])]),
        stage("prod", "shop", requested=[to_prod]),
    )


def freight(tag: str) -> Freight:
    digest = "sha256:" + tag.encode().hex().ljust(64, "0")
    return Freight(
        origin=FreightOrigin(name="app"), images=(Image(repo_url=APP, tag=tag, digest=digest),)
    )


def page(url: str, profile: Path) -> str:
    return visible_text(rendered_dom(url, profile))


def wait_for_webserver(url: str, process: subprocess.Popen, timeout: float = 300) -> None:
    # A bound on hanging, not on speed: loading the code location while other workers load
    # theirs can take minutes on a two-CPU machine.
    wait_until(
        lambda: answers(f"{url}/server_info"),
        what="the webserver to answer",
        timeout=timeout,
        interval=1,
        process=process,
    )


def wait_for_run(instance: dg.DagsterInstance, run_id: str, timeout: float = 180) -> dg.DagsterRun:
    def finished() -> dg.DagsterRun | None:
        run = instance.get_run_by_id(run_id)
        return run if run is not None and run.is_finished else None

    return wait_until(finished, what=f"run {run_id} to finish", timeout=timeout, interval=1)


def test_the_ui_tells_which_freight_each_stage_runs_and_what_failed_where(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    # No daemon here: the webserver launches the UI's runs itself.
    (home / "dagster.yaml").write_text(
        "telemetry: {enabled: false}\nnux: {enabled: false}\n"
        "run_coordinator:\n  module: dagster._core.run_coordinator\n"
        "  class: DefaultRunCoordinator\n"
    )
    probe = LoopbackServer(_Shop)
    path = manifests(tmp_path / "stages.yaml", probe.url)
    work = tmp_path / "work"
    (tmp_path / "definitions.py").write_text(
        DEFINITIONS.format(manifests=str(path), work=str(work))
    )
    (tmp_path / "workspace.yaml").write_text("load_from:\n  - python_file: definitions.py\n")
    defs = load_definitions(path, resources={"kargo": KargoResource(work_dir=str(work))})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    webserver = subprocess.Popen(
        [*WEBSERVER, "-p", str(port)],
        cwd=tmp_path,
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:

            def promote(stage: str, key: str) -> str:
                job = defs.resolve_job_def(f"shop__promote__{stage}")
                result = job.execute_in_process(
                    partition_key=key, instance=instance, raise_on_error=False
                )
                return result.run_id

            good = record_freight(instance, "shop", freight("v1.0.0"))
            bad = record_freight(instance, "shop", freight("v6.6.6"))
            promote("dev", good)
            promote("staging", good)
            wait_for_webserver(url, webserver)
            # prod wants an hour of soak: refused. A person approves it from the UI, by
            # picking the Freight as the approve job's partition, and it goes through.
            refused = promote("prod", good)
            approval = wait_for_run(instance, launch_job(url, "shop__approve__prod", good))
            assert approval.status == dg.DagsterRunStatus.SUCCESS
            promote("prod", good)
            failed = promote("dev", bad)  # fails verification
            promote("staging", bad)  # refused: not verified in dev
            promote("prod", bad)  # refused too
            status = defs.resolve_sensor_def("shop__freight_status")
            tick = status(dg.build_sensor_context(instance=instance, definitions=defs))
            assert isinstance(tick, dg.SensorResult)
            # What the daemon does with the tick's events.
            for event in tick.asset_events:
                instance.report_runless_asset_event(event)

        profile = tmp_path / "chromium"
        lineage = page(f"{url}/asset-groups/shop", profile)
        nodes = {
            name: text
            for name, text in re.findall(
                r"kargo (dev|staging|prod) (Latest event .*?)(?= kargo)", lineage
            )
        }
        # Refusals paint nothing red: staging and prod have no failed partition; dev has one.
        assert "failed" not in nodes["prod"] and "failed" not in nodes["staging"], nodes
        assert "(1 failed)" in nodes["dev"], nodes
        # Each Stage's checks are those of the Freight it holds: the refusals since left
        # staging's and prod's passed; dev holds the Freight that failed verification.
        assert "Asset checks 2 / 2 Passed" in nodes["prod"], nodes
        assert "Asset checks 2 / 2 Passed" in nodes["staging"], nodes
        assert "Asset checks 1 / 2 Passed" in nodes["dev"], nodes

        # The failed verification's run ends with one line: which check, Freight, Stage, why.
        run = page(f"{url}/runs/{failed}", profile)
        assert f"verified failed for Freight {bad} in Stage dev: Failed:" in run

        partitions = page(f"{url}/assets/shop/stage/dev?view=partitions", profile)
        assert "Failed (1)" in partitions and "Materialized (1)" in partitions, partitions
        assert bad in partitions and good in partitions

        prod = page(f"{url}/assets/shop/stage/prod", profile)
        assert "Latest materialization" in prod and good in prod
        assert "approved for Stage prod" in prod

        # The refused run says why at its top, and is no failure.
        run = page(f"{url}/runs/{refused}", profile)
        assert "Success" in run
        assert "Refused: Freight " + good + " is not available to Stage prod" in run

        # The pipeline view: every Stage, its Freight's versions and states, on its overview.
        view = page(f"{url}/assets/shop/pipeline", profile)
        assert "dev v6.6.6-" in view or f"dev {bad}" in view, view
        for stage_name, key, verified in (("dev", bad, "failed"), ("staging", good, "passed")):
            row = re.search(rf"{stage_name} {re.escape(key)} app:v\S+ (\w+) (\w+)", view)
            assert row is not None, view
            assert row.group(2) == verified

        # Once a good Freight replaces the broken one, dev's checks are passed again.
        with dg.DagsterInstance.from_config(str(home)) as instance:
            fixed = record_freight(instance, "shop", freight("v1.0.1"))
            defs.resolve_job_def("shop__promote__dev").execute_in_process(
                partition_key=fixed, instance=instance
            )
        lineage = page(f"{url}/asset-groups/shop", profile)
        assert re.search(r"kargo dev Latest event .*? Asset checks 2 / 2 Passed", lineage)
    finally:
        webserver.terminate()
        webserver.wait(timeout=60)
        probe.close()
