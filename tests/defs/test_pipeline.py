"""The example pipeline on a real Dagster instance: promote, gate, roll back, approve."""

import json
import re

import dagster as dg
import pytest

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.cli import main
from kargo_dagster.defs.approvals import approve_freight
from kargo_dagster.defs.run_failures import failure_reasons
from kargo_dagster.defs.status_report import collect_status
from kargo_dagster.errors import PromotionRefusedError
from kargo_dagster.freight import Freight, FreightOrigin, GitCommit, Image
from kargo_dagster.spec import load_manifests
from tests.conftest import FIXTURES
from tests.defs.promotions import declined, promote

SHOP = FIXTURES / "pipelines" / "shop"
DEV = dg.AssetKey(["shop", "stage", "dev"])
STAGING = dg.AssetKey(["shop", "stage", "staging"])
PROD = dg.AssetKey(["shop", "stage", "prod"])
QA = dg.AssetKey(["shop", "stage", "qa"])
UAT = dg.AssetKey(["shop", "stage", "uat"])


def app_freight(tag: str) -> Freight:
    return Freight(
        origin=FreightOrigin(name="app"),
        images=(
            Image(
                repo_url="registry.example.com/shop/app",
                tag=tag,
                digest="sha256:" + tag.encode().hex().ljust(64, "0"),
            ),
        ),
    )


@pytest.fixture
def defs() -> dg.Definitions:
    return load_definitions(SHOP)


def test_promotion_moves_freight_through_the_stages(defs, instance):
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    result = promote(defs, instance, DEV, v1)
    assert result.success
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert evaluations["health"].passed and evaluations["verified"].passed
    # The verdict judged this promotion of v1.
    promotion = instance.fetch_materializations(DEV, limit=1).records[0]
    assert promotion.partition_key == v1
    judged = evaluations["verified"].target_materialization_data
    assert judged is not None and judged.storage_id == promotion.storage_id

    result = promote(defs, instance, STAGING, v1, tags={"kargo/actor": "alice"})
    assert result.success
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    assert {k: v for k, v in run.tags.items() if k.startswith("kargo/")} == {
        "kargo/project": "shop",
        "kargo/stage": "staging",
        "kargo/freight": v1,
        "kargo/action": "promote",
        "kargo/actor": "alice",
    }
    [materialization] = result.get_asset_materialization_events()
    metadata = materialization.materialization.metadata
    assert metadata["kargo/actor"].value == "alice"
    assert metadata["kargo/freight_id"].value == app_freight("v1.0.0").id
    assert metadata["availability"].value == f"Freight {v1} is verified in Stage dev"


def test_staging_refuses_freight_not_verified_in_dev(defs, instance):
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    result = promote(defs, instance, STAGING, v1)
    # A refused promotion changes nothing, so its run succeeds without materializing the
    # Stage and says why in its tags.
    reason = declined(instance, result, "refused")
    # A refused promotion is still tagged, so it shows up when filtering by Stage.
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.tags["kargo/stage"] == "staging"
    assert reason == (
        f"Refused: Freight {v1} is not available to Stage staging: it must be verified in "
        "Stage dev, "
        "but it is not verified in Stage dev (never promoted there). Promote it to Stage dev "
        "and let it verify, or approve it for Stage staging."
    )
    assert instance.fetch_materializations(STAGING, limit=1).records == []


def test_failed_verification_blocks_the_next_stage(defs, instance):
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    # qa has promotion steps, which this version cannot run, so it never verifies anything;
    # approval is the way through to qa itself.
    project = load_manifests(SHOP).projects["shop"]
    approve_freight(instance, project, stage="qa", partition_key=v1, actor="ci")
    assert not promote(defs, instance, QA, v1).success
    result = promote(defs, instance, UAT, v1)
    assert "not verified in Stage qa" in declined(instance, result, "refused")


def test_rollback_to_older_freight_becomes_current(defs, instance, monkeypatch, tmp_path):
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    v2 = record_freight(instance, "shop", app_freight("v2.0.0"))
    for key in (v1, v2):
        assert promote(defs, instance, DEV, key).success
        assert promote(defs, instance, STAGING, key).success
    result = promote(defs, instance, STAGING, v1, tags={"kargo/action": "rollback"})
    assert result.success
    rollbacks = instance.get_run_records(
        dg.RunsFilter(tags={"kargo/stage": "staging", "kargo/action": "rollback"})
    )
    assert [r.dagster_run.tags["kargo/freight"] for r in rollbacks] == [v1]

    report = collect_status(instance, load_manifests(SHOP))
    staging = next(s for s in report["projects"][0]["stages"] if s["stage"] == "staging")
    assert staging["freight"] == v1
    assert staging["verification"] == "passed"
    assert staging["freightID"] == app_freight("v1.0.0").id
    dev = next(s for s in report["projects"][0]["stages"] if s["stage"] == "dev")
    assert dev["freight"] == v2


