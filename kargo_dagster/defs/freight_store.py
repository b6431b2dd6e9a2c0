"""Recording Freight in a Dagster instance, the way a Warehouse sensor does.

The partition is added *before* the Warehouse's materialization is reported: Dagster stores a
runless event before it applies partition requests from the same sensor result, so reporting
first would attach the event to a key that does not exist yet.
"""

import dagster as dg

from kargo_dagster.defs.names import (
    META_FREIGHT_ID,
    META_FREIGHT_JSON,
    freight_partitions_name,
    warehouse_key,
)
from kargo_dagster.freight import Freight


def freight_metadata(freight: Freight) -> dict[str, dg.MetadataValue]:
    """What a Warehouse partition shows: the artifacts as a table and as JSON, and the ID."""
    rows = freight.artifact_rows()
    columns = list(rows[0]) if rows else []
    return {
        META_FREIGHT_ID: dg.MetadataValue.text(freight.id),
        "artifacts": dg.MetadataValue.table(
            records=[dg.TableRecord(row) for row in rows],
            schema=dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in columns]),
        ),
        META_FREIGHT_JSON: dg.MetadataValue.json(freight.to_json()),
    }


def record_freight(instance: dg.DagsterInstance, project: str, freight: Freight) -> str:
    """Add ``freight`` to its Warehouse's partitions and record its artifacts.

    Recording the same Freight twice adds nothing new: the partition key is derived from the
    Freight ID, and the materialization is only reported when the partition is new.

    Returns:
        The partition key.
    """
    record_new_freight(instance, project, freight)
    return freight.partition_key


def record_new_freight(instance: dg.DagsterInstance, project: str, freight: Freight) -> bool:
    """Like :func:`record_freight`; returns whether the Freight was new."""
    partitions = freight_partitions_name(project, freight.origin.name)
    key = freight.partition_key
    if instance.has_dynamic_partition(partitions, key):
        return False
    instance.add_dynamic_partitions(partitions, [key])
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=warehouse_key(project, freight.origin.name),
            partition=key,
            description=f"Freight {key} ({freight.id})",
            metadata=freight_metadata(freight),
        )
    )
    return True
