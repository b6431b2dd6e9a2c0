"""Why promotion runs failed, read back from their stored events.

The command line prints these under a run it executed in-process, and ``history`` shows the
first of them under a failed run. The most telling come first: what a step reported itself (a
refused promotion, a failed step, a superseded request), then each check that did not pass,
then errors steps raised. A blocking check's own error only restates its failed evaluation,
so it is left out (runs from before the checks ended their steps themselves raised it).
"""

from collections.abc import Collection
from typing import Any

import dagster as dg

from kargo_dagster.defs.dagster_internals import storage_session

__all__ = ["failure_reasons", "failure_reasons_of", "first_line"]

# What Dagster raises in a check's step when a blocking check fails.
_BLOCKING_CHECK_ERROR = "DagsterAssetCheckFailedError"


def first_line(reasons: list[str]) -> str:
    """The first line of the most telling reason, empty when there is none."""
    return reasons[0].strip().splitlines()[0] if reasons else ""


def failure_reasons(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Why run ``run_id`` failed, most telling first; empty when nothing failed."""
    return failure_reasons_of(instance, [run_id]).get(run_id, [])


def failure_reasons_of(
    instance: dg.DagsterInstance, run_ids: Collection[str]
) -> dict[str, list[str]]:
    """Why each of ``run_ids`` failed, most telling first, by run."""
    if not run_ids:
        return {}
    with storage_session(instance) as session:
        checks = session.failed_check_descriptions(run_ids)
        sharded = session.sharded
        step_failures = {} if sharded else session.step_failures(run_ids)
    if sharded:
        # This storage keeps each run's events in a file of its own: they can only be read
        # run by run (and not while the session holds the storage's lock).
        step_failures = {run_id: _step_failures(instance, run_id) for run_id in run_ids}
    reasons: dict[str, list[str]] = {}
    for run_id in run_ids:
        reported: list[str] = []
        raised: list[str] = []
        for data in step_failures.get(run_id, []):
            if data.user_failure_data is not None:
                reported.append(data.user_failure_data.description or "")
            elif data.error is not None and data.error.cls_name != _BLOCKING_CHECK_ERROR:
                raised.append(data.error.message.strip())
        # A failed check ends its step with a reported line that already says what the
        # check's verdict said.
        verdicts = [
            line
            for line in checks.get(run_id, [])
            if not any(line.partition(": ")[2] in r for r in reported)
        ]
        found = [r for r in (*reported, *verdicts, *raised) if r]
        if found:
            reasons[run_id] = found
    return reasons


def _step_failures(instance: dg.DagsterInstance, run_id: str) -> list[Any]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    events = (record.event_log_entry.dagster_event for record in records.records)
    return [e.step_failure_data for e in events if e is not None and e.step_failure_data]
