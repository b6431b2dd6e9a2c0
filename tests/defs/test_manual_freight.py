"""Freight assembled by hand from what discovery finds in a real registry and a real git
remote: `kargo-dagster freight create` and the `<project>__assemble__<warehouse>` job."""

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from kargo_dagster import load_definitions
from kargo_dagster.cli import main
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.defs.warehouse_sensors import sensor_name
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from kargo_dagster.testing.oci_push import push_image
from kargo_dagster.testing.registry import LocalRegistry
from tests.conftest import stored_bytes
from tests.defs.promotions import failure_message, promote
from tests.manifests import project, requested, stage, warehouse, write_manifests

PARTITIONS = "demo/app"
WAREHOUSE = dg.AssetKey(["demo", "warehouse", "app"])
DEV = dg.AssetKey(["demo", "stage", "dev"])
JOB = "demo__assemble__app"


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    with LocalRegistry() as server:
        yield server


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[GitHTTPServer]:
    remotes = tmp_path / "remotes"
    remotes.mkdir()
    with GitHTTPServer(remotes) as running:
        yield running


class Setup:
    """A Manual Warehouse over two image tags and two commits, its manifests and DAGSTER_HOME."""

    def __init__(self, tmp_path: Path, registry: LocalRegistry, git_server: GitHTTPServer):
        name = f"manual/app-{uuid.uuid4().hex[:8]}"
        push_image(registry, name, "v1.0.0")
        push_image(registry, name, "v1.1.0")
        self.image = registry.repo_url(name)
        self.remote = GitRemote.create(git_server.root, "config")
        self.first = self.remote.commit("first", {"a": "1"})
        self.second = self.remote.commit("second", {"a": "2"})
        self.git = git_server.url_for(self.remote)
        manual = warehouse("app", "demo", image=self.image)
        manual["spec"]["freightCreationPolicy"] = "Manual"
        manual["spec"]["subscriptions"].append({"git": {"repoURL": self.git}})
        self.manifests = write_manifests(
            tmp_path / "demo.yaml",
            project("demo"),
            manual,
            warehouse("auto", "demo", image=self.image),
            stage("dev", "demo", requested=[requested("app")]),
        )
        self.work = str(tmp_path / "work")

    def create(self, *extra: str) -> list[str]:
        return [
            "freight",
            "create",
            "--path",
            str(self.manifests),
            "--warehouse",
            "app",
            "--work-dir",
            self.work,
            "--actor",
            "alice",
            *extra,
        ]

    def definitions(self) -> dg.Definitions:
        kargo = KargoResource(work_dir=self.work)
        return load_definitions(self.manifests, resources={"kargo": kargo})


@pytest.fixture
def setup(tmp_path, registry, git_server, instance, monkeypatch) -> Setup:
    monkeypatch.setenv("DAGSTER_HOME", str(instance.root_directory))
    return Setup(tmp_path, registry, git_server)


def recorded(instance: dg.DagsterInstance, key: str) -> dict:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=WAREHOUSE, asset_partitions=[key]), limit=1
    ).records
    metadata = records[0].asset_materialization.metadata  # type: ignore[union-attr]
    return metadata["kargo/freight"].value  # type: ignore[return-value]


def test_the_manual_warehouse_sensor_creates_nothing_and_a_person_creates_the_newest(
    setup, instance, capsys
):
    defs = setup.definitions()
    sensor = defs.resolve_sensor_def(sensor_name("demo", "app"))
    result = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert isinstance(result, dg.SensorResult)
    assert "freightCreationPolicy is Manual" in str(result.skip_reason)
    assert instance.get_dynamic_partitions(PARTITIONS) == []

    assert main(setup.create()) == 0, capsys.readouterr().err
    [key] = instance.get_dynamic_partitions(PARTITIONS)
    freight = recorded(instance, key)
    assert [i["tag"] for i in freight["images"]] == ["v1.1.0"]
    assert [c["id"] for c in freight["commits"]] == [setup.second]
    out = capsys.readouterr().out
    assert out.startswith(f"Created Freight {key} (v1.1.0, {setup.second[:7]}; alias ")

    # Promotable like any other Freight.
    promoted = promote(defs, instance, DEV, key)
    assert promoted.success, failure_message(promoted)
    assert main(["status", "--path", str(setup.manifests), "--json"]) == 0
    [dev] = json.loads(capsys.readouterr().out)["projects"][0]["stages"]
    assert dev["freight"] == key