def test_approval_makes_unverified_freight_available(defs, instance):
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    project = load_manifests(SHOP).projects["shop"]
    assert "not available" in declined(instance, promote(defs, instance, STAGING, v1), "refused")
    approve_freight(instance, project, stage="staging", partition_key=v1, actor="alice")
    result = promote(defs, instance, STAGING, v1)
    assert result.success
    [materialization] = result.get_asset_materialization_events()
    availability = materialization.materialization.metadata["availability"].value
    assert "approved for Stage staging" in str(availability)
    # Approval is per Stage: prod still needs staging's verification and soak time.
    other = record_freight(instance, "shop", app_freight("v3.0.0"))
    approve_freight(instance, project, stage="staging", partition_key=other, actor="alice")
    refused = declined(instance, promote(defs, instance, PROD, other), "refused")
    assert f"Freight {other} is not available to Stage prod" in refused


def test_approval_only_for_requested_origins(instance):
    project = load_manifests(SHOP).projects["shop"]
    config = record_freight(
        instance,
        "shop",
        Freight(
            origin=FreightOrigin(name="config"),
            commits=(GitCommit(repo_url="https://git.example.com/shop/config.git", id="a" * 40),),
        ),
    )
    with pytest.raises(PromotionRefusedError, match="not Freight of any Warehouse Stage dev"):
        approve_freight(instance, project, stage="dev", partition_key=config, actor="bob")


def test_soak_time_gates_prod(defs, instance):
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    assert promote(defs, instance, DEV, v1).success
    assert promote(defs, instance, STAGING, v1).success
    result = promote(defs, instance, PROD, v1)
    assert "short of the required 1h" in declined(instance, result, "refused")
    assert instance.fetch_materializations(PROD, limit=1).records == []


def test_partition_that_is_not_freight_is_refused(defs, instance):
    instance.add_dynamic_partitions("shop/app", ["made-up-0000000"])
    result = promote(defs, instance, DEV, "made-up-0000000")
    reason = declined(instance, result, "refused")
    assert reason.startswith("Refused: partition made-up-0000000 ")
    assert "is not Freight recorded by Warehouse app" in reason


def test_status_command_reports_current_freight(defs, instance, monkeypatch, capsys):
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    assert promote(defs, instance, DEV, v1).success
    monkeypatch.setenv("DAGSTER_HOME", instance.root_directory)
    assert main(["status", "--path", str(SHOP), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    dev = report["projects"][0]["stages"][0]
    assert (dev["stage"], dev["freight"], dev["verification"], dev["health"]) == (
        "dev",
        v1,
        "passed",
        "passed",
    )
    assert main(["status", "--path", str(SHOP)]) == 0
    table = capsys.readouterr().out
    alias = app_freight("v1.0.0").alias
    line = rf"^\s+dev\s+app\s+{v1}\s+{alias}\s+\d{{4}}-\d\d-\d\d .* passed\s+passed$"
    assert re.search(line, table, re.M)


def test_a_promotion_that_changes_nothing_leaves_the_stage_checks_on_what_it_holds(defs, instance):
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    assert promote(defs, instance, DEV, v1).success
    assert promote(defs, instance, STAGING, v1).success
    before = collect_status(instance, load_manifests(SHOP))
    v2 = record_freight(instance, "shop", app_freight("v2.0.0"))
    refused = promote(defs, instance, STAGING, v2)  # not verified in dev
    declined(instance, refused, "refused")

    # What Dagster's graph shows for staging's checks: their newest executions, which are
    # still the verdicts on v1's promotion (restated by the refused run), not skipped ones.
    promotion = instance.fetch_materializations(STAGING, limit=1).records[0]
    keys = [dg.AssetCheckKey(STAGING, name) for name in ("health", "verified")]
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    for key in keys:
        record = latest[key]
        assert record.run_id == refused.run_id
        assert record.status.value == "SUCCEEDED"
        assert record.evaluation is not None
        judged = record.evaluation.target_materialization_data
        assert judged is not None and judged.storage_id == promotion.storage_id
        assert "kargo/restated" in record.evaluation.metadata

    # Nothing else changes: staging holds v1, healthy and verified, and the refused run's
    # only reason is the refusal (its tag), no restated verdict.
    def staging(report: dict) -> dict:
        return next(row for row in report["projects"][0]["stages"] if row["stage"] == "staging")

    assert staging(collect_status(instance, load_manifests(SHOP))) == staging(before)
    assert failure_reasons(instance, refused.run_id) == []
