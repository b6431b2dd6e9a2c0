"""Where each Freight stands, recorded on its Warehouse partition by the status sensor."""

import dagster as dg

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.approvals import approve_freight
from kargo_dagster.spec import load_manifests
from tests.defs.promotions import promote
from tests.defs.test_pipeline import DEV, SHOP, app_freight

SENSOR = "shop__freight_status"
APP = dg.AssetKey(["shop", "warehouse", "app"])


def tick(defs: dg.Definitions, instance: dg.DagsterInstance) -> list[dg.AssetObservation]:
    """One tick of the sensor, its observations stored as the daemon stores them; those on
    the Warehouse (the pipeline view's are tested in test_pipeline_view)."""
    sensor = defs.resolve_sensor_def(SENSOR)
    result = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert isinstance(result, dg.SensorResult)
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    return [
        e for e in result.asset_events if isinstance(e, dg.AssetObservation) and e.asset_key == APP
    ]


def latest(instance: dg.DagsterInstance, freight: str) -> dg.AssetObservation:
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=APP, asset_partitions=[freight]), limit=1
    ).records
    observation = records[0].asset_observation
    assert observation is not None
    return observation


def test_the_warehouse_partition_shows_where_its_freight_stands(instance):
    defs = load_definitions(SHOP)
    project = load_manifests(SHOP).projects["shop"]
    sensor = defs.resolve_sensor_def(SENSOR)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    first = tick(defs, instance)
    assert [(e.partition, e.description) for e in first] == [
        (v1, f"Freight {v1} (in no Stage yet)")
    ]

    assert promote(defs, instance, DEV, v1, tags={"kargo/actor": "alice"}).success
    approve_freight(instance, project, stage="prod", partition_key=v1, actor="carol")
    [changed] = tick(defs, instance)
    assert changed.partition == v1
    assert changed.description == f"Freight {v1} (dev: current, verified; prod: approved)"
    status = latest(instance, v1).metadata
    assert status["kargo/freight_status"].value["dev"]["promotedBy"] == "self-declared:alice"  # type: ignore[index]
    assert str(status["stage/dev"].value).startswith(
        "current, verified; promoted by self-declared:alice at "
    )
    assert str(status["stage/prod"].value).startswith(
        "approved; approved by self-declared:carol at "
    )
    summary = str(status["summary"].value)
    assert "| dev | current, verified | self-declared:alice, " in summary
    assert "| staging | - | - | - |" in summary

    # Nothing changed: nothing is recorded again.
    assert tick(defs, instance) == []

    # Newer Freight in dev changes both: v1 is no longer current there.
    v2 = record_freight(instance, "shop", app_freight("v2.0.0"))
    assert promote(defs, instance, DEV, v2, tags={"kargo/actor": "bob"}).success
    assert {e.partition for e in tick(defs, instance)} == {v1, v2}
    assert latest(instance, v1).description == f"Freight {v1} (dev: verified; prod: approved)"
    assert str(latest(instance, v2).metadata["stage/dev"].value).startswith(
        "current, verified; promoted by self-declared:bob"
    )
