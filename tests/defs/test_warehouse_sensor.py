"""The Warehouse sensor against a real registry: new tags become exactly one new Freight."""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from kargo_dagster import load_definitions
from kargo_dagster.defs.resources import KargoResource, RepositoryCredentials
from kargo_dagster.defs.warehouse_sensors import WarehouseCursor, sensor_name
from kargo_dagster.freight import Freight
from kargo_dagster.testing.oci_push import push_image
from kargo_dagster.testing.registry import LocalRegistry
from kargo_dagster.testing.token_auth import TokenAuthRegistry
from tests.conftest import postgres_storage, stored_bytes
from tests.defs.test_freight_store import record_as_before_upgrade
from tests.manifests import Document, manifests_yaml, project, requested, stage, warehouse


def demo_manifests(repo: str, *more: Document) -> str:
    """Project ``demo``: Warehouse ``app`` looking at image ``repo`` every 5s, Stage ``dev``,
    then ``more``."""
    return manifests_yaml(
        project("demo"),
        warehouse("app", "demo", image=repo, interval="5s"),
        stage("dev", "demo", requested=[requested("app")]),
        *more,
    )


SENSOR = sensor_name("demo", "app")
PARTITIONS = "demo/app"
WAREHOUSE = dg.AssetKey(["demo", "warehouse", "app"])


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    with LocalRegistry() as server:
        yield server


