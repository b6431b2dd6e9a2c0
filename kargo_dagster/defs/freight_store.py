"""Recording Freight in a Dagster instance, the way a Warehouse sensor does.

The partition is added *before* the Warehouse's materialization is reported: Dagster stores a
runless event before it applies partition requests from the same sensor result, so reporting
first would attach the event to a key that does not exist yet.

Freight recorded before partition keys showed versions is keyed by its alias
(``<adjective>-<animal>-<hex>``); it stays recorded under that key, and is never recorded a
second time under its new one.
"""

from collections.abc import Sequence

import dagster as dg

from kargo_dagster.defs.link_metadata import freight_link_metadata
from kargo_dagster.defs.names import (
    META_FREIGHT_ID,
    META_FREIGHT_JSON,
    freight_partitions_name,
    warehouse_key,
)
from kargo_dagster.freight import Freight
from kargo_dagster.spec.project import Link


def freight_metadata(freight: Freight) -> dict[str, dg.MetadataValue]:
    """What a Warehouse partition shows: the artifacts as a table and as JSON, the ID and
    the Kargo-style alias."""
    rows = freight.artifact_rows()
    columns = list(rows[0]) if rows else []
    return {
        META_FREIGHT_ID: dg.MetadataValue.text(freight.id),
        # Next to the ID, as Kargo shows both; the alias names legacy partitions too.
        "kargo/freight_alias": dg.MetadataValue.text(freight.alias),
        "artifacts": dg.MetadataValue.table(
            records=[dg.TableRecord(row) for row in rows],
            schema=dg.TableSchema(columns=[dg.TableColumn(c, "string") for c in columns]),
        ),
        META_FREIGHT_JSON: dg.MetadataValue.json(freight.to_json()),
    }


def record_freight(
    instance: dg.DagsterInstance, project: str, freight: Freight, *, links: Sequence[Link] = ()
) -> str:
    """Add ``freight`` to its Warehouse's partitions and record its artifacts (and, resolved
    against it, the Project's ``freightLinks``).

    Recording the same Freight twice adds nothing new: the partition key is derived from the
    Freight's artifacts, and the materialization is only reported when the Freight is new.

    Returns:
        The partition key: ``freight.partition_key``, or the legacy key (its alias) when the
        Freight was recorded under that.
    """
    recorded = recorded_partition_key(instance, project, freight)
    return recorded or _record(instance, project, freight, links)


def record_new_freight(
    instance: dg.DagsterInstance, project: str, freight: Freight, *, links: Sequence[Link] = ()
) -> bool:
    """Like :func:`record_freight`; returns whether the Freight was new, that is recorded
    under neither its partition key nor its legacy key."""
    if recorded_partition_key(instance, project, freight) is not None:
        return False
    _record(instance, project, freight, links)
    return True


def recorded_partition_key(
    instance: dg.DagsterInstance, project: str, freight: Freight
) -> str | None:
    """The key ``freight`` is recorded under in its Warehouse, or None if it is not recorded.

    The partition is added before the Freight's materialization is reported, so a partition
    alone means recorded. Its key is ``freight.partition_key``, or its alias for Freight
    recorded before keys showed versions.
    """
    partitions = freight_partitions_name(project, freight.origin.name)
    for key in freight.partition_keys:
        if instance.has_dynamic_partition(partitions, key):
            return key
    return None


def _record(
    instance: dg.DagsterInstance, project: str, freight: Freight, links: Sequence[Link]
) -> str:
    key = freight.partition_key
    instance.add_dynamic_partitions(freight_partitions_name(project, freight.origin.name), [key])
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=warehouse_key(project, freight.origin.name),
            partition=key,
            description=f"Freight {key} (alias {freight.alias}, ID {freight.id})",
            metadata={
                **freight_metadata(freight),
                **freight_link_metadata(links, project, freight),
            },
        )
    )
    return key
