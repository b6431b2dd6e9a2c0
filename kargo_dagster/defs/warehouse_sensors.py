"""The Warehouse sensor: discovers artifacts on an interval and records new Freight.

One sensor per Warehouse, running by default like Kargo's Warehouse reconciler. Each tick runs
one discovery pass; when the top version of every subscription makes Freight that does not
exist yet, the sensor adds the partition and then reports the Warehouse's materialization for
it (``record_freight``). A tick that fails names the failing subscription, keeps every Freight
already recorded, and backs off: the next attempts wait longer each time, up to an hour, or as
long as the repository asked (``Retry-After``).
"""

import os
import time
from datetime import UTC, datetime
from typing import Literal

import dagster as dg
from pydantic import BaseModel, ConfigDict, ValidationError

from kargo_dagster.defs.freight_store import record_new_freight
from kargo_dagster.defs.names import dagster_identifier
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.defs.stage_pools import ensure_stage_pools
from kargo_dagster.discovery.subscribers import build_subscribers, subscriber_pool
from kargo_dagster.discovery.warehouse import Subscribers, WarehouseDiscovery, discover_warehouse
from kargo_dagster.spec import ProjectManifests, Warehouse

MIN_INTERVAL_ENV = "KARGO_DAGSTER_MIN_WAREHOUSE_INTERVAL"
DEFAULT_MIN_INTERVAL_SECONDS = 30
MAX_BACKOFF_SECONDS = 3600


class WarehouseCursor(BaseModel):
    """What a Warehouse sensor remembers between ticks (stored as JSON in the tick).

    Attributes:
        version: The record's layout; a cursor of another version is discarded.
        last_freight_id: The Freight ID the sensor last recorded (or found already recorded).
        failures: Consecutive failed ticks.
        retry_at: While backing off, the Unix time before which ticks do nothing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    last_freight_id: str | None = None
    failures: int = 0
    retry_at: float | None = None

    @classmethod
    def parse(cls, raw: str | None) -> tuple["WarehouseCursor", bool]:
        """The cursor in ``raw``, and whether it was readable (an unreadable one starts over).

        Starting over is safe: Freight is recorded by ID, so nothing is created twice.
        """
        if not raw:
            return cls(), True
        try:
            return cls.model_validate_json(raw), True
        except ValidationError:
            return cls(), False


def minimum_interval_seconds(warehouse: Warehouse, floor: int | None = None) -> int:
    """The sensor interval: the Warehouse's ``spec.interval``, but never below the floor.

    The floor defaults to ``$KARGO_DAGSTER_MIN_WAREHOUSE_INTERVAL`` or 30 seconds (Kargo's
    operators default it to five minutes).
    """
    if floor is None:
        floor = int(os.environ.get(MIN_INTERVAL_ENV, DEFAULT_MIN_INTERVAL_SECONDS))
    return max(int(warehouse.spec.interval.total_seconds()), floor)


def backoff_seconds(failures: int, interval: int, retry_after: float | None) -> float:
    """How long to wait after ``failures`` consecutive failures: doubling, capped at an hour."""
    delay = min(interval * 2 ** max(failures - 1, 0), MAX_BACKOFF_SECONDS)
    return max(delay, retry_after or 0.0)


def subscribers_for(kargo: KargoResource, project: str, warehouse: str) -> Subscribers:
    """The Warehouse's subscribers, kept for the life of the process (their caches matter)."""
    return subscriber_pool.get(
        (project, warehouse, id(kargo)),
        lambda: build_subscribers(
            credentials=kargo.credential_store(project),
            work_dir=kargo.resolved_work_dir(),
            insecure_registries=kargo.insecure_registries,
            timeout=kargo.request_timeout_seconds,
            deadline=kargo.request_deadline_seconds,
        ),
    )


def sensor_name(project: str, warehouse: str) -> str:
    """The sensor's name: ``<project>__<warehouse>__discovery`` with ``-`` → ``_``."""
    return f"{dagster_identifier(project)}__{dagster_identifier(warehouse)}__discovery"


