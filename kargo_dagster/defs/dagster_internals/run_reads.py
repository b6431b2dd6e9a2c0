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
from kargo_dagster.defs.instance_queries import UNFINISHED
from kargo_dagster.defs.names import RUN_TAG_KEYS, TAG_FREIGHT, TAG_PROJECT, TAG_STAGE


class RunReads(Connections):
    """Reads of the Project's runs, with the tags the state needs."""

    def promotion_runs(
        self, project: str, freight: Collection[str], run_ids: Collection[str]
    ) -> list[RunRow]:
        """The Project's runs that are unfinished or promote one of ``freight``, and the runs
        ``run_ids`` (tagged or not), newest first."""
        # Each part through its own index, so a Project's whole history is never scanned.
        of_freight = sa.select(RunTagsTable.c.run_id).where(
            RunTagsTable.c.key == TAG_FREIGHT, RunTagsTable.c.value.in_(list(freight))
        )
        going = sa.select(RunsTable.c.run_id).where(unfinished())
        candidates = sa.union(of_freight, going).subquery()
        ours = sa.select(candidates.c.run_id).where(in_project(candidates.c.run_id, project))
        named = sa.select(RunsTable.c.run_id).where(RunsTable.c.run_id.in_(list(run_ids)))
        return self._runs_among(sa.union(ours, named).subquery())

    def stage_runs(self, project: str, stage: str, limit: int) -> list[RunRow]:
        """The newest ``limit`` runs tagged for ``stage`` of ``project``, newest first."""
        of_stage = sa.select(RunTagsTable.c.run_id).where(
            RunTagsTable.c.key == TAG_STAGE,
            RunTagsTable.c.value == stage,
            in_project(RunTagsTable.c.run_id, project),
        )
        return self._runs_among(of_stage.subquery(), limit=limit)

    def finished_runs(
        self, project: str, statuses: Collection[dg.DagsterRunStatus], created_after: float
    ) -> list[RunRow]:
        """The Project's runs created since ``created_after`` that ended in ``statuses``."""
        return self._runs(
            sa.and_(
                RunsTable.c.status.in_([s.value for s in statuses]),
                RunsTable.c.create_timestamp >= naive(created_after),
                in_project(RunsTable.c.run_id, project),
            )
        )

    def _runs(self, condition: Any, *, limit: int | None = None) -> list[RunRow]:
        return self._runs_among(None, condition, limit=limit)

    def _runs_among(
        self, among: Any, condition: Any = None, *, limit: int | None = None
    ) -> list[RunRow]:
        # ``among``: a subquery of run ids to join (each run found by its index); else every
        # run matching ``condition``.
        chosen = sa.select(
            RunsTable.c.id,
            RunsTable.c.run_id,
            RunsTable.c.status,
            RunsTable.c.create_timestamp,
            RunsTable.c.end_time,
        )
        if among is not None:
            chosen = chosen.join(among, RunsTable.c.run_id == among.c.run_id)
        if condition is not None:
            chosen = chosen.where(condition)
        chosen = chosen.order_by(RunsTable.c.id.desc())
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


def unfinished() -> Any:
    """Runs that have not ended."""
    return RunsTable.c.status.in_([s.value for s in UNFINISHED])


def in_project(run_id: Any, project: str) -> Any:
    """Whether the run ``run_id`` (a column) is tagged for ``project``."""
    tags = RunTagsTable.alias("project_tags")
    return sa.exists().where(
        tags.c.run_id == run_id, tags.c.key == TAG_PROJECT, tags.c.value == project
    )
