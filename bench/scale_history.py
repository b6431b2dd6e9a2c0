"""Populating a PostgreSQL Dagster instance with the scale bench's history.

What a real deployment of the synthetic Project would hold after F Freight: the Warehouse's
partitions and Freight records, every promotion run with its events and check states, the
per-Stage job snapshots of those runs, a few approvals and holds, and a few promotions still
queued. How each part is written, and which Dagster API (public or private) does it:

- Freight: the partitions with one ``instance.add_dynamic_partitions`` call (then their
  creation times set to when each Freight was discovered); each record is the
  ``AssetMaterialization`` ``freight_store.record_new_freight`` reports, built with its
  ``freight_metadata`` and stored as ``report_dagster_event`` would store it, at the time of
  discovery (``EventLogEntry``, ``DagsterEvent``, ``StepMaterializationData``: private).
- Promotion runs: the templates of real runs (:mod:`scale_templates`), filled in for each run
  (:mod:`scale_generator`) and loaded in bulk (:mod:`scale_writer`); their job and execution
  plan snapshots through ``run_storage.add_job_snapshot`` / ``add_execution_plan_snapshot``,
  built as ``create_run`` builds them (``create_execution_plan``,
  ``snapshot_from_execution_plan``: private).
- ``asset_keys``: ``event_log_storage.store_asset_event`` with each asset's newest events.
- Approvals, holds: ``approvals.approve_freight`` and ``holds.place_hold``, now.
- Queued promotions: ``instance.create_run`` (as the sensor daemon does) and the queued run
  coordinator's ``RUN_ENQUEUED`` event (``DagsterEvent.job_enqueue``: private).
"""

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg2
import psycopg2.extras
import scale_project as sp
import scale_writer as sw
from dagster._core.events import DagsterEvent
from dagster._core.events.log import EventLogEntry
from dagster._core.execution.api import create_execution_plan
from dagster._core.snap import snapshot_from_execution_plan
from dagster._serdes import deserialize_value
from scale_generator import Generator, Latest
from scale_holes import Templates
from scale_templates import job_origin

from kargo_dagster import load_definitions
from kargo_dagster.defs.approvals import approve_freight
from kargo_dagster.defs.holds import place_hold
from kargo_dagster.freight import Freight
from kargo_dagster.spec import ProjectManifests

__all__ = ["Populated", "populate"]

PARTITIONS = f"{sp.PROJECT}/{sp.WAREHOUSE}"


@dataclass
class Populated:
    """What was written, and how long each part took (``copy``: the loader thread's ``COPY``
    time, which overlaps ``history``, the time to generate and load the runs)."""

    runs: int = 0
    events: int = 0
    freight: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def populate(
    instance: dg.DagsterInstance,
    connect: dict[str, Any],
    manifests: Path,
    project: ProjectManifests,
    templates: Templates,
    *,
    stages: int,
    freight_count: int,
    now: float,
) -> Populated:
    """Write the whole history into ``instance`` (whose database ``connect`` opens)."""
    done = Populated()
    clock = time.perf_counter()
    history = sp.plan_history(stages, freight_count, now)
    names = sp.stage_names(stages)
    defs = load_definitions(manifests)
    snapshots = _persist_snapshots(instance, defs, names)
    done.seconds["snapshots"] = time.perf_counter() - clock

    clock = time.perf_counter()
    freight = [sp.freight(i) for i in range(freight_count)]
    _add_partitions(instance, connect, freight, history.freight_times)
    writer = sw.BulkWriter(connect)
    generator = Generator(writer, templates, freight, snapshots, random.Random(freight_count))
    try:
        for kind, item in _timeline(history):
            if kind == "freight":
                generator.freight(item, history.freight_times[item])
            else:
                generator.run(item)
    finally:
        done.seconds["copy"] = writer.close()
    done.runs, done.events, done.freight = generator.runs, generator.events, freight_count
    done.seconds["history"] = time.perf_counter() - clock

    clock = time.perf_counter()
    _asset_keys(instance, generator.latest)
    _approvals_and_holds(instance, project, generator, names)
    done.runs += _queued_runs(instance, defs, generator, names)
    done.seconds["finish"] = time.perf_counter() - clock
    return done


def _timeline(history: sp.History) -> Iterator[tuple[str, Any]]:
    """Freight discoveries and promotion runs, oldest first."""
    runs = iter(history.runs)
    pending = next(runs, None)
    for index, created in enumerate(history.freight_times):
        while pending is not None and pending.at < created:
            yield "run", pending
            pending = next(runs, None)
        yield "freight", index
    while pending is not None:
        yield "run", pending
        pending = next(runs, None)


def _persist_snapshots(
    instance: dg.DagsterInstance, defs: dg.Definitions, names: list[str]
) -> dict[str, tuple[str, str]]:
    """Each Stage's promotion job snapshot and execution plan snapshot, stored once."""
    job = defs.resolve_implicit_global_asset_job_def()
    checks = defs.resolve_asset_graph().asset_check_keys
    storage = instance.run_storage
    snapshots: dict[str, tuple[str, str]] = {}
    parent_stored = False
    for name in names:
        key = dg.AssetKey([sp.PROJECT, "stage", name])
        subset = job.get_subset(
            asset_selection={key}, asset_check_selection={c for c in checks if c.asset_key == key}
        )
        job_snapshot = subset.get_job_snapshot()
        if not parent_stored:
            parent = subset.get_parent_job_snapshot()
            if parent is not None and not storage.has_job_snapshot(parent.snapshot_id):
                storage.add_job_snapshot(parent)
            parent_stored = True
        job_id = job_snapshot.snapshot_id
        if not storage.has_job_snapshot(job_id):
            storage.add_job_snapshot(job_snapshot)
        plan = create_execution_plan(subset, run_config={})
        plan_id = storage.add_execution_plan_snapshot(snapshot_from_execution_plan(plan, job_id))
        snapshots[name] = (job_id, plan_id)
    return snapshots


