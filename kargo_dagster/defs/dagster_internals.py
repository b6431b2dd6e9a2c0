"""The one module that uses Dagster's private API.

- Per-Freight check state: Dagster 1.13 records which partition each check evaluation belongs
  to, but offers no public call that answers "did the ``verified`` check pass for this
  partition, against its latest materialization?". The event log storage answers it.
- A check's history of evaluations (for the delivery metrics): the public event-record
  query for it is deprecated, and the storage keeps the answer per check.
- Run tags added by a running promotion: a promotion launched from the UI or a backfill
  carries no Kargo tags, so the Stage asset adds them itself, and the Runs page can be
  filtered by Stage and Freight whoever launched the run.

Every private symbol used is listed in ``PRIVATE_SYMBOLS``; a test resolves each one, so a
Dagster upgrade that moves one fails loudly there rather than in a promotion.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

PRIVATE_SYMBOLS = (
    "dagster._core.storage.asset_check_execution_record.AssetCheckExecutionRecordStatus",
    "dagster._core.storage.event_log.base.EventLogStorage.get_asset_check_partition_info",
    "dagster._core.storage.event_log.base.EventLogStorage.get_asset_check_execution_history",
    "dagster.DagsterInstance.add_run_tags",
)

CheckState = Literal["passed", "failed", "pending", "skipped", "never run", "outdated"]


@dataclass(frozen=True)
class PartitionCheckState:
    """The latest evaluation of one check for one partition.

    Attributes:
        partition_key: The Freight's partition key.
        state: ``passed`` or ``failed`` when the latest evaluation checked the partition's
            latest materialization; ``outdated`` when the partition was materialized again
            since; ``pending`` while a run that plans the check has not finished it;
            ``skipped`` when that run ended without running it (its promotion failed);
            ``never run`` otherwise.
        run_id: The run that last planned or ran the check, if any.
    """

    partition_key: str
    state: CheckState
    run_id: str | None

    @property
    def passed(self) -> bool:
        """Whether the check passed against the partition's latest materialization."""
        return self.state == "passed"


def partition_check_states(
    instance: dg.DagsterInstance, check_key: dg.AssetCheckKey, partition_keys: Sequence[str]
) -> dict[str, PartitionCheckState]:
    """The latest state of ``check_key`` for each of ``partition_keys``, in one query."""
    infos = instance.event_log_storage.get_asset_check_partition_info(
        [check_key], partition_keys=list(partition_keys)
    )
    states = {key: PartitionCheckState(key, "never run", None) for key in partition_keys}
    for info in infos:
        if info.partition_key is None or info.partition_key not in states:
            continue
        status = info.latest_execution_status
        state: CheckState
        if status == AssetCheckExecutionRecordStatus.PLANNED:
            run = instance.get_run_by_id(info.latest_planned_run_id)
            state = "skipped" if run is None or run.is_finished else "pending"
        elif not info.is_current:
            state = "outdated"
        elif status == AssetCheckExecutionRecordStatus.SUCCEEDED:
            state = "passed"
        else:
            state = "failed"
        states[info.partition_key] = PartitionCheckState(
            info.partition_key, state, info.latest_planned_run_id
        )
    return states


def add_run_tags(instance: dg.DagsterInstance, run_id: str, tags: Mapping[str, str]) -> None:
    """Add ``tags`` to a run that is already going, keeping the tags it was launched with."""
    instance.add_run_tags(run_id, dict(tags))


@dataclass(frozen=True)
class CheckEvaluation:
    """One finished evaluation of a check: the partition, when (epoch seconds), the verdict."""

    partition_key: str | None
    timestamp: float
    passed: bool


def check_evaluations(
    instance: dg.DagsterInstance, check_key: dg.AssetCheckKey, limit: int = 1000
) -> list[CheckEvaluation]:
    """The check's latest ``limit`` finished evaluations, newest first."""
    records = instance.event_log_storage.get_asset_check_execution_history(
        check_key,
        limit=limit,
        status={
            AssetCheckExecutionRecordStatus.SUCCEEDED,
            AssetCheckExecutionRecordStatus.FAILED,
        },
    )
    return [
        CheckEvaluation(
            record.partition,
            # When the verdict was given; the record's own timestamp is when it was planned.
            record.event.timestamp if record.event is not None else record.create_timestamp,
            record.status == AssetCheckExecutionRecordStatus.SUCCEEDED,
        )
        for record in records
    ]
