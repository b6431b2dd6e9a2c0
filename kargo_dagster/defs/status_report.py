"""Which Freight each Stage holds, since when, and whether it was verified there.

The whole report comes from one :class:`~kargo_dagster.defs.pipeline_state.PipelineState`
per Project, read over one connection per storage database, the current aliases and
metadata of the Freight it shows (:mod:`kargo_dagster.defs.freight_aliases`) and the
Stages' metadata (:mod:`kargo_dagster.defs.metadata_store`), as ``kargo get`` shows them:
a few queries per Project, whatever its size.
"""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from kargo_dagster.defs.dagster_internals import storage_session
from kargo_dagster.defs.freight_aliases import current_aliases
from kargo_dagster.defs.freight_matrix import FREIGHT_LIMIT, freight_matrix, render_matrix
from kargo_dagster.defs.metadata_store import read_freight_metadata, read_stage_metadata
from kargo_dagster.defs.names import HEALTH_CHECK, VERIFIED_CHECK
from kargo_dagster.defs.pipeline_state import PipelineState, read_pipeline_state, stage_requests
from kargo_dagster.spec import Catalog


def collect_status(instance: dg.DagsterInstance, catalog: Catalog) -> dict[str, Any]:
    """A JSON-ready report: per Project, per Stage and origin, the current Freight, and the
    Freight x Stage matrix of the newest Freight."""
    projects: list[dict[str, Any]] = []
    with storage_session(instance) as session:
        for project in catalog.projects.values():
            state = read_pipeline_state(session, project, newest=FREIGHT_LIMIT, records="current")
            shown = _shown_freight(state)
            aliases = current_aliases(session, project.name, shown)
            metadata = read_freight_metadata(session, project.name, shown)
            stage_metadata = read_stage_metadata(session, project)
            projects.append(
                {
                    "project": project.name,
                    "stages": [
                        {**entry, "metadata": stage_metadata.get(entry["stage"], {})}
                        for entry in _stages(state, aliases)
                    ],
                    "freight": [
                        {
                            **row,
                            "alias": aliases.get(row["freight"]),
                            "metadata": metadata.get(row["freight"], {}),
                        }
                        for row in freight_matrix(state)
                    ],
                    "problems": list(state.problems),
                }
            )
    return {"projects": projects}


def _shown_freight(state: PipelineState) -> dict[str, set[str]]:
    # The Freight shown: each Warehouse's newest, and what each Stage holds.
    keys = {
        origin: set(state.freight.get(origin, ())[:FREIGHT_LIMIT])
        for origin in state.project.warehouses
    }
    for _, request, asset in stage_requests(state.project):
        current = state.current_freight(asset)
        if current is not None:
            keys.setdefault(request.origin.name, set()).add(current.freight)
    return keys


def _stages(state: PipelineState, aliases: dict[str, str]) -> list[dict[str, Any]]:
    stages: list[dict[str, Any]] = []
    for name, request, asset in stage_requests(state.project):
        entry: dict[str, Any] = {
            "stage": name,
            "origin": request.origin.name,
            "freight": None,
            "alias": None,
            "freightID": None,
            "since": None,
            "verification": None,
            "health": None,
        }
        current = state.current_freight(asset)
        if current is not None:
            freight = state.recorded.get(current.freight)
            entry.update(
                freight=current.freight,
                alias=aliases.get(current.freight),
                freightID=freight.id if freight else None,
                since=datetime.fromtimestamp(current.time, UTC).isoformat(),
                verification=state.check(asset, VERIFIED_CHECK, current.freight).state,
                health=state.check(asset, HEALTH_CHECK, current.freight).state,
                runID=current.run_id,
            )
        stages.append(entry)
    return stages


def render_status_table(report: dict[str, Any]) -> str:
    """The report as aligned text, one block per Project."""
    lines: list[str] = []
    header: tuple[str, ...] = (
        "STAGE",
        "ORIGIN",
        "FREIGHT",
        "ALIAS",
        "SINCE",
        "VERIFIED",
        "HEALTH",
    )
    for project in report["projects"]:
        rows: list[tuple[str, ...]] = [header]
        for s in project["stages"]:
            since = s["since"][:19].replace("T", " ") + " UTC" if s["since"] else "-"
            rows.append(
                (
                    s["stage"],
                    s["origin"],
                    s["freight"] or "-",
                    s.get("alias") or "-",
                    since,
                    s["verification"] or "-",
                    s["health"] or "-",
                )
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines.append(f"Project {project['project']}")
        lines.extend(
            "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows
        )
        stages = list(dict.fromkeys(s["stage"] for s in project["stages"]))
        # The matrix names each Freight by its key and, beside it, its current alias.
        shown = [
            {**row, "freight": f"{row['freight']} ({row['alias']})"} if row.get("alias") else row
            for row in project.get("freight") or []
        ]
        matrix = render_matrix(stages, shown)
        if matrix:
            lines += ["", "  Freight by Stage (newest first):", *matrix]
        for problem in project.get("problems") or []:
            lines.append(f"  ! {problem}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n" if lines else "No Projects found.\n"
