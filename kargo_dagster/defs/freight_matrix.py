"""The Freight x Stage matrix of ``kargo-dagster status``: where each Freight stands.

For the newest Freight of each Warehouse (``FREIGHT_LIMIT``) and each Stage requesting it,
one cell lists what holds: ``current`` (the Stage holds it now), ``verified`` or ``failed``
(its latest verification there, with when it ended), ``approved`` (a person approved it for
the Stage), ``soaking`` (verified upstream, still short of ``requiredSoakTime``),
``promotion failed`` (its latest promotion there failed), with when it was promoted and by
whom, and who approved.
"""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from kargo_dagster.defs.availability_facts import (
    VERIFIED_CHECK,
    evaluate_availability,
    stage_asset_key,
)
from kargo_dagster.defs.dagster_internals import PartitionCheckState, partition_check_states
from kargo_dagster.defs.instance_queries import approval, current_freight, last_promotion_failed
from kargo_dagster.defs.names import META_ACTOR, freight_partitions_name
from kargo_dagster.spec import ProjectManifests

__all__ = ["FREIGHT_LIMIT", "freight_cells", "freight_matrix", "render_matrix"]

FREIGHT_LIMIT = 10


def freight_matrix(instance: dg.DagsterInstance, project: ProjectManifests) -> list[dict[str, Any]]:
    """One row per Freight (newest first per Warehouse), with a cell per requesting Stage."""
    rows: list[dict[str, Any]] = []
    for origin in project.warehouses:
        keys = instance.get_dynamic_partitions(freight_partitions_name(project.name, origin))
        newest = list(reversed(keys))[:FREIGHT_LIMIT]
        cells = freight_cells(instance, project, origin, newest)
        rows.extend({"warehouse": origin, "freight": key, "stages": cells[key]} for key in newest)
    return rows


def freight_cells(
    instance: dg.DagsterInstance, project: ProjectManifests, origin: str, keys: list[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Where each of ``keys`` (Freight of Warehouse ``origin``) stands in each Stage that
    requests it: ``{freight: {stage: cell}}``."""
    stages = [
        (name, request)
        for name in project.stage_order()
        for request in project.stages[name].spec.requested_freight
        if request.origin.name == origin
    ]
    cells: dict[str, dict[str, dict[str, Any]]] = {key: {} for key in keys}
    for name, request in stages:
        asset = stage_asset_key(project, name, origin)
        current = current_freight(instance, asset)
        verified = partition_check_states(instance, dg.AssetCheckKey(asset, VERIFIED_CHECK), keys)
        for key in keys:
            cells[key][name] = _cell(
                instance, project, name, request, asset, key, current, verified[key]
            )
    return cells


def _cell(
    instance: dg.DagsterInstance,
    project: ProjectManifests,
    stage: str,
    request: Any,
    asset: dg.AssetKey,
    key: str,
    current: Any,
    verification: PartitionCheckState,
) -> dict[str, Any]:
    states: list[str] = []
    cell: dict[str, Any] = {"states": states}
    if current is not None and current.partition_key == key:
        states.append("current")
    if verification.state in ("passed", "failed"):
        states.append("verified" if verification.passed else "failed")
        checked = instance.get_run_record_by_id(verification.run_id or "")
        if checked is not None and checked.end_time is not None:
            cell["verifiedAt"] = _iso(checked.end_time)
    promoted = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[key]), limit=1
    ).records
    if promoted:
        record = promoted[0]
        cell["promotedAt"] = _iso(record.timestamp)
        actor = (record.asset_materialization.metadata if record.asset_materialization else {}).get(
            META_ACTOR
        )
        cell["promotedBy"] = str(getattr(actor, "value", "") or "")
    approved = approval(instance, asset, key)
    if approved is not None:
        states.append("approved")
        cell["approvedBy"], cell["approvedAt"] = approved[0], _iso(approved[1])
    if last_promotion_failed(instance, project.name, stage, key):
        states.append("promotion failed")
    if not promoted and request.sources.required_soak_time:
        availability = evaluate_availability(instance, project, stage, request, key)
        if not availability.available and "short of the required" in availability.reason:
            states.append("soaking")
    return cell


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def render_matrix(stages: list[str], rows: list[dict[str, Any]]) -> list[str]:
    """The matrix as aligned text lines: Freight down, ``stages`` across."""
    if not rows:
        return []
    header = ("FREIGHT", *(s.upper() for s in stages))
    table = [header]
    for row in rows:
        cells = []
        for stage in stages:
            cell = row["stages"].get(stage)
            if cell is None:
                cells.append("")
                continue
            text = ",".join(cell["states"]) or "-"
            if cell.get("promotedBy") and "current" in cell["states"]:
                text += f" ({cell['promotedBy']})"
            cells.append(text)
        table.append((row["freight"], *cells))
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in table
    ]
