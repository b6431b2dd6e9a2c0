"""Rows read from Dagster's storage tables, and the connections they are read over.

Part of the adapter (:mod:`kargo_dagster.defs.dagster_internals`): the table objects and column
types here are Dagster's private storage schema.
"""

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import sqlalchemy as sa
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    AssetKeyTable,
    SqlEventLogStorageTable,
)
from sqlalchemy.exc import OperationalError

from kargo_dagster.errors import InstanceError

EVENTS = SqlEventLogStorageTable
CHECKS = AssetCheckExecutionsTable
MATERIALIZATION = dg.DagsterEventType.ASSET_MATERIALIZATION.value
OBSERVATION = dg.DagsterEventType.ASSET_OBSERVATION.value
STEP_FAILURE = dg.DagsterEventType.STEP_FAILURE.value
# The metadata entry of a check verdict stored again, and why (see ``restate_verdicts``).
RESTATED = "kargo/restated"


@dataclass(frozen=True)
class EventRow:
    """One stored asset event, without its body: which asset and partition, when, which run."""

    asset: dg.AssetKey
    partition: str | None
    storage_id: int
    run_id: str
    timestamp: float


@dataclass(frozen=True)
class ObservationRow:
    """One stored asset observation with its metadata."""

    asset: dg.AssetKey
    partition: str | None
    storage_id: int
    timestamp: float
    metadata: Mapping[str, Any]


@dataclass(frozen=True)
class CheckRow:
    """One execution of a Stage's check: planned, or finished with its verdict.

    Attributes:
        partition: The Freight whose promotion a finished execution judged; for one still
            planned, the Freight its run was launched for when the row says (rows written
            while the checks were partitioned), else empty: its run's Freight.
        status: ``PLANNED``, ``SUCCEEDED`` or ``FAILED``.
        target_storage_id: The materialization the evaluation checked, if it finished.
        evaluated_at: When the verdict was stored (epoch seconds), for a finished one.
        order: The execution's place among all check executions (newer is greater).
        description: The evaluation's description, for a finished one.
        restated: Whether it is an earlier verdict stored again (read with the description).
    """

    asset: dg.AssetKey
    check: str
    partition: str
    status: str
    run_id: str
    target_storage_id: int | None
    evaluated_at: float | None
    order: int = 0
    description: str = ""
    restated: bool = False


@dataclass(frozen=True)
class RunRow:
    """A run with the tags asked for: its status, when it was created and ended."""

    run_id: str
    status: dg.DagsterRunStatus
    created: float
    ended: float | None
    tags: Mapping[str, str]
    order: int


class Connections:
    """The open connections a session reads over: the event log's index and the runs."""

    def __init__(
        self, index: sa.Connection, runs: sa.Connection, sharded: bool, instance: str
    ) -> None:
        self._index = index
        self._run_connection = runs
        # SQLite's default event log keeps each run's events in a file of its own; only asset
        # and check events are copied into the index the bulk reads use.
        self.sharded = sharded
        self.instance = instance
        self._wipes: dict[str, Any] | None = None

    def _rows(self, connection: sa.Connection, statement: Any) -> list[Any]:
        try:
            return list(connection.execute(statement).all())
        except OperationalError as error:
            raise InstanceError(unreachable(self.instance, error)) from None

    def live(self, assets: Collection[dg.AssetKey], events: Any = EVENTS) -> Any:
        """The condition that keeps ``assets``' events stored after the asset was last wiped
        (on the event table or an alias of it, ``events``).

        Dagster wipes an asset by recording when, and ignores its older events from then on.
        """
        if self._wipes is None:
            rows = self._rows(
                self._index,
                sa.select(AssetKeyTable.c.asset_key, AssetKeyTable.c.wipe_timestamp).where(
                    AssetKeyTable.c.wipe_timestamp.isnot(None)
                ),
            )
            self._wipes = dict(rows)
        kept = [
            sa.or_(events.c.asset_key != asset, events.c.timestamp > self._wipes[asset])
            for asset in asset_strings(assets)
            if asset in self._wipes
        ]
        return sa.and_(sa.true(), *kept)

    def event_rows(self, statement: Any) -> list[EventRow]:
        """The rows of a statement selecting :func:`event_columns`."""
        return [event_row(row) for row in self._rows(self._index, statement)]


