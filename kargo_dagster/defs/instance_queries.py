"""Single facts about one Stage or one Freight, through Dagster's public API only.

For a promotion run's own needs (the Stage it promotes, the Freight it carries): "Freight is
in Stage" is the partition of the Stage asset's newest materialization, and Freight's artifacts
are the metadata of the Warehouse partition's materialization. Anything read across Stages or
Freight goes through :mod:`kargo_dagster.defs.pipeline_state` instead.
"""

import json
from dataclasses import dataclass

import dagster as dg

from kargo_dagster.defs.names import META_FREIGHT_JSON, TAG_BACKFILL, TAG_OUTCOME
from kargo_dagster.freight import Freight


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
    instance: dg.DagsterInstance, run_id: str, stage: dg.AssetKey, *, backfill: str | None = None
) -> dg.DagsterRun | None:
    """A run asked for after ``run_id`` that promotes into ``stage`` too, if any: one still
    queued or running, or one that succeeded (and did not decline, changing nothing).

    Runs of ``backfill`` do not count: the one Freight a backfill promotes into a Stage does
    not give way to the backfill's other runs, which give way to it.
    """
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
        and TAG_OUTCOME not in record.dagster_run.tags
        and (backfill is None or record.dagster_run.tags.get(TAG_BACKFILL) != backfill)
    ]
    # The newest request is the one that will promote; report it.
    return newer[0] if newer else None