def test_chosen_versions_are_taken_and_undiscovered_ones_refused(setup, instance, capsys):
    chosen = setup.create(
        "--image", f"{setup.image}=v1.0.0", "--commit", f"{setup.git}={setup.first[:7]}"
    )
    assert main(chosen) == 0, capsys.readouterr().err
    [key] = instance.get_dynamic_partitions(PARTITIONS)
    freight = recorded(instance, key)
    assert [i["tag"] for i in freight["images"]] == ["v1.0.0"]
    assert [c["id"] for c in freight["commits"]] == [setup.first]
    capsys.readouterr()

    # The same choice again is the same Freight: nothing new.
    assert main(chosen) == 0
    assert capsys.readouterr().out.startswith(f"Freight {key} (v1.0.0, ")
    assert instance.get_dynamic_partitions(PARTITIONS) == [key]

    assert main(setup.create("--image", f"{setup.image}=v1.0.9")) == 1
    assert capsys.readouterr().err == (
        f"kargo-dagster: Warehouse app: subscriptions[0] (image {setup.image}) did not discover "
        "v1.0.9; closest: v1.0.0, v1.1.0 (newest found: v1.1.0, v1.0.0; 2 in all)\n"
    )
    assert main(setup.create("--image", f"{setup.image}x=v1.0.0")) == 1
    assert capsys.readouterr().err == (
        f"kargo-dagster: Warehouse app has no image subscription {setup.image}x; did you mean "
        f"{setup.image!r}? (its image subscriptions: {setup.image})\n"
    )
    assert main(setup.create("--chart", "v1")) == 1
    assert "write SUBSCRIPTION=VERSION" in capsys.readouterr().err
    assert main(setup.create("--commit", f"subscriptions[1]={setup.second}")) == 0
    assert len(instance.get_dynamic_partitions(PARTITIONS)) == 2


def test_cloned_freight_keeps_the_versions_it_does_not_change(setup, instance, capsys):
    first = setup.create(
        "--image", f"{setup.image}=v1.0.0", "--commit", f"{setup.git}={setup.first[:7]}"
    )
    assert main(first) == 0, capsys.readouterr().err
    [original] = instance.get_dynamic_partitions(PARTITIONS)
    capsys.readouterr()

    # Kargo's "clone": the original's versions, but the newer commit.
    assert main(setup.create("--clone", "v1.0.0", "--commit", f"{setup.git}={setup.second}")) == 0
    [clone] = [k for k in instance.get_dynamic_partitions(PARTITIONS) if k != original]
    freight = recorded(instance, clone)
    assert [i["tag"] for i in freight["images"]] == ["v1.0.0"]
    assert [c["id"] for c in freight["commits"]] == [setup.second]
    assert capsys.readouterr().out.startswith(f"Created Freight {clone} (v1.0.0, ")

    # Cloning unchanged is the same Freight.
    assert main(setup.create("--clone", original)) == 0
    assert capsys.readouterr().out.startswith(f"Freight {original} (v1.0.0, ")
    assert main(setup.create("--clone", "v9.9.9")) == 1
    assert "no Freight v9.9.9" in capsys.readouterr().err


