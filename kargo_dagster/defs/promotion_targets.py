"""What a promotion or rollback asked for by name targets: the Stage asset and the Freight.

Shared by the command line, which launches the run through the webserver, so that a mistake
(an unknown Stage, Freight the Warehouse never recorded, nothing to roll back to) is reported
before any run is queued.
"""

import dagster as dg

from kargo_dagster.availability import Availability, Why
from kargo_dagster.defs.dagster_internals import storage_session
from kargo_dagster.defs.names import (
    freight_partitions_name,
    stage_asset_key,
    stage_job_name,
)
from kargo_dagster.defs.pipeline_state import read_pipeline_state
from kargo_dagster.errors import PromotionRefusedError
from kargo_dagster.freight import Freight
from kargo_dagster.spec import FreightRequest, ProjectManifests

__all__ = ["promote_here", "promotion_target", "stage_gate"]

# How far back a rollback looks for the Freight held before the current one; a Stage
# re-promoted this many times in a row has nothing else to go back to in memory.
_ROLLBACK_LOOKBACK = 1000


def promotion_target(
    instance: dg.DagsterInstance,
    project: ProjectManifests,
    *,
    stage: str,
    freight: str | None,
    rollback: bool = False,
) -> tuple[dg.AssetKey, str]:
    """The Stage asset to materialize and the Freight partition.

    Args:
        instance: The Dagster instance holding the Freight and the Stage's history.
        project: The Stage's Project.
        stage: The Stage.
        freight: The Freight's partition key; for a rollback, None means the Freight the
            Stage held before its current one.
        rollback: Whether this is a rollback (then ``freight`` may be None).

    Raises:
        PromotionRefusedError: No such Stage, Freight unknown to the Stage's Warehouses, or
            nothing earlier to roll back to.
    """
    spec = project.stages.get(stage)
    if spec is None:
        names = ", ".join(sorted(project.stages)) or "none"
        raise PromotionRefusedError(f"Project {project.name} has no Stage {stage} ({names})")
    origins = [request.origin.name for request in spec.spec.requested_freight]
    if freight is None:
        if not rollback:
            raise PromotionRefusedError("name the Freight to promote")
        with storage_session(instance) as session:
            for origin in origins:
                key = stage_asset_key(project, stage, origin)
                history = session.recent_partitions(key, _ROLLBACK_LOOKBACK)
                earlier = [p for p in history[1:] if p != history[0]]
                if earlier:
                    return key, earlier[0]
        raise PromotionRefusedError(
            f"Stage {stage} has held no other Freight before its current one: nothing to roll "
            "back to (give --to)"
        )
    for origin in origins:
        name = freight_partitions_name(project.name, origin)
        if instance.has_dynamic_partition(name, freight):
            return stage_asset_key(project, stage, origin), freight
    raise PromotionRefusedError(
        f"Freight {freight} is not recorded by the Warehouse(s) Stage {stage} requests "
        f"({', '.join(origins)}); see `kargo-dagster status`"
    )


def stage_gate(
    instance: dg.DagsterInstance,
    project: ProjectManifests,
    *,
    stage: str,
    request: FreightRequest,
    freight: str,
) -> tuple[Availability, Freight | None]:
    """The Stage asset's gate: may ``stage`` take ``freight`` for ``request``'s origin?

    The Stage asset asks it when it runs, and the command line before it launches a run, so
    both refuse the same Freight with the same words.

    Returns:
        The decision (its ``reason`` says why, or what is missing and what would make the
        Freight available), and the Freight's record, None when the origin's Warehouse did
        not record it (then the decision is a refusal).
    """
    with storage_session(instance) as session:
        state = read_pipeline_state(
            session, project, newest=0, stages=[stage], freight=[freight], records="asked"
        )
    recorded = state.recorded.get(freight)
    origin = request.origin.name
    if recorded is None or recorded.origin.name != origin:
        reason = (
            f"partition {freight} is not Freight recorded by Warehouse {origin}, so Stage "
            f"{stage} cannot take it; promote Freight that the Warehouse discovered (see its "
            "partitions)"
        )
        return Availability(available=False, why=Why.NOT_RECORDED, reason=reason), None
    return state.availability(stage, request, freight), recorded


def promote_here(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    key: dg.AssetKey,
    partition_key: str,
    tags: dict[str, str],
) -> dg.ExecuteInProcessResult:
    """Promote in this process: the Stage partition and its checks, as one run.

    For ``--local``: no webserver or daemon needed; the run still goes into the instance with
    its tags, so the UI, ``status`` and ``history`` show it like any other.
    """
    job = defs.resolve_job_def(stage_job_name(key, "promote"))
    return job.execute_in_process(
        partition_key=partition_key, instance=instance, raise_on_error=False, tags=tags
    )
