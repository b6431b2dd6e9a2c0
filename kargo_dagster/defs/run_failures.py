"""Why a promotion run failed, read back from its stored events.

The command line prints these under a run it executed in-process, and ``history`` shows the
first of them under a failed run. The most telling come first: what a step reported itself (a
refused promotion, a failed step, a superseded request), then each check that did not pass,
then errors steps raised. A blocking check's own error only restates its failed evaluation,
so it is left out.
"""

import dagster as dg

__all__ = ["failure_reasons"]

# What Dagster raises in a check's step when a blocking check fails.
_BLOCKING_CHECK_ERROR = "DagsterAssetCheckFailedError"


def failure_reasons(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    """Why run ``run_id`` failed, most telling first; empty when nothing failed."""
    reported: list[str] = []
    raised: list[str] = []
    failures = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
    for record in failures.records:
        event = record.event_log_entry.dagster_event
        data = event.step_failure_data if event is not None else None
        if data is None:
            continue
        if data.user_failure_data is not None:
            reported.append(data.user_failure_data.description or "")
        elif data.error is not None and data.error.cls_name != _BLOCKING_CHECK_ERROR:
            raised.append(data.error.message.strip())
    checks: list[str] = []
    evaluations = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
    )
    for record in evaluations.records:
        event = record.event_log_entry.dagster_event
        evaluation = event.asset_check_evaluation_data if event is not None else None
        if evaluation is not None and not evaluation.passed:
            checks.append(f"{evaluation.check_name} failed: {evaluation.description or ''}")
    return [reason for reason in (*reported, *checks, *raised) if reason]
