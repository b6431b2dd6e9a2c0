"""The reads the pipeline state replaced, kept as the reference its answers are compared with.

Each answers one Stage and one Freight at a time through Dagster's public API (and the
storage's check execution history), the way ``status``, the gate and the sensors read the
instance before :mod:`kargo_dagster.defs.pipeline_state`. Slow, and obviously right.
"""

from typing import Any

import dagster as dg

from kargo_dagster.availability import Availability, Occupancy, UpstreamFacts, decide, longest_soak
from kargo_dagster.defs.names import (
    META_ACTOR,
    META_APPROVED,
    META_HOLD,
    OUTCOME_REFUSED,
    OUTCOME_SUPERSEDED,
    TAG_FREIGHT,
    TAG_OUTCOME,
    TAG_PROJECT,
    TAG_STAGE,
    VERIFIED_CHECK,
    freight_partitions_name,
    stage_asset_key,
)
from kargo_dagster.defs.pipeline_state import availability_request
from kargo_dagster.defs.run_tags import shown_actor
from kargo_dagster.spec import FreightRequest, ProjectManifests

UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def current(instance: dg.DagsterInstance, asset: dg.AssetKey) -> dg.EventLogRecord | None:
    records = instance.fetch_materializations(asset, limit=1).records
    return records[0] if records and records[0].partition_key else None


def history(instance: dg.DagsterInstance, asset: dg.AssetKey) -> list[Occupancy]:
    records = instance.fetch_materializations(asset, limit=1000).records
    return [Occupancy(str(r.partition_key), r.timestamp) for r in records if r.partition_key]


def check_state(
    instance: dg.DagsterInstance, asset: dg.AssetKey, check: str, freight: str
) -> tuple[str, float | None]:
    """The check's state for ``freight`` and when its verdict was given: its newest execution
    planned in a run for ``freight`` or judging a promotion of ``freight``."""
    key = dg.AssetCheckKey(asset, check)
    promotions = {
        record.storage_id: record.partition_key
        for record in instance.fetch_materializations(asset, limit=1000).records
    }
    history = instance.event_log_storage.get_asset_check_execution_history(key, limit=1000)
    for record in history:  # newest first
        if record.status.value == "PLANNED":
            run = instance.get_run_by_id(record.run_id)
            tags = run.tags if run is not None else {}
            if (record.partition or tags.get(TAG_FREIGHT) or tags.get("dagster/partition")) != (
                freight
            ):
                continue
            return ("skipped" if run is None or run.is_finished else "pending"), None
        evaluation = record.evaluation
        target = evaluation.target_materialization_data if evaluation is not None else None
        if target is None or promotions.get(target.storage_id) != freight:
            continue
        newest = next(i for i, p in promotions.items() if p == freight)
        if newest != target.storage_id:
            return "outdated", None
        at = record.event.timestamp if record.event is not None else None
        return ("passed" if record.status.value == "SUCCEEDED" else "failed"), at
    return "never run", None


def approval(
    instance: dg.DagsterInstance, asset: dg.AssetKey, freight: str
) -> tuple[str, float] | None:
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[freight]), limit=100
    ).records
    for record in records:
        observation = record.asset_observation
        value = observation.metadata.get(META_APPROVED) if observation else None
        if value is not None and getattr(value, "value", None) is True:
            actor = observation.metadata.get(META_ACTOR) if observation else None
            return str(getattr(actor, "value", "") or ""), record.timestamp
    return None


def last_promotion_failed(
    instance: dg.DagsterInstance, project: str, stage: str, freight: str
) -> bool:
    runs = instance.get_runs(
        dg.RunsFilter(tags={TAG_PROJECT: project, TAG_STAGE: stage, TAG_FREIGHT: freight})
    )
    for run in runs:
        # A superseded or refused run changed nothing: it is no attempt.
        if run.tags.get(TAG_OUTCOME) in (OUTCOME_SUPERSEDED, OUTCOME_REFUSED):
            continue
        if run.status != dg.DagsterRunStatus.FAILURE:
            return False
        promoted = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=1
        ).records
        return not promoted
    return False


def in_flight(instance: dg.DagsterInstance, project: str, stage: str) -> set[str]:
    runs = instance.get_runs(
        dg.RunsFilter(tags={TAG_PROJECT: project, TAG_STAGE: stage}, statuses=UNFINISHED)
    )
    return {run.tags.get(TAG_FREIGHT, "?") for run in runs}


def held_for(instance: dg.DagsterInstance, asset: dg.AssetKey) -> str | None:
    for record in instance.fetch_observations(asset, limit=200).records:
        observation = record.asset_observation
        if observation is None or META_HOLD not in observation.metadata:
            continue
        if getattr(observation.metadata[META_HOLD], "value", None) is not True:
            return None
        held = current(instance, asset)
        if held is not None and held.timestamp > record.timestamp:
            return None
        return str(record.partition_key)
    return None


def availability(
    instance: dg.DagsterInstance,
    project: ProjectManifests,
    stage: str,
    request: FreightRequest,
    freight: str,
    now: float,
) -> Availability:
    origin = request.origin.name
    approved = approval(instance, stage_asset_key(project, stage, origin), freight) is not None
    upstream: list[UpstreamFacts] = []
    if not approved and not request.sources.direct:
        for upstream_stage in request.sources.stages:
            key = stage_asset_key(project, upstream_stage, origin)
            state, _ = check_state(instance, key, VERIFIED_CHECK, freight)
            occupancies = history(instance, key)
            promoted = any(o.partition_key == freight for o in occupancies)
            upstream.append(
                UpstreamFacts(
                    stage=upstream_stage,
                    verified=state == "passed",
                    verification_state=state if promoted else "never promoted there",
                    soak=longest_soak(occupancies, freight, now),
                )
            )
    return decide(
        availability_request(stage, request), freight=freight, approved=approved, upstream=upstream
    )


def cell(
    instance: dg.DagsterInstance,
    project: ProjectManifests,
    stage: str,
    request: FreightRequest,
    freight: str,
    now: float,
) -> dict[str, Any]:
    """One cell of the Freight x Stage matrix, as ``status`` computed it cell by cell."""
    asset = stage_asset_key(project, stage, request.origin.name)
    states: list[str] = []
    result: dict[str, Any] = {"states": states}
    held = current(instance, asset)
    if held is not None and held.partition_key == freight:
        states.append("current")
    state, at = check_state(instance, asset, VERIFIED_CHECK, freight)
    if state in ("passed", "failed"):
        states.append("verified" if state == "passed" else "failed")
        result["verifiedAt"] = at
    promoted = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[freight]), limit=1
    ).records
    if promoted:
        run = instance.get_run_by_id(promoted[0].run_id)
        result["promotedAt"] = promoted[0].timestamp
        result["promotedBy"] = shown_actor(run.tags) if run else ""
    approved = approval(instance, asset, freight)
    if approved is not None:
        states.append("approved")
        result["approvedBy"], result["approvedAt"] = approved
    if last_promotion_failed(instance, project.name, stage, freight):
        states.append("promotion failed")
    if not promoted and request.sources.required_soak_time:
        answer = availability(instance, project, stage, request, freight, now)
        if not answer.available and "short of the required" in answer.reason:
            states.append("soaking")
    return result


def newest_freight(
    instance: dg.DagsterInstance, project: str, origin: str, limit: int
) -> list[str]:
    keys = instance.get_dynamic_partitions(freight_partitions_name(project, origin))
    return list(reversed(keys))[:limit]
