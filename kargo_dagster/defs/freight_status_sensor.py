"""Where each Freight stands, on its partition of the Warehouse asset (Kargo's Freight status).

Kargo keeps ``currentlyIn``, ``verifiedIn`` and ``approvedFor`` on the Freight object, and its
UI shows them with the Freight. Here the Project's ``<project>__freight_status`` sensor
records the same as an observation on the Freight's Warehouse partition whenever it changes:
a cell per Stage (``current``, ``verified``, ``failed``, ``approved``, ``soaking``,
``promotion failed``, who promoted and approved it and when, as ``kargo-dagster status``
prints), a line per Stage and a markdown table. The partition's page in the UI then tells
the Freight's story next to its artifacts, and the event log keeps every change. The same
tick records the Project's pipeline view (:mod:`kargo_dagster.defs.pipeline_view`) when it
changed: it is read from the same state.
"""

import json
from typing import Any

import dagster as dg

from kargo_dagster.defs.dagster_internals import StorageSession
from kargo_dagster.defs.freight_matrix import FREIGHT_LIMIT, freight_cells
from kargo_dagster.defs.names import dagster_identifier, freight_partitions_name, warehouse_key
from kargo_dagster.defs.pipeline_state import PipelineState, read_pipeline_state, stage_requests
from kargo_dagster.defs.pipeline_view import pipeline_events, pipeline_key
from kargo_dagster.defs.tick_cursor import fingerprint, watched_tick
from kargo_dagster.spec import ProjectManifests

__all__ = ["META_FREIGHT_STATUS", "build_freight_status_sensor", "freight_status_events"]

META_FREIGHT_STATUS = "kargo/freight_status"


def freight_status_events(
    session: StorageSession, state: PipelineState
) -> list[dg.AssetObservation]:
    """An observation for each of the newest Freight whose status changed since last recorded."""
    project = state.project
    assets = {warehouse_key(project.name, origin): origin for origin in project.warehouses}
    newest = {
        origin: list(state.freight.get(origin, ()))[:FREIGHT_LIMIT] for origin in assets.values()
    }
    recorded = session.latest_observations_containing(
        assets, {key for keys in newest.values() for key in keys}, META_FREIGHT_STATUS
    )
    events: list[dg.AssetObservation] = []
    for asset, origin in assets.items():
        for key, cells in freight_cells(state, origin, newest[origin]).items():
            status = json.dumps(cells, sort_keys=True)
            before = recorded.get((asset, key))
            value = before.metadata.get(META_FREIGHT_STATUS) if before is not None else None
            if value is None or status != json.dumps(getattr(value, "value", None), sort_keys=True):
                events.append(_observation(asset, key, cells, status))
    return events


def next_change(state: PipelineState) -> float | None:
    """When time alone changes a status shown (a soak that completes), if ever."""
    times: list[float] = []
    for name, request, asset in stage_requests(state.project):
        if not request.sources.required_soak_time:
            continue
        for key in state.freight.get(request.origin.name, ())[:FREIGHT_LIMIT]:
            if state.promotion(asset, key) is None:
                remaining = state.availability(name, request, key).soak_remaining
                if remaining is not None:
                    times.append(state.now + remaining.total_seconds())
    return min(times, default=None)


def build_freight_status_sensor(
    project: ProjectManifests, *, minimum_interval_seconds: int = 30
) -> dg.SensorDefinition:
    """The Project's ``<project>__freight_status`` sensor, running by default."""
    partitions = [freight_partitions_name(project.name, name) for name in project.warehouses]
    # Their observations (Freight status and metadata), and the pipeline view this sensor
    # records itself, change nothing the tick decides.
    recorded_on = [warehouse_key(project.name, name) for name in project.warehouses]
    view = [pipeline_key(project.name)]
    judged_by = fingerprint(
        [stage.model_dump(mode="json") for stage in project.stages.values()],
        sorted(project.warehouses),
    )

    @dg.sensor(
        name=f"{dagster_identifier(project.name)}__freight_status",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Records where each Freight stands (current, verified, approved, ...) on its "
            f"Warehouse partition, and the pipeline view on {project.name}/pipeline, whenever "
            "they change."
        ),
    )
    def freight_status(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        with watched_tick(context, partitions, judged_by, recorded_on, view) as tick:
            if tick.quiet is not None:
                return dg.SensorResult(
                    skip_reason="nothing changed since the last tick", cursor=tick.quiet.dump()
                )
            # The records of what Stages hold give the pipeline view its versions.
            state = read_pipeline_state(
                tick.session, project, newest=FREIGHT_LIMIT, records="current", now=tick.now
            )
            events: list[dg.AssetObservation | dg.AssetMaterialization] = [
                *freight_status_events(tick.session, state),
                *pipeline_events(tick.session, state),
            ]
        cursor = tick.cursor(wake_at=next_change(state))
        if not events:
            return dg.SensorResult(
                skip_reason="no Freight changed where it stands, nor any Stage",
                cursor=cursor.dump(),
            )
        return dg.SensorResult(asset_events=events, cursor=cursor.dump())

    return freight_status


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