def build_warehouse_sensor(
    *,
    project: ProjectManifests,
    warehouse: Warehouse,
    kargo: KargoResource,
    min_interval_seconds: int | None = None,
) -> dg.SensorDefinition:
    """The discovery sensor of one Warehouse.

    The sensor reads ``kargo`` directly rather than asking Dagster to build it each tick:
    building a resource costs several times what a quiet discovery tick does.
    """
    name = warehouse.metadata.name
    interval = minimum_interval_seconds(warehouse, min_interval_seconds)

    @dg.sensor(
        name=sensor_name(project.name, name),
        minimum_interval_seconds=interval,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            f"Discovers new artifacts for Warehouse {name} every {interval}s and records each "
            "new set as Freight (a partition of the Warehouse asset)."
        ),
    )
    def discover(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        cursor, readable = WarehouseCursor.parse(context.cursor)
        for pool in ensure_stage_pools(context.instance, project):
            context.log.info(f"Concurrency pool {pool} gets the instance's default limit.")
        if not readable:
            context.log.warning("The cursor could not be read; discovery starts over.")
        now = time.time()
        if cursor.retry_at is not None and now < cursor.retry_at:
            until = datetime.fromtimestamp(cursor.retry_at, UTC).strftime("%H:%M:%S UTC")
            return dg.SensorResult(
                skip_reason=f"Backing off after {cursor.failures} failed tick(s) until {until}.",
                cursor=cursor.model_dump_json(),
            )
        subscribers = subscribers_for(kargo, project.name, name)
        requests_before = subscribers.requests_made()
        result = discover_warehouse(
            warehouse, subscribers, budget_seconds=kargo.discovery_budget_seconds
        )
        _log_outcomes(context, result)
        context.log.info(f"{subscribers.requests_made() - requests_before} HTTP request(s)")
        if result.failed:
            failures = cursor.failures + 1
            delay = backoff_seconds(failures, interval, result.retry_after)
            message = (
                f"Discovery for Warehouse {name} failed: {'; '.join(result.errors)}. "
                f"Existing Freight is unchanged; retrying in {int(delay)}s."
            )
            context.log.error(message)
            failed = cursor.model_copy(update={"failures": failures, "retry_at": now + delay})
            return dg.SensorResult(skip_reason=message, cursor=failed.model_dump_json())
        healthy = cursor.model_copy(update={"failures": 0, "retry_at": None})
        if result.freight is None:
            return dg.SensorResult(skip_reason=result.note, cursor=healthy.model_dump_json())
        freight = result.freight
        key = freight.partition_key
        # The cursor remembers the Freight last recorded, which spares a query on quiet ticks;
        # a fresh or unreadable cursor asks the instance, which never records Freight twice.
        created = freight.id != cursor.last_freight_id and record_new_freight(
            context.instance, project.name, freight, links=project.freight_links
        )
        done = healthy.model_copy(update={"last_freight_id": freight.id})
        if not created:
            # Freight recorded before keys showed versions keeps its alias as key: name both.
            reason = (
                f"No new Freight: the newest artifacts are Freight {key} "
                f"(alias {freight.alias}), already recorded."
            )
        else:
            reason = f"Created Freight {key} (ID {freight.id}) in Warehouse {name}."
            context.log.info(reason)
        return dg.SensorResult(skip_reason=reason, cursor=done.model_dump_json())

    return discover


def _log_outcomes(context: dg.SensorEvaluationContext, result: WarehouseDiscovery) -> None:
    for outcome in result.outcomes:
        if outcome.error:
            context.log.error(f"{outcome.label}: {outcome.error}")
            continue
        best = outcome.found[0].to_freight() if outcome.found else None
        context.log.info(
            f"{outcome.label}: {len(outcome.found)} version(s) in {outcome.seconds:.2f}s"
            + (f"; best {best.model_dump(by_alias=True, exclude_defaults=True)}" if best else "")
        )
