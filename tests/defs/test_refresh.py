"""Refreshing a Warehouse on demand: the same Freight its sensor records, recorded now."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from kargo_dagster import load_definitions
from kargo_dagster.cli import main
from kargo_dagster.defs.refresh import refresh_warehouses
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.defs.warehouse_sensors import sensor_name
from kargo_dagster.errors import KargoDagsterError
from kargo_dagster.spec import load_manifests
from kargo_dagster.testing.oci_push import push_image
from kargo_dagster.testing.registry import LocalRegistry
from tests.manifests import project, warehouse, write_manifests

PARTITIONS = "demo/app"
WAREHOUSE_KEY = dg.AssetKey(["demo", "warehouse", "app"])


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    with LocalRegistry() as server:
        yield server


def stages(tmp_path: Path, repo: str, policy: str = "Automatic") -> Path:
    folder = tmp_path / "stages"
    folder.mkdir(exist_ok=True)
    app = warehouse("app", "demo", image=repo)
    app["spec"]["freightCreationPolicy"] = policy
    write_manifests(folder / "demo.yaml", project("demo"), app)
    return folder


def pushed(registry: LocalRegistry, *tags: str) -> str:
    name = f"refresh/app-{uuid.uuid4().hex[:8]}"
    for tag in tags:
        push_image(registry, name, tag)
    return name


def test_refresh_records_new_freight_and_the_sensor_then_finds_it_recorded(
    tmp_path, registry, instance
):
    name = pushed(registry, "v1.0.0")
    folder = stages(tmp_path, registry.repo_url(name))
    kargo = KargoResource(work_dir=str(tmp_path / "work"))
    project = load_manifests(folder).projects["demo"]

    [first] = refresh_warehouses(instance, kargo, project, ["app"])
    [key] = instance.get_dynamic_partitions(PARTITIONS)
    assert first.recorded == key and f"created Freight {key}" in first.message
    [again] = refresh_warehouses(instance, kargo, project, ["app"])
    assert again.recorded is None and "already recorded" in again.message

    # The sensor, whose cursor never saw this Freight, records nothing more.
    defs = load_definitions(folder, resources={"kargo": kargo})
    sensor = defs.resolve_sensor_def(sensor_name("demo", "app"))
    result = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert isinstance(result, dg.SensorResult) and result.skip_reason is not None
    assert "already recorded" in (result.skip_reason.skip_message or "")
    assert instance.get_dynamic_partitions(PARTITIONS) == [key]
    materializations = instance.fetch_materializations(WAREHOUSE_KEY, limit=10)
    assert len(materializations.records) == 1

    push_image(registry, name, "v1.1.0")
    [newer] = refresh_warehouses(instance, kargo, project, ["app"])
    assert newer.recorded is not None and "v1.1.0" in newer.recorded
    assert len(instance.get_dynamic_partitions(PARTITIONS)) == 2


def test_a_manual_warehouse_records_nothing_and_says_so(tmp_path, registry, instance):
    folder = stages(tmp_path, registry.repo_url(pushed(registry, "v1.0.0")), "Manual")
    project = load_manifests(folder).projects["demo"]
    kargo = KargoResource(work_dir=str(tmp_path / "work"))
    [result] = refresh_warehouses(instance, kargo, project, ["app"])
    assert result.recorded is None
    assert "freightCreationPolicy is Manual" in result.message
    assert instance.get_dynamic_partitions(PARTITIONS) == []


def test_an_unknown_warehouse_is_named_with_the_ones_there_are(tmp_path, registry, instance):
    folder = stages(tmp_path, registry.repo_url(pushed(registry, "v1.0.0")))
    project = load_manifests(folder).projects["demo"]
    with pytest.raises(KargoDagsterError, match=r"no Warehouse ap; did you mean 'app'\? \(app\)"):
        refresh_warehouses(instance, KargoResource(), project, ["ap"])


def test_the_command_prints_what_it_found_and_recorded(
    tmp_path, registry, instance, monkeypatch, capsys
):
    folder = stages(tmp_path, registry.repo_url(pushed(registry, "v1.0.0", "v1.2.0")))
    monkeypatch.setenv("DAGSTER_HOME", str(instance.root_directory))
    args = ["refresh", "--path", str(folder), "--warehouse", "app"]
    assert main([*args, "--work-dir", str(tmp_path / "work")]) == 0
    out = capsys.readouterr().out
    [key] = instance.get_dynamic_partitions(PARTITIONS)
    assert "v1.2.0" in out and f"Warehouse app: created Freight {key}" in out
    assert main([*args, "--work-dir", str(tmp_path / "work")]) == 0
    assert "already recorded" in capsys.readouterr().out
