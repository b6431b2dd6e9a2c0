"""Reading a Project's state costs the same statements whatever its size, and bad history is
reported, not a crash.

The statement counts are a structural property (no query per Stage or per Freight), checked
by running the same reads on a small and a larger history of real promotions.
"""

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg2
import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.pool import Pool

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.cli import main
from kargo_dagster.defs.approvals import approve_freight
from kargo_dagster.defs.availability_facts import evaluate_availability
from kargo_dagster.defs.history import collect_history
from kargo_dagster.defs.status_report import collect_status
from kargo_dagster.errors import InstanceError
from kargo_dagster.spec import load_manifests
from tests.conftest import PG_HOST, PG_PORT, PG_USER, postgres_storage
from tests.defs.promotions import declined, promote
from tests.defs.test_pipeline_state import app_freight
from tests.manifests import project, project_config, requested, stage, warehouse, write_manifests


def pipeline(path: Path, regions: int, *, warehouse_name: str = "app") -> Path:
    """dev -> staging -> ``regions`` Stages that want an hour of soak in staging."""
    soak = {"stages": ["staging"], "requiredSoakTime": "1h"}
    origin = {"kind": "Warehouse", "name": warehouse_name}
    return write_manifests(
        path,
        project("eq"),
        project_config("eq", auto_promote=["glob:*"]),
        warehouse(warehouse_name, "eq", image="registry.example.com/eq/app"),
        stage("dev", "eq", requested=[requested(warehouse_name)]),
        stage("staging", "eq", requested=[requested(warehouse_name, stages=["dev"])]),
        *(
            stage(f"region-{n}", "eq", requested=[{"origin": origin, "sources": soak}])
            for n in range(regions)
        ),
    )


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["eq", "stage", name])


def grow(path: Path, instance: dg.DagsterInstance, regions: int, freight: int) -> list[str]:
    """Promote ``freight`` Freight into dev, every other one into staging, and the newest
    (approved) into every region."""
    defs = load_definitions(path)
    project = load_manifests(path).projects["eq"]
    keys = [record_freight(instance, "eq", app_freight(f"v{n}.0.0")) for n in range(freight)]
    for index, partition in enumerate(keys):
        assert promote(defs, instance, key("dev"), partition).success
        if index % 2 == 0:
            assert promote(defs, instance, key("staging"), partition).success
    for n in range(regions):
        approve_freight(instance, project, stage=f"region-{n}", partition_key=keys[0], actor="a")
        assert promote(defs, instance, key(f"region-{n}"), keys[0]).success
    # One refused promotion per history (its Freight never verified upstream).
    refused = promote(defs, instance, key("region-0"), keys[-1])
    assert "not available" in declined(instance, refused, "refused")
    return keys


@contextmanager
def counting() -> Iterator[list[str]]:
    """The SQL statements executed inside the block, on any engine; a connection opened is
    counted as a statement ``connect``."""
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    def connect(*args: Any) -> None:
        statements.append("connect")

    event.listen(Engine, "before_cursor_execute", count)
    event.listen(Pool, "connect", connect)
    try:
        yield statements
    finally:
        event.remove(Engine, "before_cursor_execute", count)
        event.remove(Pool, "connect", connect)


def costs(path: Path, instance: dg.DagsterInstance, freight: list[str]) -> dict[str, list[str]]:
    """Statements per read: status, each sensor's busy and quiet tick, the gate, history."""
    catalog = load_manifests(path)
    project = catalog.projects["eq"]
    defs = load_definitions(path)
    found: dict[str, list[str]] = {}
    with counting() as statements:
        collect_status(instance, catalog)
    found["status"] = statements
    for sensor in ("eq__auto_promotion", "eq__freight_status"):
        definition = defs.resolve_sensor_def(sensor)
        with counting() as statements:
            busy = definition.evaluate_tick(
                dg.build_sensor_context(instance=instance, definitions=defs)
            )
        found[sensor] = statements
        # Stored as the daemon stores them: the sensor's own observations change nothing.
        for observation in busy.asset_events:
            instance.report_runless_asset_event(observation)
        with counting() as statements:
            quiet = definition.evaluate_tick(
                dg.build_sensor_context(instance=instance, definitions=defs, cursor=busy.cursor)
            )
        found[f"{sensor} quiet"] = statements
        assert not quiet.run_requests and quiet.cursor == busy.cursor
        assert "nothing changed since the last tick" in str(quiet.skip_message)
    [request] = project.stages["region-1"].spec.requested_freight
    with counting() as statements:
        evaluate_availability(instance, project, "region-1", request, freight[-1])
    found["gate"] = statements
    with counting() as statements:
        collect_history(instance, "eq", "dev")
    found["history"] = statements
    return found