def _add_partitions(
    instance: dg.DagsterInstance,
    connect: dict[str, Any],
    freight: list[Freight],
    times: list[float],
) -> None:
    """The Freight partitions, in discovery order, created when each was discovered."""
    keys = [f.partition_key for f in freight]
    instance.add_dynamic_partitions(PARTITIONS, keys)
    connection = psycopg2.connect(**connect)
    try:
        with connection, connection.cursor() as cursor:
            psycopg2.extras.execute_values(
                cursor,
                "UPDATE dynamic_partitions AS d SET create_timestamp = v.at::timestamp"
                " FROM (VALUES %s) AS v(name, key, at)"
                " WHERE d.partitions_def_name = v.name AND d.partition = v.key",
                [(PARTITIONS, k, sw.naive_utc(t)) for k, t in zip(keys, times, strict=True)],
                page_size=5000,
            )
    finally:
        connection.close()


def _asset_keys(instance: dg.DagsterInstance, latest: dict[str, Latest]) -> None:
    """Each asset's ``asset_keys`` row, as storing its newest events left it."""
    storage = instance.event_log_storage
    for asset in latest.values():
        for event_id, body in sorted(asset.events.values()):
            storage.store_asset_event(deserialize_value(body, EventLogEntry), event_id)


def _approvals_and_holds(
    instance: dg.DagsterInstance, project: ProjectManifests, generator: Generator, names: list[str]
) -> None:
    """A few approvals (for ``staging`` and some fan-out Stages) and two holds, made now."""
    newest = [f.partition_key for f in generator.freight_list[-3:]]
    for key in newest:
        approve_freight(instance, project, stage="staging", partition_key=key, actor="alice")
    for name in names[2:5]:
        approve_freight(instance, project, stage=name, partition_key=newest[-1], actor="bob")
    for name in names[5:7]:
        current = generator.current.get(name)
        if current is not None:
            place_hold(
                instance,
                dg.AssetKey([sp.PROJECT, "stage", name]),
                generator.freight_list[current[0]].partition_key,
                reason="change freeze for the regional launch",
                actor="carol",
            )


def _queued_runs(
    instance: dg.DagsterInstance, defs: dg.Definitions, generator: Generator, names: list[str]
) -> int:
    """Promotions the sensor asked for that wait in the queue: ``staging`` the newest Freight
    verified in ``dev``, two fan-out Stages the newest verified in ``staging``."""
    statuses = generator.statuses
    verified_dev = [i for (s, i), o in statuses.items() if s == "dev" and o == "success"]
    verified_staging = [i for (s, i), o in statuses.items() if s == "staging" and o == "success"]
    wanted = [("staging", max(verified_dev))] if verified_dev else []
    if verified_staging:
        wanted += [(name, max(verified_staging)) for name in names[7:9]]
    job = defs.resolve_implicit_global_asset_job_def()
    all_checks = defs.resolve_asset_graph().asset_check_keys
    for stage, index in wanted:
        key = dg.AssetKey([sp.PROJECT, "stage", stage])
        checks = {c for c in all_checks if c.asset_key == key}
        subset = job.get_subset(asset_selection={key}, asset_check_selection=checks)
        partition = generator.freight_list[index].partition_key
        current = generator.current.get(stage)
        tags = {
            "dagster/partition": partition,
            "dagster/sensor_name": f"{sp.PROJECT.replace('-', '_')}__auto_promotion",
            "dagster/run_key": f"{sp.PROJECT}/{stage}/{partition}/after/"
            + (current[1] if current else "-"),
            "dagster/tick": str(generator.tick + 1),
            "kargo/project": sp.PROJECT,
            "kargo/stage": stage,
            "kargo/freight": partition,
            "kargo/action": "auto-promote",
            "kargo/actor": sp.ACTOR,
        }
        plan = create_execution_plan(subset, run_config={}, tags=tags)
        run = instance.create_run(
            job_name=subset.name,
            run_id=None,
            run_config={},
            op_selection=None,
            asset_selection=frozenset({key}),
            asset_check_selection=frozenset(checks),
            resolved_op_selection=None,
            step_keys_to_execute=plan.step_keys_to_execute,
            status=dg.DagsterRunStatus.NOT_STARTED,
            tags=tags,
            root_run_id=None,
            parent_run_id=None,
            job_snapshot=subset.get_job_snapshot(),
            execution_plan_snapshot=snapshot_from_execution_plan(
                plan, subset.get_job_snapshot_id()
            ),
            parent_job_snapshot=subset.get_parent_job_snapshot(),
            remote_job_origin=job_origin(),
            job_code_origin=None,
            asset_graph=subset.asset_layer.asset_graph,
        )
        instance.report_dagster_event(DagsterEvent.job_enqueue(run), run_id=run.run_id)
    return len(wanted)
