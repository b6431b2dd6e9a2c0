"""A Stage's promotion history: every run that promoted, rolled back or re-verified it.

Read from the runs' Kargo tags (``kargo/project``, ``kargo/stage``, ``kargo/freight``,
``kargo/action``, ``kargo/actor``), newest first, with each run's outcome (``superseded`` for
a request that gave way to a newer one) and, for a run that failed or was superseded, the
reason its step gave (a refused promotion, a failed step, the newer request).
"""

from datetime import UTC, datetime
from typing import Any

import dagster as dg

from kargo_dagster.defs.dagster_internals import storage_session
from kargo_dagster.defs.pipeline_state import PromotionRun, RunOutcome
from kargo_dagster.defs.run_failures import failure_reasons_of, first_line

__all__ = ["collect_history", "render_history"]


def collect_history(
    instance: dg.DagsterInstance, project: str, stage: str, *, limit: int = 20
) -> list[dict[str, Any]]:
    """The Stage's latest ``limit`` promotion runs, newest first, as JSON-ready rows."""
    with storage_session(instance) as session:
        runs = [PromotionRun.from_row(row) for row in session.stage_runs(project, stage, limit)]
    # The run's own one-line reason wins; runs from before it was recorded fall back to
    # their step failures.
    reasons = failure_reasons_of(
        instance, [run.run_id for run in runs if run.outcome in _EXPLAINED and not run.reason]
    )
    return [
        {
            "time": datetime.fromtimestamp(run.created, UTC).isoformat(timespec="seconds"),
            "freight": run.freight,
            "action": run.action,
            "actor": run.actor,
            "result": run.outcome.value,
            "reason": run.reason or first_line(reasons.get(run.run_id, [])),
            "runID": run.run_id,
            "finishedAt": run.ended,
        }
        for run in runs
    ]


# Runs whose failure reason history shows (a superseded run says what superseded it).
_EXPLAINED = (RunOutcome.FAILED, RunOutcome.SUPERSEDED, RunOutcome.REFUSED)


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
