"""Bulk reads of asset events, asset check executions and dynamic partitions.

Part of the adapter (:mod:`kargo_dagster.defs.dagster_internals`). Every method is one SQL
statement over the event log's index.
"""

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import dagster as dg
import sqlalchemy as sa
from dagster._core.storage.event_log.schema import AssetKeyTable, DynamicPartitionsTable
from dagster._core.storage.runs.schema import RunsTable

from kargo_dagster.defs.dagster_internals.rows import (
    CHECKS,
    EVENTS,
    MATERIALIZATION,
    OBSERVATION,
    STEP_FAILURE,
    CheckRow,
    Connections,
    EventRow,
    ObservationRow,
    asset_strings,
    check_columns,
    check_row,
    epoch,
    event_columns,
    event_row,
    materialization_row,
    naive,
    observation_row,
)

_FINISHED = ("SUCCEEDED", "FAILED")


class AssetReads(Connections):
    """Reads of what happened to assets: materializations, observations, checks."""

    def watermark(
        self,
        partitions_defs: Collection[str],
        unwatched: Collection[dg.AssetKey] = (),
        silent: Collection[dg.AssetKey] = (),
    ) -> list[Any]:
        """What changes whenever anything a Project's state is read from changes.

        The newest event (observations of the ``unwatched`` assets and every event of the
        ``silent`` ones aside), the number of runs and their latest update, and the Freight
        partitions (removing one writes no event).
        """
        counted = sa.and_(
            sa.or_(
                EVENTS.c.dagster_event_type.is_(None),
                EVENTS.c.dagster_event_type != OBSERVATION,
                EVENTS.c.asset_key.notin_(asset_strings(unwatched)),
            ),
            sa.or_(
                EVENTS.c.asset_key.is_(None),
                EVENTS.c.asset_key.notin_(asset_strings(silent)),
            ),
        )
        events = sa.select(sa.func.max(EVENTS.c.id)).where(counted).scalar_subquery()
        partitions = (
            sa.select(sa.func.count(), sa.func.max(DynamicPartitionsTable.c.id))
            .where(DynamicPartitionsTable.c.partitions_def_name.in_(list(partitions_defs)))
            .subquery()
        )
        [index] = self._rows(
            self._index, sa.select(events, partitions.c[0], partitions.c[1]).select_from(partitions)
        )
        [runs] = self._rows(
            self._run_connection,
            sa.select(sa.func.count(), sa.func.max(RunsTable.c.update_timestamp)),
        )
        updated = epoch(runs[1])
        return [index[0], index[1], index[2], runs[0], updated]

    def newest_partitions(self, names: Collection[str], limit: int) -> dict[str, list[str]]:
        """The newest ``limit`` keys of each dynamic partitions definition, newest first."""
        table = DynamicPartitionsTable
        rank = (
            sa.func.row_number()
            .over(partition_by=table.c.partitions_def_name, order_by=table.c.id.desc())
            .label("rank")
        )
        ranked = (
            sa.select(table.c.partitions_def_name, table.c.partition, table.c.id, rank)
            .where(table.c.partitions_def_name.in_(list(names)))
            .subquery()
        )
        rows = self._rows(
            self._index,
            sa.select(ranked.c.partitions_def_name, ranked.c.partition)
            .where(ranked.c.rank <= limit)
            .order_by(ranked.c.partitions_def_name, ranked.c.id.desc()),
        )
        found: dict[str, list[str]] = {name: [] for name in names}
        for name, partition in rows:
            found[name].append(partition)
        return found

    def existing_partitions(self, names: Collection[str], keys: Collection[str]) -> set[str]:
        """Which of ``keys`` exist in one of the partitions definitions ``names``."""
        if not keys:
            return set()
        table = DynamicPartitionsTable
        rows = self._rows(
            self._index,
            sa.select(table.c.partition).where(
                table.c.partitions_def_name.in_(list(names)), table.c.partition.in_(list(keys))
            ),
        )
        return {row[0] for row in rows}

    def latest_materializations(
        self, assets: Collection[dg.AssetKey]
    ) -> dict[dg.AssetKey, EventRow]:
        """Each asset's newest materialization."""
        if not assets:
            return {}
        # One index probe per asset (the newest id of its materializations), rather than
        # grouping every materialization the assets ever had.
        older = EVENTS.alias("older")
        newest_id = (
            sa.select(sa.func.max(older.c.id))
            .where(
                older.c.asset_key == AssetKeyTable.c.asset_key,
                older.c.dagster_event_type == MATERIALIZATION,
                self.live(assets, older),
            )
            .scalar_subquery()
        )
        newest = (
            sa.select(newest_id.label("id"))
            .where(AssetKeyTable.c.asset_key.in_(asset_strings(assets)))
            .subquery()
        )
        rows = self._newest_rows(newest)
        return {event.asset: event for event, _ in rows}

    def partition_materializations(
        self, assets: Collection[dg.AssetKey], partitions: Collection[str]
    ) -> dict[tuple[dg.AssetKey, str], tuple[EventRow, int]]:
        """For each asset and partition, the newest materialization and the first one's id."""
        if not assets or not partitions:
            return {}
        newest = self._newest(MATERIALIZATION, assets, partitions)
        rows = self._newest_rows(newest, newest.c.first)
        return {
            (event.asset, event.partition): (event, row[-1])
            for event, row in rows
            if event.partition is not None
        }

    def recent_partitions(self, asset: dg.AssetKey, limit: int) -> list[str]:
        """The partitions of the asset's newest ``limit`` materializations, newest first."""
        statement = (
            sa.select(EVENTS.c.partition)
            .where(
                EVENTS.c.dagster_event_type == MATERIALIZATION,
                EVENTS.c.asset_key == asset.to_string(),
                EVENTS.c.partition.isnot(None),
                self.live([asset]),
            )
            .order_by(EVENTS.c.id.desc())
            .limit(limit)
        )
        return [row[0] for row in self._rows(self._index, statement)]

    def materializations_since(self, since: Mapping[dg.AssetKey, int]) -> list[EventRow]:
        """Materializations of each asset from storage id ``since[asset]`` on, oldest first."""
        if not since:
            return []
        bounds = sa.or_(
            *(
                sa.and_(EVENTS.c.asset_key == asset.to_string(), EVENTS.c.id >= first)
                for asset, first in since.items()
            )
        )
        return self.event_rows(
            sa.select(*event_columns())
            .where(EVENTS.c.dagster_event_type == MATERIALIZATION, bounds, self.live(since))
            .order_by(EVENTS.c.id)
        )

    def materializations_after(
        self, assets: Collection[dg.AssetKey], after_time: float
    ) -> list[EventRow]:
        """Materializations of ``assets`` stored since ``after_time``, oldest first."""
        if not assets:
            return []
        return self.event_rows(
            sa.select(*event_columns())
            .where(
                EVENTS.c.dagster_event_type == MATERIALIZATION,
                EVENTS.c.asset_key.in_(asset_strings(assets)),
                self.live(assets),
                EVENTS.c.timestamp >= naive(after_time),
            )
            .order_by(EVENTS.c.id)
        )

    def check_executions(
        self,
        assets: Collection[dg.AssetKey],
        checks: Collection[str],
        partitions: Collection[str],
    ) -> list[CheckRow]:
        """The newest verdict of each check on each of ``partitions`` (the Freight whose
        promotion it judged), and every execution of the checks still planned (see
        :class:`CheckRow` for the Freight of those)."""
        if not assets or not partitions:
            return []
        judged = EVENTS.alias("judged")
        ours = sa.and_(
            CHECKS.c.asset_key.in_(asset_strings(assets)),
            CHECKS.c.check_name.in_(list(checks)),
        )
        with_target = CHECKS.join(judged, judged.c.id == CHECKS.c.materialization_event_storage_id)
        newest = (
            sa.select(sa.func.max(CHECKS.c.id).label("id"))
            .select_from(with_target)
            .where(
                ours,
                CHECKS.c.execution_status.in_(_FINISHED),
                judged.c.partition.in_(list(partitions)),
            )
            .group_by(CHECKS.c.asset_key, CHECKS.c.check_name, judged.c.partition)
            .subquery()
        )
        verdicts = (
            sa.select(*check_columns(), judged.c.partition)
            .select_from(with_target)
            .join(newest, CHECKS.c.id == newest.c.id)
        )
        planned = sa.select(*check_columns()).where(
            ours,
            CHECKS.c.execution_status == "PLANNED",
            # As Dagster reads it: old planned records may lack the event's storage id.
            CHECKS.c.evaluation_event_storage_id.isnot(None),
        )
        return [check_row(row, partition=row[-1]) for row in self._rows(self._index, verdicts)] + [
            check_row(row) for row in self._rows(self._index, planned)
        ]

    def verdict_entries(
        self, asset: dg.AssetKey, checks: Collection[str], target: int
    ) -> dict[str, dg.EventLogEntry]:
        """The newest verdict of each of ``checks`` on ``asset``'s materialization ``target``,
        as stored: by check name."""
        statement = (
            sa.select(CHECKS.c.check_name, CHECKS.c.evaluation_event)
            .where(
                CHECKS.c.asset_key == asset.to_string(),
                CHECKS.c.check_name.in_(list(checks)),
                CHECKS.c.execution_status.in_(_FINISHED),
                CHECKS.c.materialization_event_storage_id == target,
            )
            .order_by(CHECKS.c.id)
        )
        return {
            name: dg.deserialize_value(body, dg.EventLogEntry)
            for name, body in self._rows(self._index, statement)
            if body
        }

    def check_evaluations_since(
        self, assets: Collection[dg.AssetKey], check: str, after_time: float
    ) -> list[CheckRow]:
        """Every verdict of ``check`` on ``assets`` since ``after_time``, with the Freight
        whose promotion it judged."""
        judged = EVENTS.alias("judged")
        statement = (
            sa.select(*check_columns(), judged.c.partition)
            .select_from(
                CHECKS.join(judged, judged.c.id == CHECKS.c.materialization_event_storage_id)
            )
            .where(
                CHECKS.c.asset_key.in_(asset_strings(assets)),
                CHECKS.c.check_name == check,
                CHECKS.c.execution_status.in_(_FINISHED),
                CHECKS.c.evaluation_event_timestamp >= naive(after_time),
            )
        )
        return [
            check_row(row, partition=row[-1] or "") for row in self._rows(self._index, statement)
        ]

    def failed_checks(self, run_ids: Collection[str]) -> dict[str, list[CheckRow]]:
        """Each failed check evaluation of these runs, with what it said, by run (restated
        verdicts aside)."""
        if not run_ids:
            return {}
        statement = sa.select(*check_columns(), CHECKS.c.evaluation_event).where(
            CHECKS.c.run_id.in_(list(run_ids)), CHECKS.c.execution_status == "FAILED"
        )
        found: dict[str, list[CheckRow]] = {}
        for row in self._rows(self._index, statement.order_by(CHECKS.c.id)):
            check = check_row(row, evaluation_event=row[-1])
            if check.restated:
                # An earlier verdict on the Freight the Stage holds, not this run's.
                continue
            found.setdefault(check.run_id, []).append(check)
        return found

    def observations(
        self,
        assets: Collection[dg.AssetKey],
        *,
        partitions: Collection[str] = (),
        after_id: int | None = None,
        containing: str | None = None,
    ) -> list[ObservationRow]:
        """Partitioned observations of ``assets``: those of ``partitions``, and any stored
        after ``after_id``; with ``containing``, only those whose metadata has that key."""
        where: list[Any] = []
        if partitions:
            where.append(EVENTS.c.partition.in_(list(partitions)))
        if after_id is not None:
            where.append(EVENTS.c.id > after_id)
        if not assets or not where:
            return []
        statement = sa.select(*event_columns(), EVENTS.c.event).where(
            EVENTS.c.dagster_event_type == OBSERVATION,
            EVENTS.c.asset_key.in_(asset_strings(assets)),
            self.live(assets),
            EVENTS.c.partition.isnot(None),
            sa.or_(*where),
        )
        if containing is not None:
            # Only to narrow what is read: the metadata is still read from the decoded event.
            statement = statement.where(EVENTS.c.event.contains(json.dumps(containing)))
        found: list[ObservationRow] = []
        for row in self._rows(self._index, statement.order_by(EVENTS.c.id)):
            observation = observation_row(event_row(row), row[-1])
            if observation is not None:
                found.append(observation)
        return found

    def latest_observations_containing(
        self, assets: Collection[dg.AssetKey], partitions: Collection[str], key: str
    ) -> dict[tuple[dg.AssetKey, str], ObservationRow]:
        """For each asset and partition, the newest observation whose metadata has ``key``."""
        if not assets or not partitions:
            return {}
        # The text test only narrows what is read: the metadata is read from the event.
        newest = self._newest(
            OBSERVATION, assets, partitions, also=[EVENTS.c.event.contains(json.dumps(key))]
        )
        found: dict[tuple[dg.AssetKey, str], ObservationRow] = {}
        for event, row in self._newest_rows(newest, EVENTS.c.event):
            observation = observation_row(event, row[-1])
            if observation is not None and key in observation.metadata and event.partition:
                found[(event.asset, event.partition)] = observation
        return found

    def latest_unpartitioned_materializations_containing(
        self, assets: Collection[dg.AssetKey], key: str
    ) -> dict[dg.AssetKey, ObservationRow]:
        """For each unpartitioned asset, the newest (runless) materialization whose metadata
        has ``key``."""
        return self._latest_unpartitioned(MATERIALIZATION, materialization_row, assets, key)

    def latest_unpartitioned_observations_containing(
        self, assets: Collection[dg.AssetKey], key: str
    ) -> dict[dg.AssetKey, ObservationRow]:
        """For each asset, the newest observation of the asset as a whole (no partition)
        whose metadata has ``key``."""
        return self._latest_unpartitioned(OBSERVATION, observation_row, assets, key)

    def _latest_unpartitioned(
        self,
        event_type: str,
        parse: Callable[[EventRow, Any], ObservationRow | None],
        assets: Collection[dg.AssetKey],
        key: str,
    ) -> dict[dg.AssetKey, ObservationRow]:
        if not assets:
            return {}
        newest = self._newest(
            event_type,
            assets,
            also=[EVENTS.c.partition.is_(None), EVENTS.c.event.contains(json.dumps(key))],
        )
        found: dict[dg.AssetKey, ObservationRow] = {}
        for event, row in self._newest_rows(newest, EVENTS.c.event):
            recorded = parse(event, row[-1])
            if recorded is not None and key in recorded.metadata:
                found[event.asset] = recorded
        return found

    def latest_materialization_metadata(
        self, assets: Collection[dg.AssetKey], partitions: Collection[str]
    ) -> dict[tuple[dg.AssetKey, str], Mapping[str, Any]]:
        """The metadata of each asset partition's newest materialization."""
        if not assets or not partitions:
            return {}
        found: dict[tuple[dg.AssetKey, str], Mapping[str, Any]] = {}
        newest = self._newest(MATERIALIZATION, assets, partitions)
        for event, row in self._newest_rows(newest, EVENTS.c.event):
            materialization = dg.deserialize_value(row[-1], dg.EventLogEntry).asset_materialization
            if materialization is not None and event.partition is not None:
                found[(event.asset, event.partition)] = dict(materialization.metadata)
        return found

    def first_materialization_times(
        self, assets: Collection[dg.AssetKey], partitions: Collection[str]
    ) -> dict[str, float]:
        """When each of ``partitions`` was first materialized in one of ``assets``."""
        if not assets or not partitions:
            return {}
        statement = (
            sa.select(EVENTS.c.partition, sa.func.min(EVENTS.c.timestamp))
            .where(
                EVENTS.c.dagster_event_type == MATERIALIZATION,
                EVENTS.c.asset_key.in_(asset_strings(assets)),
                self.live(assets),
                EVENTS.c.partition.in_(list(partitions)),
            )
            .group_by(EVENTS.c.partition)
        )
        return {
            partition: epoch(first) or 0.0
            for partition, first in self._rows(self._index, statement)
        }

    def _newest(
        self,
        event_type: str,
        assets: Collection[dg.AssetKey],
        partitions: Collection[str] | None = None,
        *,
        also: Sequence[Any] = (),
    ) -> Any:
        """A subquery of each asset's (and partition's) newest event of ``event_type``
        (``id``) and first one (``first``)."""
        where = [
            EVENTS.c.dagster_event_type == event_type,
            EVENTS.c.asset_key.in_(asset_strings(assets)),
            self.live(assets),
            *also,
        ]
        groups = [EVENTS.c.asset_key]
        if partitions is not None:
            where.append(EVENTS.c.partition.in_(list(partitions)))
            groups.append(EVENTS.c.partition)
        return (
            sa.select(sa.func.max(EVENTS.c.id).label("id"), sa.func.min(EVENTS.c.id).label("first"))
            .where(*where)
            .group_by(*groups)
            .subquery()
        )

    def _newest_rows(self, newest: Any, *columns: Any) -> list[tuple[EventRow, Any]]:
        """The events a :meth:`_newest` subquery names, with ``columns`` after them."""
        statement = sa.select(*event_columns(), *columns).join(newest, EVENTS.c.id == newest.c.id)
        return [(event_row(row), row) for row in self._rows(self._index, statement)]

    def step_failures(self, run_ids: Collection[str]) -> dict[str, list[Any]]:
        """The step failure data of each run's failed steps, oldest first, by run; None on a
        storage that keeps run events apart (read them run by run there)."""
        if not run_ids:
            return {}
        statement = (
            sa.select(EVENTS.c.run_id, EVENTS.c.event)
            .where(
                EVENTS.c.run_id.in_(list(run_ids)),
                EVENTS.c.dagster_event_type == STEP_FAILURE,
            )
            .order_by(EVENTS.c.id)
        )
        found: dict[str, list[Any]] = {}
        for run_id, body in self._rows(self._index, statement):
            event = dg.deserialize_value(body, dg.EventLogEntry).dagster_event
            if event is not None and event.step_failure_data is not None:
                found.setdefault(run_id, []).append(event.step_failure_data)
        return found
