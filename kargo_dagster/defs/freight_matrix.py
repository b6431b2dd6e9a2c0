"""The Freight x Stage matrix of ``kargo-dagster status``: where each Freight stands.

For the newest Freight of each Warehouse (``FREIGHT_LIMIT``) and each Stage requesting it,
one cell lists what holds: ``current`` (the Stage holds it now), ``verified`` or ``failed``
(its latest verification there, with when the verdict was given), ``approved`` (a person
approved it for the Stage), ``soaking`` (verified upstream, still short of
``requiredSoakTime``), ``promotion failed`` (its latest promotion there failed), with when
it was promoted and by whom, and who approved. Every cell is answered from one
:class:`PipelineState`.
"""

from datetime import UTC, datetime
from typing import Any

from kargo_dagster.defs.names import VERIFIED_CHECK
from kargo_dagster.defs.pipeline_state import PipelineState, stage_requests

__all__ = ["FREIGHT_LIMIT", "freight_cells", "freight_matrix", "iso_time", "render_matrix"]

FREIGHT_LIMIT = 10


def freight_matrix(state: PipelineState) -> list[dict[str, Any]]:
    """One row per Freight (newest first per Warehouse), with a cell per requesting Stage."""
    rows: list[dict[str, Any]] = []
    for origin in state.project.warehouses:
        newest = list(state.freight.get(origin, ()))[:FREIGHT_LIMIT]
        cells = freight_cells(state, origin, newest)
        rows.extend({"warehouse": origin, "freight": key, "stages": cells[key]} for key in newest)
    return rows


def freight_cells(
    state: PipelineState, origin: str, keys: list[str]
) -> dict[str, dict[str, dict[str, Any]]]:
    """Where each of ``keys`` (Freight of Warehouse ``origin``) stands in each Stage that
    requests it: ``{freight: {stage: cell}}``."""
    cells: dict[str, dict[str, dict[str, Any]]] = {key: {} for key in keys}
    for name, request, asset in stage_requests(state.project):
        if request.origin.name != origin:
            continue
        current = state.current_freight(asset)
        for key in keys:
            states: list[str] = []
            cell: dict[str, Any] = {"states": states}
            if current is not None and current.freight == key:
                states.append("current")
            verification = state.check(asset, VERIFIED_CHECK, key)
            if verification.state in ("passed", "failed"):
                states.append("verified" if verification.passed else "failed")
                if verification.evaluated_at is not None:
                    cell["verifiedAt"] = iso_time(verification.evaluated_at)
            promoted = state.promotion(asset, key)
            if promoted is not None:
                run = state.run(promoted.run_id)
                cell["promotedAt"] = iso_time(promoted.time)
                cell["promotedBy"] = run.actor if run is not None else ""
            approved = state.approval(asset, key)
            if approved is not None:
                states.append("approved")
                cell["approvedBy"], cell["approvedAt"] = approved.actor, iso_time(approved.time)
            if state.last_promotion_failed(name, asset, key):
                states.append("promotion failed")
            if promoted is None and request.sources.required_soak_time:
                availability = state.availability(name, request, key)
                if not availability.available and availability.soaking:
                    states.append("soaking")
            cells[key][name] = cell
    return cells


def iso_time(timestamp: float | None) -> str | None:
    """An epoch time as the views show it (UTC, to the second); None stays None."""
    if timestamp is None:
        return None
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
