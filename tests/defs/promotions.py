"""Launching promotions in tests the way Dagster launches them: one run per Stage partition."""

from typing import Any, cast

import dagster as dg


def promote(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    partition_key: str,
    tags: dict[str, str] | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialize one Stage partition together with its checks."""
    job = defs.resolve_implicit_global_asset_job_def()
    checks = {c for c in defs.resolve_asset_graph().asset_check_keys if c.asset_key == key}
    return job.get_subset(asset_selection={key}, asset_check_selection=checks).execute_in_process(
        partition_key=partition_key, instance=instance, raise_on_error=False, tags=tags or {}
    )


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The description of the run's step failure, as the UI shows it."""
    messages = [
        event.step_failure_data.user_failure_data.description or ""
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.user_failure_data is not None
    ]
    return "\n".join(messages)


def check_json(evaluation: dg.AssetCheckEvaluation, key: str) -> Any:
    """A check evaluation's metadata entry ``key`` as plain data (a JSON entry's value)."""
    return cast(Any, evaluation.metadata[key]).value


def declined(instance: dg.DagsterInstance, result: dg.ExecuteInProcessResult, outcome: str) -> str:
    """The one-line reason of a promotion that changed nothing (``refused``/``superseded``).

    Such a run succeeds without materializing the Stage (so nothing turns red in the UI) and
    carries its outcome and reason as tags, which is what its page shows at the top.
    """
    assert result.success, failure_message(result)
    assert not result.get_asset_materialization_events()
    run = instance.get_run_by_id(result.run_id)
    assert run is not None
    assert run.tags.get("kargo/outcome") == outcome, run.tags
    return run.tags["kargo/reason"]
