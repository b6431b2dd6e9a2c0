"""The one package that uses Dagster's private API: bulk reads of the instance's storage.

Dagster's public API answers one asset, one partition or one run at a time, and its
PostgreSQL storage opens a new connection for every call. Reading a Project's state that way
costs queries per Stage and per Freight. This adapter reads the same tables Dagster reads
(events, asset check executions, runs and their tags, dynamic partitions) with a handful of
SQL statements over one connection per storage database, and returns plain rows; what they
mean for Kargo is :mod:`kargo_dagster.defs.pipeline_state`'s business.

It also adds tags to a running run (a promotion launched from the UI or a backfill carries
no Kargo tags, so the Stage asset adds them itself), marks a Stage's partition failed when
its Freight failed the gates there (:func:`mark_partition_attempt_failed`), puts the verdicts
on the Freight a Stage holds back on top after a promotion that changed nothing
(:func:`restate_verdicts`), reads which partitions a backfill selects, names the type of
what ``dg.define_asset_job`` returns (:data:`AssetJob`, which Dagster does not export), and
gives the Stages' concurrency pools their default limit ahead of the first run that claims
one (:func:`initialize_pools`).

Every private symbol used is listed in ``PRIVATE_SYMBOLS``; a test resolves each one, so a
Dagster upgrade that moves one fails loudly there rather than in a promotion.
"""

import logging
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import ExitStack, contextmanager

import dagster as dg
import sqlalchemy as sa
from dagster._core.definitions.unresolved_asset_job_definition import (
    UnresolvedAssetJobDefinition as AssetJob,
)
from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.runs.sql_run_storage import SqlRunStorage
from dagster_postgres.utils import DagsterPostgresException
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from kargo_dagster.defs.dagster_internals.asset_reads import AssetReads
from kargo_dagster.defs.dagster_internals.rows import (
    RESTATED,
    CheckRow,
    EventRow,
    ObservationRow,
    RunRow,
    unreachable,
)
from kargo_dagster.defs.dagster_internals.run_reads import RunReads
from kargo_dagster.errors import InstanceError

PRIVATE_SYMBOLS = (
    "dagster._core.definitions.unresolved_asset_job_definition.UnresolvedAssetJobDefinition",
    "dagster._core.storage.event_log.schema.SqlEventLogStorageTable",
    "dagster._core.storage.event_log.schema.AssetCheckExecutionsTable",
    "dagster._core.storage.event_log.schema.DynamicPartitionsTable",
    "dagster._core.storage.event_log.schema.AssetKeyTable",
    "dagster._core.storage.runs.schema.RunsTable",
    "dagster._core.storage.runs.schema.RunTagsTable",
    "dagster._core.storage.event_log.sql_event_log.SqlEventLogStorage.index_connection",
    "dagster._core.storage.event_log.sqlite.sqlite_event_log.SqliteEventLogStorage",
    "dagster._core.storage.runs.sql_run_storage.SqlRunStorage.connect",
    "dagster.DagsterInstance.add_run_tags",
    "dagster._core.storage.event_log.base.EventLogStorage.get_pool_limits",
    "dagster._core.storage.event_log.base.EventLogStorage.initialize_concurrency_limit_to_default",
    "dagster.DagsterInstance.global_op_concurrency_default_limit",
    "dagster.DagsterInstance.get_backfill",
    "dagster.DagsterInstance.report_dagster_event",
    "dagster._core.events.DagsterEvent",
    "dagster._core.events.DagsterEventType.ASSET_MATERIALIZATION_PLANNED",
    "dagster._core.events.AssetMaterializationPlannedData",
    "dagster._core.execution.backfill.PartitionBackfill.asset_backfill_data",
    "dagster._core.definitions.assets.graph.asset_graph_subset.AssetGraphSubset.partitions_subsets_by_asset_key",
    "dagster.DagsterInstance.handle_new_event",
)

__all__ = [
    "RESTATED",
    "AssetJob",
    "CheckRow",
    "EventRow",
    "ObservationRow",
    "RunRow",
    "StorageSession",
    "add_run_tags",
    "backfill_partitions",
    "default_pool_limit",
    "initialize_pools",
    "mark_partition_attempt_failed",
    "pool_limits",
    "restate_verdicts",
    "storage_session",
    "unreachable",
]


# A PostgreSQL statement that runs longer than this is a sick database, not a big Project:
# end it with an error that names the instance rather than hang a sensor tick.
_STATEMENT_TIMEOUT_MS = 30_000