def test_the_assemble_job_records_the_versions_chosen_in_its_config(setup, instance):
    defs = setup.definitions()
    # Kargo assembles Freight for Automatic Warehouses too.
    assert defs.resolve_job_def("demo__assemble__auto") is not None
    job = defs.resolve_job_def(JOB)
    newest = job.execute_in_process(instance=instance)
    assert newest.success
    [key] = instance.get_dynamic_partitions(PARTITIONS)
    assert [i["tag"] for i in recorded(instance, key)["images"]] == ["v1.1.0"]

    config = {"versions": {setup.image: "v1.0.0", setup.git: ""}, "alias": "first-cut"}
    chosen = job.execute_in_process(
        instance=instance,
        run_config={"ops": {f"{JOB}_freight": {"config": config}}},
        tags={"dagster/user": "bob@example.com"},
    )
    assert chosen.success
    keys = instance.get_dynamic_partitions(PARTITIONS)
    assert len(keys) == 2
    older = recorded(instance, keys[1])
    assert [i["tag"] for i in older["images"]] == ["v1.0.0"]
    [observation] = instance.fetch_observations(WAREHOUSE, limit=1).records
    assert observation.partition_key == keys[1]
    metadata = observation.asset_observation.metadata  # type: ignore[union-attr]
    assert metadata["kargo/alias"].value == "first-cut"
    assert metadata["kargo/actor"].value == "bob@example.com"

    config = {"versions": {setup.image: "v2"}, "alias": ""}
    refused = job.execute_in_process(
        instance=instance,
        run_config={"ops": {f"{JOB}_freight": {"config": config}}},
        raise_on_error=False,
    )
    assert not refused.success
    assert "did not discover v2" in failure_message(refused)
    assert len(instance.get_dynamic_partitions(PARTITIONS)) == 2


def test_credentials_for_a_private_repository_reach_neither_output_nor_instance(
    tmp_path, registry, instance, monkeypatch, capsys
):
    monkeypatch.setenv("DAGSTER_HOME", str(instance.root_directory))
    password = "s3cret-" + uuid.uuid4().hex
    remotes = tmp_path / "private"
    remotes.mkdir()
    with GitHTTPServer(remotes, username="bot", password=password) as server:
        remote = GitRemote.create(remotes, "config")
        commit = remote.commit("only", {"a": "1"})
        manual = warehouse("app", "demo", image=registry.repo_url("unused"))
        manual["spec"]["freightCreationPolicy"] = "Manual"
        manual["spec"]["subscriptions"] = [{"git": {"repoURL": server.url_for(remote)}}]
        manifests = write_manifests(tmp_path / "demo.yaml", project("demo"), manual)
        create = [
            *("freight", "create", "--path", str(manifests), "--warehouse", "app"),
            *("--work-dir", str(tmp_path / "work"), "--alias", "private-1"),
        ]
        for name, value in (
            ("TYPE", "git"),
            ("REPO_URL", server.url_for(remote)),
            ("USERNAME", "bot"),
        ):
            monkeypatch.setenv(f"KARGO_DAGSTER_CREDS_PRIVATE_{name}", value)
        monkeypatch.setenv("KARGO_DAGSTER_CREDS_PRIVATE_REPO_URL_IS_REGEX", "false")
        monkeypatch.setenv("KARGO_DAGSTER_CREDS_PRIVATE_PASSWORD", password + "-wrong")
        assert main(create) == 1
        refused = capsys.readouterr()
        assert "subscriptions[0] (git " in refused.err and "could not be discovered" in refused.err
        monkeypatch.setenv("KARGO_DAGSTER_CREDS_PRIVATE_PASSWORD", password)
        assert main(create) == 0, capsys.readouterr().err
        created = capsys.readouterr()
    assert created.out.startswith("Created Freight ") and "alias private-1" in created.out
    assert [c["id"] for c in recorded(instance, created.out.split()[2])["commits"]] == [commit]
    for text in (refused.out, refused.err, created.out, created.err):
        assert password not in text
    assert password.encode() not in stored_bytes(instance)
