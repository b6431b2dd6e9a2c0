"""Reading Kargo state back from a Dagster instance, through Dagster's public API only.

"Freight is in Stage" is the partition of the Stage asset's newest materialization; an
approval is an observation on the Stage partition; Freight's artifacts are the metadata of the
Warehouse partition's materialization. Check state per partition lives in ``dagster_internals``.
"""

import json
from dataclasses import dataclass

import dagster as dg

from kargo_dagster.availability import Occupancy
from kargo_dagster.defs.names import (
    META_ACTOR,
    META_APPROVED,
    META_FREIGHT_JSON,
    OUTCOME_SUPERSEDED,
    TAG_FREIGHT,
    TAG_OUTCOME,
    TAG_PROJECT,
    TAG_STAGE,
)
from kargo_dagster.freight import Freight

# Soak time needs the Stage's promotion history back to the Freight's first stay; this many
# promotions cover months of a busy Stage while keeping the query to a few milliseconds.
HISTORY_LIMIT = 1000


@dataclass(frozen=True)
class CurrentFreight:
    """The Freight a Stage holds now: its partition, since when, and the promotion's run."""

    partition_key: str
    since: float
    run_id: str


def current_freight(instance: dg.DagsterInstance, stage: dg.AssetKey) -> CurrentFreight | None:
    """The Freight in a Stage: the partition of its newest materialization, if any."""
    records = instance.fetch_materializations(stage, limit=1).records
    if not records or records[0].partition_key is None:
        return None
    record = records[0]
    return CurrentFreight(str(record.partition_key), record.timestamp, record.run_id)


def stage_history(instance: dg.DagsterInstance, stage: dg.AssetKey) -> list[Occupancy]:
    """The Stage's successful promotions, newest first, up to ``HISTORY_LIMIT``."""
    records = instance.fetch_materializations(stage, limit=HISTORY_LIMIT).records
    return [
        Occupancy(str(r.partition_key), r.timestamp) for r in records if r.partition_key is not None
    ]


def is_approved(instance: dg.DagsterInstance, stage: dg.AssetKey, partition_key: str) -> bool:
    """Whether an approval was recorded for this Freight in this Stage."""
    return approval(instance, stage, partition_key) is not None


def approval(
    instance: dg.DagsterInstance, stage: dg.AssetKey, partition_key: str
) -> tuple[str, float] | None:
    """Who approved this Freight for this Stage and when (epoch seconds), or None."""
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=stage, asset_partitions=[partition_key]), limit=100
    ).records
    for record in records:
        observation = record.asset_observation
        if observation is None:
            continue
        value = observation.metadata.get(META_APPROVED)
        if value is not None and getattr(value, "value", None) is True:
            actor = observation.metadata.get(META_ACTOR)
            return str(getattr(actor, "value", "") or ""), record.timestamp
    return None


def latest_materialization(
    instance: dg.DagsterInstance, asset: dg.AssetKey, partition_key: str
) -> dg.AssetMaterialization | None:
    """The newest materialization of one partition (a Stage's latest promotion of a Freight,
    a Warehouse's record of it), or None."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[partition_key]), limit=1
    ).records
    return records[0].asset_materialization if records else None


def recorded_freight(
    instance: dg.DagsterInstance, warehouse: dg.AssetKey, partition_key: str
) -> Freight | None:
    """The Freight a Warehouse recorded under ``partition_key``, or None if it recorded none."""
    materialization = latest_materialization(instance, warehouse, partition_key)
    if materialization is None:
        return None
    value = materialization.metadata.get(META_FREIGHT_JSON)
    if value is None:
        return None
    raw = value.value
    return Freight.from_json(raw if isinstance(raw, dict) else json.loads(str(raw)))


# Runs that may still promote: waiting in the queue, starting, or running (a run whose step
# waits for the Stage's pool slot is already started).
UNFINISHED = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def newer_promotion(
    instance: dg.DagsterInstance, run_id: str, stage: dg.AssetKey
) -> dg.DagsterRun | None:
    """A run asked for after ``run_id`` that promotes into ``stage`` too, if any: one still
    queued or running, or one that succeeded."""
    mine = instance.get_run_record_by_id(run_id)
    if mine is None:
        return None
    # A newer request that already promoted counts too: going back to this older Freight
    # after it would undo what was asked for last. One that failed or was canceled does not.
    records = instance.get_run_records(
        dg.RunsFilter(
            statuses=[*UNFINISHED, dg.DagsterRunStatus.SUCCESS],
            created_after=mine.create_timestamp,
        )
    )
    newer = [
        record.dagster_run
        for record in records
        if record.dagster_run.run_id != run_id
        and record.create_timestamp > mine.create_timestamp
        and stage in (record.dagster_run.asset_selection or ())
    ]
    # The newest request is the one that will promote; report it.
    return newer[0] if newer else None


def last_promotion_failed(
    instance: dg.DagsterInstance, project: str, stage: str, freight: str
) -> bool:
    """Whether the latest attempt to promote ``freight`` into ``stage`` failed to promote it.

    A request that gave way to a newer one (``kargo/outcome=superseded``) was no attempt; the
    one before it answers.
    """
    runs = instance.get_runs(
        dg.RunsFilter(tags={TAG_PROJECT: project, TAG_STAGE: stage, TAG_FREIGHT: freight}),
        limit=SUPERSEDED_LOOKBACK,
    )
    for run in runs:
        if run.tags.get(TAG_OUTCOME) == OUTCOME_SUPERSEDED:
            continue
        if run.status != dg.DagsterRunStatus.FAILURE:
            return False
        # A run whose promotion succeeded fails too when a blocking check (health, verified)
        # fails after it; that is a failed verification, not a failed promotion.
        promoted = instance.get_records_for_run(
            run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION, limit=1
        ).records
        return not promoted
    return False


# Requests for one Freight superseded in a row; beyond this many the Freight counts as never
# attempted, which at worst lets auto-promotion try it once more.
SUPERSEDED_LOOKBACK = 20
