"""The Stages' approve and promote jobs: Kargo's approval and promotion from the Dagster UI,
each a choice of Freight from the job's partitions, nothing typed."""

import dagster as dg

from kargo_dagster import load_definitions, record_freight
from tests.defs.promotions import declined
from tests.defs.test_pipeline import SHOP, app_freight


def test_each_stage_has_a_promote_and_an_approve_job_partitioned_by_freight(instance):
    defs = load_definitions(SHOP)
    names = {job.name for job in defs.resolve_all_job_defs()}
    assert {"shop__promote__dev", "shop__approve__staging", "shop__promote__prod"} <= names
    promote_staging = defs.resolve_job_def("shop__promote__staging")
    assert promote_staging.partitions_def is not None
    assert promote_staging.partitions_def.name == "shop/app"  # type: ignore[attr-defined]


def test_approving_from_the_ui_is_picking_the_freight_of_the_stage_job(instance):
    defs = load_definitions(SHOP)
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    promote_staging = defs.resolve_job_def("shop__promote__staging")
    # Not yet available: refused, and nothing in staging changes.
    refused = promote_staging.execute_in_process(partition_key=v1, instance=instance)
    assert "is not available to Stage staging" in declined(instance, refused, "refused")
    assert refused.dagster_run.job_name == "shop__promote__staging"

    approve = defs.resolve_job_def("shop__approve__staging")
    approved = approve.execute_in_process(
        partition_key=v1, instance=instance, tags={"dagster/user": "alice@example.com"}
    )
    assert approved.success
    # Approved, the Freight is available to staging without passing dev.
    promoted = promote_staging.execute_in_process(
        partition_key=v1, instance=instance, raise_on_error=False
    )
    assert promoted.success
    [event] = promoted.get_asset_materialization_events()
    assert event.materialization.metadata["availability"].value == (
        f"Freight {v1} is approved for Stage staging"
    )
    run = instance.get_run_by_id(promoted.run_id)
    assert run is not None and run.tags["kargo/actor"] == "dagster-ui"
    records = instance.fetch_observations(
        dg.AssetKey(["shop", "stage", "staging"]), limit=1
    ).records
    assert records[0].asset_observation is not None
    assert records[0].asset_observation.metadata["kargo/actor"].value == "alice@example.com"
