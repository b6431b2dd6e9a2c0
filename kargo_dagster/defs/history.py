"""A Stage's promotion history: every run that promoted, rolled back or re-verified it.

Read from the runs' Kargo tags (``kargo/project``, ``kargo/stage``, ``kargo/freight``,
``kargo/action``, ``kargo/actor``), newest first, with each run's outcome (``superseded`` for
a request that gave way to a newer one) and, for a run that failed or was superseded, the
reason its step gave (a refused promotion, a failed step, the newer request).
"""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from kargo_dagster.defs.names import (
    OUTCOME_SUPERSEDED,
    TAG_ACTION,
    TAG_ACTOR,
    TAG_FREIGHT,
    TAG_OUTCOME,
    TAG_PROJECT,
    TAG_STAGE,
)
from kargo_dagster.defs.run_failures import failure_reasons

__all__ = ["collect_history", "render_history"]

_OUTCOMES = {
    dg.DagsterRunStatus.SUCCESS: "succeeded",
    dg.DagsterRunStatus.FAILURE: "failed",
    dg.DagsterRunStatus.CANCELED: "canceled",
    dg.DagsterRunStatus.CANCELING: "canceling",
    dg.DagsterRunStatus.QUEUED: "queued",
    dg.DagsterRunStatus.NOT_STARTED: "queued",
    dg.DagsterRunStatus.STARTING: "running",
    dg.DagsterRunStatus.STARTED: "running",
}


def collect_history(
    instance: dg.DagsterInstance, project: str, stage: str, *, limit: int = 20
) -> list[dict[str, Any]]:
    """The Stage's latest ``limit`` promotion runs, newest first, as JSON-ready rows."""
    records = instance.get_run_records(
        dg.RunsFilter(tags={TAG_PROJECT: project, TAG_STAGE: stage}), limit=limit
    )
    rows: list[dict[str, Any]] = []
    for record in records:
        run = record.dagster_run
        rows.append(
            {
                "time": datetime.fromtimestamp(record.create_timestamp.timestamp(), UTC).isoformat(
                    timespec="seconds"
                ),
                "freight": run.tags.get(TAG_FREIGHT, ""),
                "action": run.tags.get(TAG_ACTION, ""),
                "actor": run.tags.get(TAG_ACTOR, ""),
                "result": _result(run),
                "reason": _reason(instance, run)
                if run.status == dg.DagsterRunStatus.FAILURE
                else "",
                "runID": run.run_id,
                "finishedAt": record.end_time or record.update_timestamp.timestamp(),
            }
        )
    return rows


def _reason(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str:
    reasons = failure_reasons(instance, run.run_id)
    return reasons[0].splitlines()[0] if reasons else ""


def _result(run: dg.DagsterRun) -> str:
    if run.tags.get(TAG_OUTCOME) == OUTCOME_SUPERSEDED and run.is_finished:
        return OUTCOME_SUPERSEDED
    return _OUTCOMES.get(run.status, run.status.value.lower())


def render_history(stage: str, rows: list[dict[str, Any]]) -> str:
    """The rows as aligned text, with the failure reasons under their runs."""
    if not rows:
        return f"Stage {stage} has no promotions yet"
    columns = ("time", "freight", "action", "actor", "result", "runID")
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    lines = ["  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip()]
    for row in rows:
        lines.append("  ".join(str(row[c]).ljust(widths[c]) for c in columns).rstrip())
        if row["reason"]:
            lines.append(f"    {row['reason']}")
    return "\n".join(lines)
