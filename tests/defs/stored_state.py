"""Reading back everything a Dagster instance stored, to look for what must never be there."""

import dagster as dg
from dagster._serdes import serialize_value

from tests.conftest import stored_bytes

__all__ = ["everything_stored", "stored_bytes"]


def everything_stored(instance: dg.DagsterInstance) -> bytes:
    """:func:`stored_bytes`, and each run's job and execution plan snapshots, decompressed.

    Dagster keeps snapshots zlib-compressed, so the raw bytes of its storage would not show a
    value that ended up in one (a resource's configuration is part of the job's snapshot).
    """
    chunks = [stored_bytes(instance)]
    for run in instance.get_runs():
        chunks.append(serialize_value(run).encode())
        if run.job_snapshot_id:
            chunks.append(serialize_value(instance.get_job_snapshot(run.job_snapshot_id)).encode())
        if run.execution_plan_snapshot_id:
            plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
            chunks.append(serialize_value(plan).encode())
    return b"\n".join(chunks)
