"""Verifying a Stage's Freight again: the ``health`` and ``verified`` checks, re-run.

Kargo re-verifies when asked (``kargo verify stage``); here that is a run of the Stage's two
checks for the Freight's partition, judged against that partition's latest promotion, with
the run tagged as a verification by its actor. The checks' new results replace the old ones
for that promotion, so a failed re-verification makes the Freight unavailable downstream.
"""

from dataclasses import dataclass

import dagster as dg

from kargo_dagster.defs.instance_queries import current_freight, latest_materialization
from kargo_dagster.defs.names import (
    HEALTH_CHECK,
    TAG_ACTION,
    TAG_ACTOR,
    TAG_FREIGHT,
    TAG_PROJECT,
    TAG_STAGE,
    VERIFIED_CHECK,
    Action,
    stage_asset_key,
    stage_job_name,
)
from kargo_dagster.errors import PromotionRefusedError
from kargo_dagster.spec import ProjectManifests

__all__ = ["ACTION_VERIFY", "CheckOutcome", "reverify"]

ACTION_VERIFY = Action.VERIFY.value


@dataclass(frozen=True)
class CheckOutcome:
    """One check's new result."""

    check: str
    passed: bool
    description: str


def reverify(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    project: ProjectManifests,
    *,
    stage: str,
    partition_key: str | None = None,
    actor: str = "unknown",
) -> tuple[str, list[CheckOutcome]]:
    """Run ``stage``'s ``health`` and ``verified`` checks again for its Freight.

    Args:
        defs: The code location's definitions (with its ``kargo`` resource).
        instance: The Dagster instance holding the promotions.
        project: The Stage's Project.
        stage: The Stage.
        partition_key: The Freight; default the Freight the Stage holds now.
        actor: Who asked, recorded as the run's ``kargo/actor`` tag.

    Returns:
        The Freight's partition key and each check's outcome.

    Raises:
        PromotionRefusedError: No such Stage, the Stage holds no Freight, or that Freight was
            never promoted into it.
    """
    spec = project.stages.get(stage)
    if spec is None:
        raise PromotionRefusedError(f"Project {project.name} has no Stage {stage}")
    key = stage_asset_key(project, stage, spec.spec.requested_freight[0].origin.name)
    if partition_key is None:
        held = current_freight(instance, key)
        if held is None:
            raise PromotionRefusedError(f"Stage {stage} holds no Freight to verify")
        partition_key = held.partition_key
    if latest_materialization(instance, key, partition_key) is None:
        raise PromotionRefusedError(
            f"Freight {partition_key} was never promoted into Stage {stage}: nothing to verify"
        )
    checks = {dg.AssetCheckKey(key, HEALTH_CHECK), dg.AssetCheckKey(key, VERIFIED_CHECK)}
    # The Stage's own job, with its checks alone.
    job = defs.resolve_job_def(stage_job_name(key, "promote")).get_subset(
        asset_selection=set(), asset_check_selection=checks
    )
    tags = {
        TAG_PROJECT: project.name,
        TAG_STAGE: stage,
        TAG_FREIGHT: partition_key,
        TAG_ACTION: ACTION_VERIFY,
        TAG_ACTOR: actor,
    }
    result = job.execute_in_process(
        partition_key=partition_key, instance=instance, raise_on_error=False, tags=tags
    )
    outcomes = [
        CheckOutcome(e.check_name, e.passed, e.description or "")
        for e in result.get_asset_check_evaluations()
    ]
    order = {HEALTH_CHECK: 0, VERIFIED_CHECK: 1}
    return partition_key, sorted(outcomes, key=lambda o: order.get(o.check, 2))