def unique(name: str) -> str:
    """A repository name of its own: the registry outlives each test and backend."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def definitions(tmp_path: Path, repo: str, **resource: object) -> dg.Definitions:
    manifests = tmp_path / "stages"
    manifests.mkdir(exist_ok=True)
    (manifests / "demo.yaml").write_text(demo_manifests(repo))
    kargo = KargoResource(work_dir=str(tmp_path / "work"), **resource)  # type: ignore[arg-type]
    return load_definitions(manifests, resources={"kargo": kargo})


def reason(result: dg.SensorResult) -> str:
    assert result.skip_reason is not None
    return result.skip_reason.skip_message or ""


def tick(defs: dg.Definitions, instance: dg.DagsterInstance, cursor: str | None):
    sensor = defs.resolve_sensor_def(SENSOR)
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs)
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_new_tags_become_one_new_freight_each(tmp_path, registry, instance):
    name = unique("ticks/app")
    repo = registry.repo_url(name)
    push_image(registry, name, "v1.0.0")
    defs = definitions(tmp_path, repo)

    first = tick(defs, instance, None)
    [key] = instance.get_dynamic_partitions(PARTITIONS)
    assert f"Created Freight {key}" in reason(first)
    record = instance.fetch_materializations(WAREHOUSE, limit=1).records[0]
    assert record.partition_key == key
    metadata = record.asset_materialization.metadata  # type: ignore[union-attr]
    assert metadata["kargo/freight"].value["images"][0]["tag"] == "v1.0.0"  # type: ignore[index]
    assert str(metadata["kargo/freight_id"].value) in reason(first)

    # Nothing new: nothing created, however often the tick runs.
    second = tick(defs, instance, first.cursor)
    again = tick(defs, instance, second.cursor)
    assert "already recorded" in reason(again)
    assert instance.get_dynamic_partitions(PARTITIONS) == [key]
    assert len(instance.fetch_materializations(WAREHOUSE, limit=10).records) == 1

    push_image(registry, name, "v1.1.0")
    third = tick(defs, instance, again.cursor)
    partitions = instance.get_dynamic_partitions(PARTITIONS)
    assert len(partitions) == 2 and partitions[0] == key
    assert f"Created Freight {partitions[1]}" in reason(third)
    cursor, readable = WarehouseCursor.parse(third.cursor)
    assert readable and cursor.failures == 0


def test_an_unreadable_cursor_starts_over_without_duplicates(tmp_path, registry, instance):
    name = unique("cursor/app")
    push_image(registry, name, "v1.0.0")
    defs = definitions(tmp_path, registry.repo_url(name))
    tick(defs, instance, None)
    result = tick(defs, instance, "{not json")
    assert "already recorded" in reason(result)
    assert len(instance.get_dynamic_partitions(PARTITIONS)) == 1


def test_freight_recorded_under_its_legacy_key_is_not_recorded_again(tmp_path, registry, instance):
    # Before partition keys showed versions, Freight was keyed by its alias; after an upgrade
    # the sensor, with a fresh cursor, must find that Freight rather than record it again.
    name = unique("legacy/app")
    push_image(registry, name, "v1.0.0")
    defs = definitions(tmp_path, registry.repo_url(name))
    with dg.instance_for_test() as scratch:
        tick(defs, scratch, None)
        record = scratch.fetch_materializations(WAREHOUSE, limit=1).records[0]
        metadata = record.asset_materialization.metadata  # type: ignore[union-attr]
        freight = Freight.from_json(metadata["kargo/freight"].value)  # type: ignore[arg-type]
    legacy = record_as_before_upgrade(instance, "demo", freight)

    result = tick(defs, instance, None)
    assert "already recorded" in reason(result) and legacy in reason(result)
    assert instance.get_dynamic_partitions(PARTITIONS) == [legacy]
    assert len(instance.fetch_materializations(WAREHOUSE, limit=10).records) == 1


def test_a_failing_registry_is_reported_and_backs_off(tmp_path, registry, instance):
    name = unique("outage/app")
    push_image(registry, name, "v1.0.0")
    defs = definitions(tmp_path, registry.repo_url(name))
    ok = tick(defs, instance, None)
    [key] = instance.get_dynamic_partitions(PARTITIONS)

    broken = definitions(tmp_path, registry.repo_url("outage/missing"))
    failed = tick(broken, instance, ok.cursor)
    text = reason(failed)
    assert text.startswith("Discovery for Warehouse app failed: subscriptions[0] (image ")
    assert "outage/missing" in text and "HTTP 404" in text
    # The Warehouse asks for 5s; the sensor floor (30s by default) wins.
    assert "Existing Freight is unchanged; retrying in 30s" in text
    cursor, _ = WarehouseCursor.parse(failed.cursor)
    assert cursor.failures == 1 and cursor.retry_at is not None
    assert cursor.last_freight_id is not None  # what was recorded is remembered

    waiting = tick(broken, instance, failed.cursor)
    assert reason(waiting).startswith("Backing off after 1 failed tick(s) until ")
    assert instance.get_dynamic_partitions(PARTITIONS) == [key]


def test_credentials_never_reach_the_instance(tmp_path, registry, instance, monkeypatch):
    password = "pa55-Wo.rd-never-shown"
    monkeypatch.setenv("WRONG", password + "x")
    monkeypatch.setenv("RIGHT", password)
    name = unique("private/app")
    push_image(registry, name, "v1.0.0")
    with TokenAuthRegistry(registry, "robot", password) as private:
        repo = f"{private.host}/{name}"
        wrong = definitions(
            tmp_path,
            repo,
            credentials=[
                RepositoryCredentials(
                    type="image", repo_url=repo, username="robot", password=dg.EnvVar("WRONG")
                )
            ],
        )
        refused = tick(wrong, instance, None)
        assert "failed" in reason(refused)
        right = definitions(
            tmp_path,
            repo,
            credentials=[
                RepositoryCredentials(
                    type="image", repo_url=repo, username="robot", password=dg.EnvVar("RIGHT")
                )
            ],
        )
        created = tick(right, instance, None)
        assert "Created Freight" in reason(created)
    stored = [refused.cursor, created.cursor, reason(refused), reason(created)]
    assert not any(password in str(text) for text in stored)
    # Everything the instance stored, and everything the sensor wrote to its work directory.
    assert password.encode() not in stored_bytes(instance)
    for path in (tmp_path / "work").rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
    records = instance.fetch_materializations(WAREHOUSE, limit=10).records
    assert password not in json.dumps([str(r.event_log_entry) for r in records])


def test_one_broken_warehouse_does_not_stop_another(tmp_path, registry, instance):
    good = unique("fleet/good")
    push_image(registry, good, "v1.0.0")
    manifests = tmp_path / "stages"
    manifests.mkdir()
    missing = registry.repo_url(unique("fleet/missing"))
    broken = warehouse("broken", "demo", image=missing, interval="5s")
    (manifests / "fleet.yaml").write_text(demo_manifests(registry.repo_url(good), broken))
    defs = load_definitions(
        manifests, resources={"kargo": KargoResource(work_dir=str(tmp_path / "work"))}
    )
    for name in ("broken", "app"):
        sensor = defs.resolve_sensor_def(sensor_name("demo", name))
        sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert len(instance.get_dynamic_partitions("demo/app")) == 1
    assert instance.get_dynamic_partitions("demo/broken") == []


def test_interval_comes_from_the_warehouse_with_a_floor(tmp_path, registry):
    defs = definitions(tmp_path, registry.repo_url("interval/app"))
    assert defs.resolve_sensor_def(SENSOR).minimum_interval_seconds == 30
    folder = tmp_path / "stages"
    (folder / "demo.yaml").write_text(
        (folder / "demo.yaml").read_text().replace("interval: 5s", "interval: 2m")
    )
    slow = load_definitions(folder, min_warehouse_interval_seconds=5)
    assert slow.resolve_sensor_def(SENSOR).minimum_interval_seconds == 120
    fast = load_definitions(folder.parent / "stages", min_warehouse_interval_seconds=1)
    assert fast.resolve_sensor_def(SENSOR).default_status == dg.DefaultSensorStatus.RUNNING


@pytest.mark.postgres
def test_the_first_tick_gives_every_stage_pool_its_default_limit(
    tmp_path, registry, postgres_database
):
    # The first promotions into a new Stage then find its pool's limit written: two run pods
    # writing it at once on PostgreSQL would make one of them fail before it starts.
    name = unique("pools/app")
    push_image(registry, name, "v1.0.0")
    defs = definitions(tmp_path, registry.repo_url(name))
    overrides = {
        **postgres_storage(postgres_database),
        "concurrency": {"pools": {"default_limit": 1}},
    }
    with dg.instance_for_test(overrides=overrides, temp_dir=str(tmp_path)) as instance:
        assert instance.event_log_storage.get_pool_limits() == []
        tick(defs, instance, None)
        limits = instance.event_log_storage.get_pool_limits()
    assert [(limit.name, limit.limit, limit.from_default) for limit in limits] == [
        ("kargo/demo/dev", 1, True)
    ]
