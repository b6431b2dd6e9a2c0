"""Where each Freight stands, on its partition of the Warehouse asset (Kargo's Freight status).

Kargo keeps ``currentlyIn``, ``verifiedIn`` and ``approvedFor`` on the Freight object, and its
UI shows them with the Freight. Here the Project's ``<project>__freight_status`` sensor
records the same as an observation on the Freight's Warehouse partition whenever it changes:
a cell per Stage (``current``, ``verified``, ``failed``, ``approved``, ``soaking``,
``promotion failed``, who promoted and approved it and when, as ``kargo-dagster status``
prints), a line per Stage and a markdown table. The partition's page in the UI then tells
the Freight's story next to its artifacts, and the event log keeps every change.
"""

import json
from typing import Any

import dagster as dg

from kargo_dagster.defs.freight_matrix import FREIGHT_LIMIT, freight_cells
from kargo_dagster.defs.names import dagster_identifier, freight_partitions_name, warehouse_key
from kargo_dagster.spec import ProjectManifests

__all__ = ["META_FREIGHT_STATUS", "build_freight_status_sensor", "freight_status_events"]

META_FREIGHT_STATUS = "kargo/freight_status"
# Observations on one Warehouse partition to look through for its latest status: Freight
# metadata updates (set-metadata, aliases) share the partition's history.
_LOOKBACK = 100


def freight_status_events(
    instance: dg.DagsterInstance, project: ProjectManifests
) -> list[dg.AssetObservation]:
    """An observation for each of the newest Freight whose status changed since last recorded."""
    events: list[dg.AssetObservation] = []
    for origin in project.warehouses:
        keys = instance.get_dynamic_partitions(freight_partitions_name(project.name, origin))
        newest = list(reversed(keys))[:FREIGHT_LIMIT]
        asset = warehouse_key(project.name, origin)
        for key, cells in freight_cells(instance, project, origin, newest).items():
            status = json.dumps(cells, sort_keys=True)
            if status != _recorded(instance, asset, key):
                events.append(_observation(asset, key, cells, status))
    return events


def build_freight_status_sensor(
    project: ProjectManifests, *, minimum_interval_seconds: int = 30
) -> dg.SensorDefinition:
    """The Project's ``<project>__freight_status`` sensor, running by default."""

    @dg.sensor(
        name=f"{dagster_identifier(project.name)}__freight_status",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Records where each Freight stands (current, verified, approved, ...) on its "
            "Warehouse partition whenever it changes."
        ),
    )
    def freight_status(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        events = freight_status_events(context.instance, project)
        if not events:
            return dg.SensorResult(skip_reason="no Freight changed where it stands")
        return dg.SensorResult(asset_events=events)

    return freight_status


def _recorded(instance: dg.DagsterInstance, asset: dg.AssetKey, key: str) -> str | None:
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[key]), limit=_LOOKBACK
    ).records
    for record in records:
        observation = record.asset_observation
        value = observation.metadata.get(META_FREIGHT_STATUS) if observation else None
        if value is not None:
            return json.dumps(value.value, sort_keys=True)
    return None


def _observation(
    asset: dg.AssetKey, key: str, cells: dict[str, dict[str, Any]], status: str
) -> dg.AssetObservation:
    lines = {f"stage/{stage}": dg.MetadataValue.text(_line(cell)) for stage, cell in cells.items()}
    where = [f"{stage}: {', '.join(c['states'])}" for stage, c in cells.items() if c["states"]]
    return dg.AssetObservation(
        asset_key=asset,
        partition=key,
        description=f"Freight {key} ({'; '.join(where) or 'in no Stage yet'})",
        metadata={
            META_FREIGHT_STATUS: dg.MetadataValue.json(json.loads(status)),
            **lines,
            "summary": dg.MetadataValue.md(_table(key, cells)),
        },
    )


def _line(cell: dict[str, Any]) -> str:
    parts = [", ".join(cell["states"]) or "-"]
    if cell.get("promotedAt"):
        parts.append(f"promoted by {cell.get('promotedBy') or 'unknown'} at {cell['promotedAt']}")
    if cell.get("approvedAt"):
        parts.append(f"approved by {cell.get('approvedBy') or 'unknown'} at {cell['approvedAt']}")
    return "; ".join(parts)


def _table(key: str, cells: dict[str, dict[str, Any]]) -> str:
    rows = [
        f"| {stage} | {', '.join(c['states']) or '-'} | "
        f"{_who(c, 'promotedBy', 'promotedAt')} | {_who(c, 'approvedBy', 'approvedAt')} |"
        for stage, c in cells.items()
    ]
    return "\n".join(
        [
            f"### Freight {key}",
            "",
            "| Stage | State | Promoted | Approved |",
            "| --- | --- | --- | --- |",
            *rows,
        ]
    )


def _who(cell: dict[str, Any], actor: str, at: str) -> str:
    return f"{cell.get(actor) or 'unknown'}, {cell[at]}" if cell.get(at) else "-"