def test_reads_cost_the_same_statements_at_any_size(tmp_path, instance):
    small = grow(pipeline(tmp_path / "small.yaml", 2), instance, regions=2, freight=3)
    small_costs = costs(tmp_path / "small.yaml", instance, small)

    with _another(instance) as overrides, dg.instance_for_test(overrides=overrides) as larger:
        big = grow(pipeline(tmp_path / "big.yaml", 6), larger, regions=6, freight=9)
        big_costs = costs(tmp_path / "big.yaml", larger, big)

    assert {read: len(done) for read, done in big_costs.items()} == {
        read: len(done) for read, done in small_costs.items()
    }
    # One connection per storage database: one on PostgreSQL; SQLite keeps runs apart.
    databases = 1 if _on_postgres(instance) else 2
    for read, statements in small_costs.items():
        assert statements.count("connect") <= databases, read
    # A quiet tick reads the watermark and stops.
    assert len(small_costs["eq__auto_promotion quiet"]) <= 7
    assert len(small_costs["eq__freight_status quiet"]) <= 7


def _on_postgres(instance: dg.DagsterInstance) -> bool:
    return getattr(instance.event_log_storage, "postgres_url", None) is not None


@contextmanager
def _another(instance: dg.DagsterInstance) -> Iterator[dict]:
    """The overrides for a second, empty instance on the same kind of storage."""
    if not _on_postgres(instance):
        yield {}
        return
    database = f"kargo_dagster_test_{uuid.uuid4().hex[:12]}"
    connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{database}"')
    try:
        yield postgres_storage(database)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        connection.close()


def test_history_that_does_not_fit_is_reported_not_a_crash(tmp_path, instance, monkeypatch, capsys):
    path = pipeline(tmp_path / "stages.yaml", 1)
    freight = grow(path, instance, regions=1, freight=3)
    # A run that is no promotion, and Freight whose partition is gone.
    instance.add_run(dg.DagsterRun(job_name="other", run_id=str(uuid.uuid4()), tags={"x": "y"}))
    instance.delete_dynamic_partition("eq/app", freight[0])
    report = collect_status(instance, load_manifests(path))
    [problem] = report["projects"][0]["problems"]
    assert f"eq/stage/region-0 holds {freight[0]}" in problem
    assert "no record" in problem

    # The Warehouse renamed: what the Stages hold is not its Freight.
    renamed = pipeline(tmp_path / "renamed.yaml", 1, warehouse_name="images")
    monkeypatch.setenv("DAGSTER_HOME", str(instance.root_directory))
    assert main(["status", "--path", str(renamed), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    problems = report["projects"][0]["problems"]
    assert len(problems) == 3 and all("Warehouse images" in p for p in problems)

    # A wiped event log: nothing is held, nothing fails.
    instance.wipe_assets([key(name) for name in ("dev", "staging", "region-0")])
    report = collect_status(instance, load_manifests(path))
    assert [s["freight"] for s in report["projects"][0]["stages"]] == [None, None, None]
    assert report["projects"][0]["problems"] == []


@pytest.mark.postgres
def test_an_unreachable_database_is_named_without_its_password(tmp_path, postgres_database):
    storage = postgres_storage(postgres_database)
    storage["storage"]["postgres"]["postgres_db"]["password"] = "s3cret-pw"
    path = pipeline(tmp_path / "stages.yaml", 1)
    with dg.instance_for_test(overrides=storage) as instance:
        connection = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE "{postgres_database}" WITH (FORCE)')
        connection.close()
        with pytest.raises(InstanceError) as raised:
            collect_status(instance, load_manifests(path))
    message = str(raised.value)
    assert f"{PG_HOST}:{PG_PORT}/{postgres_database}" in message
    assert "does not exist" in message
    assert "s3cret-pw" not in message
