"""Which Freight each Stage holds, since when, and whether it was verified there."""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from kargo_dagster.defs.availability_facts import HEALTH_CHECK, VERIFIED_CHECK, stage_asset_key
from kargo_dagster.defs.dagster_internals import partition_check_states
from kargo_dagster.defs.freight_matrix import freight_matrix, render_matrix
from kargo_dagster.defs.instance_queries import current_freight, recorded_freight
from kargo_dagster.defs.names import warehouse_key
from kargo_dagster.spec import Catalog


def collect_status(instance: dg.DagsterInstance, catalog: Catalog) -> dict[str, Any]:
    """A JSON-ready report: per Project, per Stage and origin, the current Freight."""
    projects: list[dict[str, Any]] = []
    for project in catalog.projects.values():
        stages: list[dict[str, Any]] = []
        for name in project.stage_order():
            for request in project.stages[name].spec.requested_freight:
                origin = request.origin.name
                key = stage_asset_key(project, name, origin)
                current = current_freight(instance, key)
                entry: dict[str, Any] = {
                    "stage": name,
                    "origin": origin,
                    "freight": None,
                    "freightID": None,
                    "since": None,
                    "verification": None,
                    "health": None,
                }
                if current is not None:
                    partition = current.partition_key
                    freight = recorded_freight(
                        instance, warehouse_key(project.name, origin), partition
                    )
                    states = {
                        check: partition_check_states(
                            instance, dg.AssetCheckKey(key, check), [partition]
                        )[partition].state
                        for check in (VERIFIED_CHECK, HEALTH_CHECK)
                    }
                    entry.update(
                        freight=partition,
                        freightID=freight.id if freight else None,
                        since=datetime.fromtimestamp(current.since, UTC).isoformat(),
                        verification=states[VERIFIED_CHECK],
                        health=states[HEALTH_CHECK],
                        runID=current.run_id,
                    )
                stages.append(entry)
        projects.append(
            {
                "project": project.name,
                "stages": stages,
                "freight": freight_matrix(instance, project),
            }
        )
    return {"projects": projects}


def render_status_table(report: dict[str, Any]) -> str:
    """The report as aligned text, one block per Project."""
    lines: list[str] = []
    header: tuple[str, ...] = ("STAGE", "ORIGIN", "FREIGHT", "SINCE", "VERIFIED", "HEALTH")
    for project in report["projects"]:
        rows: list[tuple[str, ...]] = [header]
        for s in project["stages"]:
            since = s["since"][:19].replace("T", " ") + " UTC" if s["since"] else "-"
            rows.append(
                (
                    s["stage"],
                    s["origin"],
                    s["freight"] or "-",
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
        matrix = render_matrix(stages, project.get("freight") or [])
        if matrix:
            lines += ["", "  Freight by Stage (newest first):", *matrix]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n" if lines else "No Projects found.\n"
