"""Recording Freight in a real instance: each Freight once, under the key a user sees.

Freight recorded before partition keys showed versions is keyed by its alias
(``<adjective>-<animal>-<hex>``). After an upgrade it must be neither recorded again under
its new key nor lost: it is promoted, approved and reported under the key it has.
"""

import dagster as dg

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.approvals import approve_freight
from kargo_dagster.defs.freight_store import (
    freight_metadata,
    record_new_freight,
    recorded_partition_key,
)
from kargo_dagster.defs.names import freight_partitions_name, warehouse_key
from kargo_dagster.defs.status_report import collect_status
from kargo_dagster.freight import Chart, Freight, FreightOrigin, GitCommit, Image
from kargo_dagster.spec import load_manifests
from tests.defs.promotions import promote
from tests.defs.test_pipeline import DEV, SHOP, STAGING, app_freight

PARTITIONS = "shop/app"
WAREHOUSE = dg.AssetKey(["shop", "warehouse", "app"])


def record_as_before_upgrade(instance: dg.DagsterInstance, project: str, freight: Freight) -> str:
    """Record ``freight`` as versions before version-first keys did: keyed by its alias."""
    key = freight.alias
    instance.add_dynamic_partitions(freight_partitions_name(project, freight.origin.name), [key])
    metadata = freight_metadata(freight)
    del metadata["kargo/freight_alias"]  # not written then
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=warehouse_key(project, freight.origin.name),
            partition=key,
            description=f"Freight {key} ({freight.id})",
            metadata=metadata,
        )
    )
    return key


def materializations(instance: dg.DagsterInstance) -> list[dg.AssetMaterialization]:
    records = instance.fetch_materializations(WAREHOUSE, limit=10).records
    return [r.asset_materialization for r in records if r.asset_materialization is not None]


def test_new_freight_is_recorded_once_under_its_versions(instance):
    freight = app_freight("v0.3.0")
    assert record_new_freight(instance, "shop", freight)
    assert not record_new_freight(instance, "shop", freight)
    key = f"v0.3.0-{freight.id[:7]}"
    assert record_freight(instance, "shop", freight) == key
    assert instance.get_dynamic_partitions(PARTITIONS) == [key]
    [recorded] = materializations(instance)
    assert recorded.partition == key
    assert recorded.description == f"Freight {key} (alias {freight.alias}, ID {freight.id})"
    assert recorded.metadata["kargo/freight_alias"].value == freight.alias
    assert recorded.metadata["kargo/freight_id"].value == freight.id


def test_freight_recorded_under_its_legacy_key_is_not_recorded_again(instance):
    old = app_freight("v1.0.0")
    legacy = record_as_before_upgrade(instance, "shop", old)
    assert recorded_partition_key(instance, "shop", old) == legacy
    assert not record_new_freight(instance, "shop", old)
    assert record_freight(instance, "shop", old) == legacy
    assert instance.get_dynamic_partitions(PARTITIONS) == [legacy]
    assert len(materializations(instance)) == 1

    # New Freight after the upgrade gets a version-first key, next to the legacy one.
    new = record_freight(instance, "shop", app_freight("v2.0.0"))
    assert new == f"v2.0.0-{app_freight('v2.0.0').id[:7]}"
    assert instance.get_dynamic_partitions(PARTITIONS) == [legacy, new]
    assert recorded_partition_key(instance, "shop", app_freight("v3.0.0")) is None


def test_legacy_keyed_freight_is_promoted_approved_and_reported_under_its_key(instance):
    defs = load_definitions(SHOP)
    project = load_manifests(SHOP).projects["shop"]
    legacy = record_as_before_upgrade(instance, "shop", app_freight("v1.0.0"))
    new = record_freight(instance, "shop", app_freight("v2.0.0"))

    result = promote(defs, instance, DEV, legacy)
    assert result.success
    [event] = result.get_asset_materialization_events()
    summary = str(event.materialization.metadata["summary"].value)
    assert summary.startswith(f"### Promoted {legacy} into dev\n")
    assert promote(defs, instance, STAGING, legacy).success

    approve_freight(instance, project, stage="staging", partition_key=new, actor="alice")
    assert promote(defs, instance, STAGING, new).success
    # Back to the legacy-keyed Freight: a rollback, found by the key it was recorded under.
    assert promote(defs, instance, STAGING, legacy, tags={"kargo/action": "rollback"}).success

    stages = {
        s["stage"]: s
        for s in collect_status(instance, load_manifests(SHOP))["projects"][0]["stages"]
    }
    assert stages["dev"]["freight"] == legacy
    assert stages["staging"]["freight"] == legacy
    assert stages["staging"]["freightID"] == app_freight("v1.0.0").id
    assert instance.get_dynamic_partitions(PARTITIONS) == [legacy, new]


def test_awkward_versions_make_keys_the_instance_accepts(instance):
    commit = GitCommit(repo_url="https://github.com/a/b", id="0" * 40, tag="release/2026-01")
    freight = Freight(
        origin=FreightOrigin(name="app"),
        images=(
            Image(repo_url="r/a", tag="1.0_rc.1"),
            Image(repo_url="r/b", digest="sha256:" + "ab" * 32),
        ),
        charts=(Chart(repo_url="oci://r/c", version="0.1.0+build...7"),),
        commits=(commit,),
    )
    key = record_freight(instance, "shop", freight)
    assert key == f"1.0-rc.1_sha256-abababa_0.1.0+build.7_+1-{freight.id[:7]}"
    assert instance.get_dynamic_partitions(PARTITIONS) == [key]
    [recorded] = materializations(instance)
    assert recorded.partition == key
