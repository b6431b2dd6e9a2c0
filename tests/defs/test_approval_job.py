"""The `<project>__approve` job: Kargo's manual approval, launched from the Dagster UI."""

from kargo_dagster import load_definitions, record_freight
from tests.defs.promotions import promote
from tests.defs.test_pipeline import SHOP, STAGING, app_freight


def test_the_approval_job_approves_from_the_ui(instance):
    defs = load_definitions(SHOP)
    job = defs.resolve_job_def("shop__approve")
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    config = {"ops": {"shop__approve_freight": {"config": {"stage": "staging", "freight": v1}}}}
    result = job.execute_in_process(run_config=config, instance=instance)
    assert result.success
    # Approved, the Freight is available to staging without passing dev.
    promoted = promote(defs, instance, STAGING, v1)
    assert promoted.success
    [event] = promoted.get_asset_materialization_events()
    assert event.materialization.metadata["availability"].value == (
        f"Freight {v1} is approved for Stage staging"
    )
    refused = job.execute_in_process(
        run_config={"ops": {"shop__approve_freight": {"config": {"stage": "nope", "freight": v1}}}},
        instance=instance,
        raise_on_error=False,
    )
    assert not refused.success
