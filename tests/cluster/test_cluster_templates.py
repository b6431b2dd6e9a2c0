"""AnalysisTemplates that only the cluster has: :class:`ClusterTemplates` reads them, the run
built from them is one the real API server accepts, and a Stage verifies with them."""

from typing import Any, cast

import dagster as dg
import kubernetes
import pytest

from kargo_dagster import load_definitions, load_manifests, record_freight
from kargo_dagster.clients.kube.analysis_templates import ClusterTemplates
from kargo_dagster.verification.analysis_run import build_analysis_run
from kargo_dagster.verification.template_sources import CatalogTemplates, LayeredTemplates
from tests.cluster import (
    ARGO,
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


def qa_stage(project: str, cluster_template: str) -> dict[str, Any]:
    """A Stage verified by AnalysisTemplate ``smoke`` and ``cluster_template``, neither of
    which is among the manifests."""
    return stage(
        project,
        "qa",
        [{"uses": "compose-output", "config": {"image": TAG}}],
        templates=[
            {"name": "smoke"},
            {"name": cluster_template, "kind": "ClusterAnalysisTemplate"},
        ],
        args=[{"name": "version", "value": TAG}],
    )


def install_templates(project: str, create) -> str:
    """``smoke`` in the Project's namespace and a ClusterAnalysisTemplate; the latter's name."""
    create(analysis_template(project, "smoke", [job_metric("smoke", "true")]), "analysistemplates")
    cluster_wide = f"{project}-reachable"
    create(
        analysis_template(None, cluster_wide, [job_metric("reachable", "true")]),
        "clusteranalysistemplates",
    )
    return cluster_wide


def test_templates_read_from_the_cluster_build_a_run_it_accepts(
    cluster: Cluster, project: str, create, tmp_path
):
    cluster_wide = install_templates(project, create)
    catalog = load_manifests(write_manifests(tmp_path, project, [qa_stage(project, cluster_wide)]))
    qa = catalog.projects[project].stages["qa"]
    api_client = kubernetes.config.new_client_from_config(persist_config=False)
    with ClusterTemplates(api_client) as in_cluster:
        assert in_cluster.analysis_template(project, "absent") is None
        assert in_cluster.cluster_analysis_template(f"{project}-absent") is None
        assert in_cluster.analysis_template(project, "smoke") == {
            "args": [{"name": "version"}],
            "metrics": [job_metric("smoke", "true")],
        }
        templates = LayeredTemplates(CatalogTemplates(catalog), in_cluster)
        run = build_analysis_run(qa, {"app": freight("v1.2.3")}, templates)

    assert [m["name"] for m in run["spec"]["metrics"]] == ["smoke", "reachable"]
    assert run["spec"]["args"] == [{"name": "version", "value": "v1.2.3"}]
    # The API server validates it against the installed CRD, storing nothing (dry run).
    accepted = cast(
        dict[str, Any],
        cluster.custom.create_namespaced_custom_object(
            *ARGO, project, "analysisruns", run, dry_run="All"
        ),
    )
    assert [m["name"] for m in accepted["spec"]["metrics"]] == ["smoke", "reachable"]


def test_a_stage_verifies_with_templates_only_the_cluster_has(
    cluster: Cluster, project: str, create, instance, tmp_path
):
    cluster_wide = install_templates(project, create)
    manifests = write_manifests(tmp_path, project, [qa_stage(project, cluster_wide)])
    defs = load_definitions(manifests, resources={"kargo": cluster.kargo(tmp_path)})
    key = record_freight(instance, project, freight("v1.2.3"))

    result = promote(defs, instance, dg.AssetKey([project, "stage", "qa"]), key)

    assert result.success, failure_message(result)
    verified = checks(result)["verified"]
    assert verified.passed, verified.description
    assert verified.metadata["executedBy"].value == "Argo Rollouts"
    metrics = check_json(verified, "verification")["metrics"]
    assert [(m["metric"], m["phase"]) for m in metrics] == [
        ("smoke", "Successful"),
        ("reachable", "Successful"),
    ]