class StorageSession(AssetReads, RunReads):
    """Open connections to an instance's event log and run storage, and the bulk reads.

    Build it with :func:`storage_session`. Every method is one SQL statement.
    """


@contextmanager
def storage_session(instance: dg.DagsterInstance) -> Iterator[StorageSession]:
    """Connections to ``instance``'s storage for a batch of bulk reads: one per database.

    Raises:
        InstanceError: The storage is not one kargo-dagster can read (not SQL), or its
            database cannot be reached; the message names the instance, never a password.
    """
    events = instance.event_log_storage
    runs = instance.run_storage
    name = _describe(instance)
    if not isinstance(events, SqlEventLogStorage) or not isinstance(runs, SqlRunStorage):
        raise InstanceError(
            f"the Dagster instance {name} keeps its events or runs in "
            f"{type(events).__name__}/{type(runs).__name__}; kargo-dagster reads state from "
            "Dagster's SQL storages (SQLite, PostgreSQL, MySQL)"
        )
    with ExitStack() as stack:
        with _reachable(name):
            index = stack.enter_context(events.index_connection())
            same = _url(events) is not None and _url(events) == _url(runs)
            run_connection = index if same else stack.enter_context(runs.connect())
            if index.dialect.name == "postgresql":
                index.execute(sa.text(f"SET statement_timeout = {_STATEMENT_TIMEOUT_MS}"))
        session = StorageSession(
            index, run_connection, isinstance(events, SqliteEventLogStorage), name
        )
        try:
            yield session
        finally:
            if index.dialect.name == "postgresql":
                # The connection may go back to a pool the webserver shares.
                _reset_timeout(index)


@contextmanager
def _reachable(name: str) -> Iterator[None]:
    """Turn a database that cannot be reached into an :class:`InstanceError` naming the
    instance ``name`` (never its password)."""
    try:
        yield
    except (OperationalError, DagsterPostgresException) as error:
        # Dagster's PostgreSQL storage retries connecting, then raises its own error.
        cause = error if isinstance(error, OperationalError) else error.__cause__
        raise InstanceError(unreachable(name, cause)) from None


def _reset_timeout(connection: sa.Connection) -> None:
    try:
        connection.execute(sa.text("RESET statement_timeout"))
    except SQLAlchemyError:
        pass


def _url(storage: object) -> str | None:
    url = getattr(storage, "postgres_url", None) or getattr(storage, "mysql_url", None)
    return str(url) if url else None


def _describe(instance: dg.DagsterInstance) -> str:
    url = _url(instance.event_log_storage)
    if url is not None:
        parsed = sa.engine.make_url(url)
        # Never the password: only where the database is.
        where = f"{parsed.drivername}://{parsed.host or 'localhost'}:{parsed.port or ''}"
        return f"({where}/{parsed.database})"
    return f"({instance.root_directory})"


def add_run_tags(instance: dg.DagsterInstance, run_id: str, tags: Mapping[str, str]) -> None:
    """Add ``tags`` to a run that is already going, keeping the tags it was launched with."""
    instance.add_run_tags(run_id, dict(tags))


def pool_limits(instance: dg.DagsterInstance) -> dict[str, int]:
    """The limits set on single pools in ``instance`` (not those a default gives).

    Raises:
        InstanceError: The instance's database cannot be reached.
    """
    with _reachable(_describe(instance)):
        limits = instance.event_log_storage.get_pool_limits()
    return {limit.name: limit.limit for limit in limits if not limit.from_default}


def default_pool_limit(instance: dg.DagsterInstance) -> int | None:
    """The limit a pool without one of its own gets (``concurrency.pools.default_limit``)."""
    return instance.global_op_concurrency_default_limit


def initialize_pools(instance: dg.DagsterInstance, pools: Iterable[str]) -> list[str]:
    """Give each of ``pools`` that lacks its limit the instance's default one; return those.

    A run claims its pool before its step starts, and the first run into a pool writes the
    pool's default limit. On PostgreSQL two runs writing it at once make one of them fail
    before any of its code runs (dagster-io/dagster#33552); Dagster's run queue writes the
    limits before it launches runs, but runs launched without the queue do not. The sensors
    write them here first, from one process. Another process writing the same limit at the
    same moment is not an error: its limit is the same.

    Raises:
        InstanceError: The instance's database cannot be reached.
    """
    default = default_pool_limit(instance)
    if default is None:
        return []
    storage = instance.event_log_storage
    with _reachable(_describe(instance)):
        limits = {limit.name: limit for limit in storage.get_pool_limits()}
    missing = [
        pool
        for pool in dict.fromkeys(pools)
        if pool not in limits or (limits[pool].from_default and limits[pool].limit != default)
    ]
    for pool in missing:
        try:
            storage.initialize_concurrency_limit_to_default(pool)
        except SQLAlchemyError:
            # Written by another process between our read and our write.
            continue
    return missing


