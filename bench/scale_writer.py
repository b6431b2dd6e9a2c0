"""Writing Freight records and promotion runs into a Dagster PostgreSQL database in bulk.

Dagster's own write path costs a statement or more and a new connection per event (its
PostgreSQL storages use ``NullPool``, and opening a connection takes about 10 ms here): hours
for the 1.4 million events of the full-size history. So the rows Dagster's storage would
write are produced here and loaded with ``COPY``, in transactions of a few hundred runs, by a
thread that loads one batch while the next is being filled:

- ``event_logs``: the serialized events (from :mod:`scale_templates`, or built with Dagster's
  own classes for the Freight records) with the columns ``SqlEventLogStorage._event_to_row``
  derives; storage IDs are reserved from ``event_logs_id_seq`` beforehand, because an
  ``ASSET_CHECK_EVALUATION`` names the storage ID of the materialization it checked;
- ``asset_event_tags``: the ``dagster/data_version`` tag of every materialization (the only tag
  ``get_asset_tags_to_index`` indexes here);
- ``asset_check_executions``: one row per planned check, as ``ASSET_CHECK_EVALUATION_PLANNED``
  inserts it and ``ASSET_CHECK_EVALUATION`` then updates it;
- ``runs`` and ``run_tags``: the run as ``add_run`` inserts it, with the status, times and
  body ``handle_run_event`` leaves after the run's last event.

``asset_keys`` is left to Dagster (``store_asset_event`` with each asset's newest events, see
``scale_history``). Run order, storage IDs and timestamps all increase together, as on a
real instance.
"""

import io
import queue
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import psycopg2

__all__ = ["BulkWriter", "copy_text", "naive_utc"]

_COLUMNS = {
    "runs": (
        "run_id",
        "snapshot_id",
        "pipeline_name",
        "status",
        "run_body",
        "partition",
        "partition_set",
        "create_timestamp",
        "update_timestamp",
        "start_time",
        "end_time",
    ),
    "run_tags": ("run_id", "key", "value"),
    "event_logs": (
        "id",
        "run_id",
        "event",
        "dagster_event_type",
        "timestamp",
        "step_key",
        "asset_key",
        "partition",
    ),
    "asset_event_tags": ("event_id", "asset_key", "key", "value", "event_timestamp"),
    "asset_check_executions": (
        "asset_key",
        "check_name",
        "partition",
        "run_id",
        "execution_status",
        "evaluation_event",
        "evaluation_event_timestamp",
        "evaluation_event_storage_id",
        "materialization_event_storage_id",
        "create_timestamp",
    ),
}


def naive_utc(timestamp: float) -> str:
    """A timestamp as Dagster stores it in PostgreSQL: UTC without a zone."""
    return datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None).isoformat(sep=" ")


def copy_text(value: Any) -> str:
    """One field in ``COPY``'s text format."""
    if value is None:
        return "\\N"
    text = str(value)
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\n" in text or "\t" in text or "\r" in text:
        text = text.replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return text


class _Loader(threading.Thread):
    """Loads the batches it is given, in order, each in one transaction."""

    def __init__(self, connect: Mapping[str, Any]):
        super().__init__(name="scale-copy", daemon=True)
        self._connect = dict(connect)
        self.batches: queue.Queue[dict[str, list[str]] | None] = queue.Queue(maxsize=2)
        self.error: BaseException | None = None
        self.seconds = 0.0

    def run(self) -> None:
        connection = psycopg2.connect(**self._connect)
        try:
            with connection.cursor() as cursor:
                # The bench's own load need not wait for each commit to reach the disk.
                cursor.execute("SET synchronous_commit = off")
            while (batch := self.batches.get()) is not None:
                if self.error is not None:
                    continue
                try:
                    self._load(connection, batch)
                except BaseException as error:  # noqa: BLE001 - reported by BulkWriter.close
                    self.error = error
                    connection.rollback()
        finally:
            connection.close()

    def _load(self, connection: Any, batch: dict[str, list[str]]) -> None:
        started = datetime.now().timestamp()
        with connection.cursor() as cursor:
            for table, columns in _COLUMNS.items():
                lines = batch.get(table)
                if lines:
                    data = io.StringIO("".join(lines))
                    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", data)
        connection.commit()
        self.seconds += datetime.now().timestamp() - started


class BulkWriter:
    """Rows for Dagster's tables, loaded in batches by a background thread."""

    def __init__(self, connect: Mapping[str, Any], *, batch_events: int = 20_000):
        self._sequence = psycopg2.connect(**connect)
        self._sequence.autocommit = True
        self._loader = _Loader(connect)
        self._loader.start()
        self._batch_events = batch_events
        self._batch: dict[str, list[str]] = {table: [] for table in _COLUMNS}
        self._events = 0
        self._next_id = 0
        self._last_id = -1

    def reserve(self, count: int) -> int:
        """The first of ``count`` consecutive ``event_logs`` IDs nobody else will use."""
        if self._next_id + count - 1 > self._last_id:
            block = max(count, 50_000)
            with self._sequence.cursor() as cursor:
                cursor.execute(
                    "SELECT setval('event_logs_id_seq', nextval('event_logs_id_seq') + %s - 1)",
                    (block,),
                )
                (last,) = cursor.fetchone()
            self._next_id, self._last_id = last - block + 1, last
        first = self._next_id
        self._next_id += count
        return first

    def row(self, table: str, *values: Any) -> None:
        """Queue one row of ``table`` (values in the order of its columns here)."""
        self._batch[table].append("\t".join(map(copy_text, values)) + "\n")
        if table == "event_logs":
            self._events += 1

    def end_unit(self) -> None:
        """Mark the end of a run or record: the batch may be loaded now."""
        if self._events >= self._batch_events:
            self.flush()

    def flush(self) -> None:
        """Hand the rows queued so far to the loader."""
        if self._loader.error is not None:
            raise RuntimeError("loading into PostgreSQL failed") from self._loader.error
        if any(self._batch.values()):
            self._loader.batches.put(self._batch)
        self._batch = {table: [] for table in _COLUMNS}
        self._events = 0

    def close(self) -> float:
        """Load what is left and wait for the loader; the seconds it spent loading."""
        self.flush()
        self._loader.batches.put(None)
        self._loader.join()
        self._sequence.close()
        if self._loader.error is not None:
            raise RuntimeError("loading into PostgreSQL failed") from self._loader.error
        return self._loader.seconds
