"""The ``verified`` gate run by the real Argo Rollouts controller.

As ``tests/defs/test_stage_verification.py`` does with the AnalysisRun simulator: the
Stage's AnalysisTemplate becomes an AnalysisRun in the Project's namespace, and its ``job``
metric runs a busybox pod whose exit status (``true`` or ``false``) decides the check.
"""

import dagster as dg
import pytest

from kargo_dagster import load_definitions, record_freight
from tests.cluster import (
    TAG,
    analysis_template,
    checks,
    freight,
    job_metric,
    stage,
    write_manifests,
)
from tests.cluster.conftest import Cluster
from tests.defs.promotions import check_json, failure_message, promote

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize(
    ("command", "phase"), [("true", "Successful"), ("false", "Failed")], ids=["true", "false"]
)
def test_a_job_metric_run_by_argo_rollouts_decides_verified(
    cluster: Cluster, project: str, instance, tmp_path, command: str, phase: str
):
    manifests = write_manifests(
        tmp_path,
        project,
        [
            analysis_template(project, "smoke", [job_metric("smoke", command)]),
            stage(
                project,
                "qa",
                [{"uses": "compose-output", "config": {"image": TAG}}],
                templates=[{"name": "smoke"}],
                args=[{"name": "version", "value": TAG}],
            ),
        ],
    )
    defs = load_definitions(manifests, resources={"kargo": cluster.kargo(tmp_path)})
    key = record_freight(instance, project, freight("v1.2.3"))

    result = promote(defs, instance, dg.AssetKey([project, "stage", "qa"]), key)

    verified = checks(result)["verified"]
    assert verified.passed is (phase == "Successful"), verified.description
    assert result.success is verified.passed, failure_message(result)
    assert verified.metadata["phase"].value == phase
    assert verified.metadata["executedBy"].value == "Argo Rollouts"
    [metric] = check_json(verified, "verification")["metrics"]
    assert (metric["metric"], metric["phase"]) == ("smoke", phase)
    # The run is the controller's: created in the Project's namespace, finished there.
    namespace, name = str(verified.metadata["analysisRun"].value).split("/")
    assert namespace == project
    run = cluster.read("analysisruns", project, name)
    assert run["status"]["phase"] == phase
    assert run["metadata"]["labels"]["kargo.akuity.io/stage"] == "qa"
    assert run["spec"]["args"] == [{"name": "version", "value": "v1.2.3"}]