def backfill_partitions(
    instance: dg.DagsterInstance, backfill_id: str, asset_key: dg.AssetKey
) -> list[str] | None:
    """The partitions of ``asset_key`` that backfill ``backfill_id`` targets, None if unknown."""
    backfill = instance.get_backfill(backfill_id)
    data = backfill.asset_backfill_data if backfill is not None else None
    if data is None:
        return None
    subset = data.target_subset.partitions_subsets_by_asset_key.get(asset_key)
    return list(subset.get_partition_keys()) if subset is not None else None


def mark_partition_attempt_failed(
    instance: dg.DagsterInstance, run: dg.DagsterRun, asset_key: dg.AssetKey, partition: str
) -> None:
    """Make ``partition`` of ``asset_key`` show as failed once ``run`` ends failed.

    Dagster shows a partition failed when its latest planned materialization never came in a
    run that failed; a Freight that failed its health or verification in a Stage was
    materialized (the Stage does hold it), so it would stay green. Planning one more
    materialization in the run, which the failing run never makes, turns it red until the
    Freight is promoted there again.
    """
    from dagster._core.events import (
        AssetMaterializationPlannedData,
        DagsterEvent,
        DagsterEventType,
    )

    instance.report_dagster_event(
        DagsterEvent(
            event_type_value=DagsterEventType.ASSET_MATERIALIZATION_PLANNED.value,
            job_name=run.job_name,
            event_specific_data=AssetMaterializationPlannedData(asset_key, partition=partition),
        ),
        run_id=run.run_id,
    )


def restate_verdicts(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    asset_key: dg.AssetKey,
    checks: Collection[str],
    why: str,
) -> list[str]:
    """Record again, in ``run``, the verdicts of ``checks`` on the Freight ``asset_key`` holds.

    Dagster's graph shows an asset's checks as their newest executions, whatever partition
    they were for. A promotion that changes nothing (refused, superseded or failed) plans its
    checks all the same and they end skipped, so the Stage would show its checks not passed
    although the Freight it still holds passed them. Each verdict is stored again as it was
    (passed or failed, the promotion it judged, when), saying why under :data:`RESTATED`,
    so it is the newest again. Returns the checks restated: none when the Stage holds no
    Freight or its promotion was not judged yet.
    """
    from dagster._core.events import DagsterEvent

    with storage_session(instance) as session:
        held = session.latest_materializations([asset_key]).get(asset_key)
        if held is None or held.partition is None:
            return []
        entries = session.verdict_entries(asset_key, checks, held.storage_id)
    note = (
        f"The verdict on Freight {held.partition}, which the Stage still holds, stored again "
        f"because run {run.run_id} promoted nothing: {why}"
    )
    restated: list[str] = []
    for check, entry in entries.items():
        event = entry.dagster_event
        verdict = event.asset_check_evaluation_data if event is not None else None
        if verdict is None:
            continue
        again = dg.AssetCheckEvaluation(
            asset_key=verdict.asset_key,
            check_name=verdict.check_name,
            passed=verdict.passed,
            metadata={**verdict.metadata, RESTATED: dg.MetadataValue.text(note)},
            target_materialization_data=verdict.target_materialization_data,
            severity=verdict.severity,
            description=verdict.description,
            blocking=verdict.blocking,
            partition=verdict.partition,
        )
        instance.handle_new_event(
            dg.EventLogEntry(
                error_info=None,
                level=logging.INFO,
                user_message="",
                run_id=run.run_id,
                # The verdict's own time: when the Freight was judged, not when restated.
                timestamp=entry.timestamp,
                job_name=run.job_name,
                dagster_event=DagsterEvent(
                    event_type_value=dg.DagsterEventType.ASSET_CHECK_EVALUATION.value,
                    job_name=run.job_name,
                    event_specific_data=again,
                    message=note,
                ),
            )
        )
        restated.append(check)
    return restated
