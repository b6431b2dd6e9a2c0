"""Bulk reads of runs and their tags.

Part of the adapter (:mod:`kargo_dagster.defs.dagster_internals`). Every method is one SQL
statement over the run storage.
"""

from collections.abc import Collection
from typing import Any

import dagster as dg
import sqlalchemy as sa
from dagster._core.storage.runs.schema import RunsTable, RunTagsTable

from kargo_dagster.defs.dagster_internals.rows import Connections, RunRow, epoch, naive
from kargo_dagster.defs.names import RUN_TAG_KEYS, TAG_FREIGHT, TAG_PROJECT, TAG_STAGE


class RunReads(Connections):
    """Reads of the Project's runs, with the tags the state needs."""

    def promotion_runs(
        self, project: str, freight: Collection[str], run_ids: Collection[str]
    ) -> list[RunRow]:
        """The Project's runs that are unfinished or promote one of ``freight``, and the runs
        ``run_ids`` (tagged or not), newest first."""
        conditions = [
            sa.and_(
                tagged(TAG_PROJECT, [project]),
                sa.or_(unfinished(), tagged(TAG_FREIGHT, freight)),
            )
        ]
        if run_ids:
            conditions.append(RunsTable.c.run_id.in_(list(run_ids)))
        return self._runs(sa.or_(*conditions))

    def stage_runs(self, project: str, stage: str, limit: int) -> list[RunRow]:
        """The newest ``limit`` runs tagged for ``stage`` of ``project``, newest first."""
        return self._runs(
            sa.and_(tagged(TAG_PROJECT, [project]), tagged(TAG_STAGE, [stage])), limit=limit
        )

    def finished_runs(
        self, project: str, statuses: Collection[dg.DagsterRunStatus], created_after: float
    ) -> list[RunRow]:
        """The Project's runs created since ``created_after`` that ended in ``statuses``."""
        return self._runs(
            sa.and_(
                tagged(TAG_PROJECT, [project]),
                RunsTable.c.status.in_([s.value for s in statuses]),
                RunsTable.c.create_timestamp >= naive(created_after),
            )
        )

    def _runs(self, condition: Any, *, limit: int | None = None) -> list[RunRow]:
        chosen = (
            sa.select(
                RunsTable.c.id,
                RunsTable.c.run_id,
                RunsTable.c.status,
                RunsTable.c.create_timestamp,
                RunsTable.c.end_time,
            )
            .where(condition)
            .order_by(RunsTable.c.id.desc())
        )
        if limit is not None:
            chosen = chosen.limit(limit)
        chosen_runs = chosen.subquery()
        statement = (
            sa.select(chosen_runs, RunTagsTable.c.key, RunTagsTable.c.value)
            .outerjoin(
                RunTagsTable,
                sa.and_(
                    RunTagsTable.c.run_id == chosen_runs.c.run_id,
                    RunTagsTable.c.key.in_(list(RUN_TAG_KEYS)),
                ),
            )
            .order_by(chosen_runs.c.id.desc())
        )
        found: dict[str, tuple[Any, dict[str, str]]] = {}
        for order, run_id, status, created, ended, key, value in self._rows(
            self._run_connection, statement
        ):
            _, tags = found.setdefault(run_id, ((order, status, created, ended), {}))
            if key is not None:
                tags[key] = value
        return [
            RunRow(run_id, dg.DagsterRunStatus(status), epoch(created) or 0.0, ended, tags, order)
            for run_id, ((order, status, created, ended), tags) in found.items()
        ]


# Runs that may still promote: waiting in the queue, starting, or running.
UNFINISHED = (
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
)


def unfinished() -> Any:
    """Runs that have not ended."""
    return RunsTable.c.status.in_([s.value for s in UNFINISHED])


def tagged(key: str, values: Collection[str]) -> Any:
    """Runs whose tag ``key`` has one of ``values``."""
    return RunsTable.c.run_id.in_(
        sa.select(RunTagsTable.c.run_id).where(
            RunTagsTable.c.key == key, RunTagsTable.c.value.in_(list(values))
        )
    )