def epoch(value: datetime | None) -> float | None:
    """A stored naive UTC datetime as epoch seconds."""
    return value.replace(tzinfo=UTC).timestamp() if value is not None else None


def naive(timestamp: float) -> datetime:
    """Epoch seconds as the naive UTC datetime Dagster stores."""
    return datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None)


def asset_strings(assets: Collection[dg.AssetKey]) -> list[str]:
    return [asset.to_string() for asset in assets]


def event_columns() -> list[Any]:
    return [
        EVENTS.c.asset_key,
        EVENTS.c.partition,
        EVENTS.c.id,
        EVENTS.c.run_id,
        EVENTS.c.timestamp,
    ]


def event_row(row: Any) -> EventRow:
    return EventRow(
        asset=dg.AssetKey.from_db_string(row[0]) or dg.AssetKey("?"),
        partition=row[1],
        storage_id=row[2],
        run_id=row[3] or "",
        timestamp=epoch(row[4]) or 0.0,
    )


def observation_row(event: EventRow, body: str) -> ObservationRow | None:
    """The observation an event row and its stored body hold, if it is one."""
    observation = dg.deserialize_value(body, dg.EventLogEntry).asset_observation
    if observation is None:
        return None
    return ObservationRow(
        event.asset, event.partition, event.storage_id, event.timestamp, dict(observation.metadata)
    )


def materialization_row(event: EventRow, body: str) -> ObservationRow | None:
    """The materialization an event row and its stored body hold, if it is one, read like
    an observation (where, when and its metadata)."""
    materialization = dg.deserialize_value(body, dg.EventLogEntry).asset_materialization
    if materialization is None:
        return None
    return ObservationRow(
        event.asset,
        event.partition,
        event.storage_id,
        event.timestamp,
        dict(materialization.metadata),
    )


def check_columns() -> list[Any]:
    return [
        CHECKS.c.asset_key,
        CHECKS.c.check_name,
        CHECKS.c.partition,
        CHECKS.c.execution_status,
        CHECKS.c.run_id,
        CHECKS.c.materialization_event_storage_id,
        CHECKS.c.evaluation_event_timestamp,
        CHECKS.c.id,
    ]


def check_row(
    row: Any, *, partition: str | None = None, evaluation_event: str | None = None
) -> CheckRow:
    """A row of :func:`check_columns`, judging ``partition`` when given; with the stored
    ``evaluation_event``, its description too."""
    finished = row[3] in ("SUCCEEDED", "FAILED")
    description = ""
    restated = False
    if evaluation_event:
        entry = dg.deserialize_value(evaluation_event, dg.EventLogEntry)
        event = entry.dagster_event
        evaluation = event.asset_check_evaluation_data if event is not None else None
        if evaluation is not None:
            description = evaluation.description or ""
            restated = RESTATED in evaluation.metadata
    return CheckRow(
        asset=dg.AssetKey.from_db_string(row[0]) or dg.AssetKey("?"),
        check=row[1],
        partition=partition if partition is not None else (row[2] or ""),
        status=row[3],
        run_id=row[4] or "",
        target_storage_id=row[5] if finished else None,
        evaluated_at=epoch(row[6]) if finished else None,
        order=row[7],
        description=description,
        restated=restated,
    )


def unreachable(name: str, error: BaseException | None) -> str:
    """What to say when the instance's database fails a statement or a connection."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines() if cause is not None else []
    reason = lines[0] if lines else "unreachable"
    return (
        f"cannot read the Dagster instance {name}: {reason}. Check that its database is "
        "running and reachable, and DAGSTER_HOME's dagster.yaml"
    )
