"""The delivery-metrics asset reads the Project's history from the instance."""

import base64

import dagster as dg

from kargo_dagster import load_definitions, record_freight
from tests.defs.promotions import declined, promote
from tests.defs.test_pipeline import DEV, QA, SHOP, STAGING, app_freight


def test_the_metrics_asset_counts_promotions_and_failures(instance):
    defs = load_definitions(SHOP)
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    v2 = record_freight(instance, "shop", app_freight("v2.0.0"))
    assert promote(defs, instance, DEV, v1).success
    assert promote(defs, instance, STAGING, v1).success
    # A refused promotion changed nothing: like a superseded request, it is no attempt.
    refused = promote(defs, instance, STAGING, v2)
    assert "not verified in Stage dev" in declined(instance, refused, "refused")
    # qa's promotion steps cannot run here: a failed attempt.
    assert not promote(defs, instance, QA, v2).success
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey(["shop", "delivery-metrics"])}
    )
    result = job.execute_in_process(instance=instance)
    assert result.success
    [event] = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    rows = {r.data["stage"]: r.data for r in metadata["metrics"].value.records}  # type: ignore[union-attr]
    assert rows["dev"]["deployments"] == 1
    assert rows["dev"]["change_failure_rate"] == 0.0
    assert rows["staging"]["deployments"] == 1
    assert rows["staging"]["change_failure_rate"] == 0.0
    assert (rows["qa"]["deployments"], rows["qa"]["change_failure_rate"]) == (0, 1.0)
    assert rows["prod"]["deployments"] == 0
    assert rows["dev"]["lead_time_h"] is not None
    summary = metadata["summary"].value
    assert "| staging | 1 | 0.03 |" in str(summary)
    assert "| 100% |" in str(summary)


def test_the_metrics_asset_draws_a_chart(instance):
    defs = load_definitions(SHOP)
    job = defs.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey(["shop", "delivery-metrics"])}
    )
    [event] = job.execute_in_process(instance=instance).get_asset_materialization_events()
    chart = str(event.materialization.metadata["chart"].value)
    prefix = "![Delivery metrics per Stage](data:image/png;base64,"
    assert chart.startswith(prefix)
    assert base64.b64decode(chart[len(prefix) : -1]).startswith(b"\x89PNG\r\n\x1a\n")
