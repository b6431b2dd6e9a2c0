"""Why promotion runs failed, read back from their stored events.

The command line prints these under a run it executed in-process, and ``history`` shows the
first of them under a failed run. The most telling come first: what a step reported itself (a
refused promotion, a failed step, a superseded request), then each check that did not pass,
then errors steps raised. A failed check is told once: a blocking check ends its step with
:func:`check_failure`, whose metadata names the check, and then its stored verdict is not
repeated; Dagster's own error for a blocking check only restates the verdict, so it is left
out (runs from before the checks ended their steps themselves raised it).
"""

from collections.abc import Collection
from typing import Any

import dagster as dg

from kargo_dagster.defs.dagster_internals import storage_session

__all__ = ["FAILED_CHECK", "check_failure", "failure_reasons", "failure_reasons_of", "first_line"]

# What Dagster raises in a check's step when a blocking check fails.
_BLOCKING_CHECK_ERROR = "DagsterAssetCheckFailedError"

FAILED_CHECK = "kargo/failed_check"
"""The metadata key of a step failure that reports a failed check: the check's key, as
:meth:`dagster.AssetCheckKey.to_user_string` writes it."""


def check_failure(reason: str, check: dg.AssetCheckKey) -> dg.Failure:
    """The failure that ends the step of ``check`` after it failed, saying ``reason``.

    It names the check, so the reasons of its run tell the check's failure once, in these
    words, and not again as the verdict the check stored.
    """
    marker = dg.MetadataValue.text(check.to_user_string())
    return dg.Failure(description=reason, metadata={FAILED_CHECK: marker}, allow_retries=False)


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
        checks = session.failed_checks(run_ids)
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
        told: set[str] = set()
        for data in step_failures.get(run_id, []):
            failure = data.user_failure_data
            if failure is not None:
                reported.append(failure.description or "")
                marker = failure.metadata.get(FAILED_CHECK)
                if marker is not None:
                    told.add(str(marker.value))
            elif data.error is not None and data.error.cls_name != _BLOCKING_CHECK_ERROR:
                raised.append(data.error.message.strip())
        verdicts = [
            f"{row.check} failed: {row.description}"
            for row in checks.get(run_id, [])
            if dg.AssetCheckKey(row.asset, row.check).to_user_string() not in told
        ]
        # The same words twice (a step failing again the same way) are one reason.
        found = list(dict.fromkeys(r for r in (*reported, *verdicts, *raised) if r))
        if found:
            reasons[run_id] = found
    return reasons


def _step_failures(instance: dg.DagsterInstance, run_id: str) -> list[Any]:
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    events = (record.event_log_entry.dagster_event for record in records.records)
    return [e.step_failure_data for e in events if e is not None and e.step_failure_data]
