"""Freight aliases: set from the command line and by `set-freight-alias`, unique within the
Project, resolved wherever Freight is named, and shown by `status` and `freight list`; read
in bulk whatever the number of Freight."""

import json

import dagster as dg
import pytest

from kargo_dagster import record_freight
from kargo_dagster.cli import main
from kargo_dagster.defs.freight_aliases import alias_observation
from kargo_dagster.defs.freight_lookup import locate_freight, resolve_freight
from kargo_dagster.defs.metadata_store import DagsterMetadataStore
from kargo_dagster.errors import TerminalStepError
from kargo_dagster.freight import Freight, FreightOrigin, GitCommit
from kargo_dagster.spec import load_manifests
from tests.defs.test_pipeline import SHOP, app_freight
from tests.defs.test_state_queries import counting

PATH = ["--path", str(SHOP)]


@pytest.fixture
def home(instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch) -> dg.DagsterInstance:
    """The test instance, as the command line finds it (``DAGSTER_HOME``)."""
    monkeypatch.setenv("DAGSTER_HOME", str(instance.root_directory))
    return instance


def config_freight(n: int) -> Freight:
    commit = GitCommit(repo_url="https://git.example.com/shop/config.git", id=f"{n:040x}")
    return Freight(origin=FreightOrigin(name="config"), commits=(commit,))


def alias(*arguments: str) -> list[str]:
    return ["freight", "alias", *PATH, *arguments, "--actor", "alice"]


def test_an_alias_set_from_the_command_line_names_the_freight_everywhere(home, capsys):
    v1 = app_freight("v1.0.0")
    key = record_freight(home, "shop", v1)
    other = record_freight(home, "shop", app_freight("v1.1.0"))
    assert main(alias("--freight", "v1.0.0", "--alias", "golden")) == 0
    assert capsys.readouterr().out == f"Freight {key} of Warehouse app is now golden\n"

    approve = ["approve", *PATH, "--stage", "staging", "--actor", "alice"]
    assert main([*approve, "--freight", "golden"]) == 0
    assert capsys.readouterr().out == f"Freight {key} approved for Stage staging by alice\n"
    # Kargo's alias replaces the one before: the derived one names nothing now.
    assert main([*approve, "--freight", v1.alias]) == 1
    assert f"no Freight {v1.alias} recorded" in capsys.readouterr().err

    # Unique within the Project: refused, naming the Freight that holds it.
    assert main(alias("--freight", other, "--alias", "golden")) == 1
    assert capsys.readouterr().err == (
        f"kargo-dagster: alias golden is the alias of Freight {key} (v1.0.0) of Warehouse app; "
        "aliases are unique within Project shop\n"
    )
    config = record_freight(home, "shop", config_freight(1))
    assert main(alias("--freight", config, "--alias", "golden")) == 1
    assert "alias golden is the alias of Freight" in capsys.readouterr().err
    assert main(alias("--freight", config, "--alias", key)) == 1
    assert f"alias {key} is the partition key of Freight {key}" in capsys.readouterr().err
    assert main(alias("--freight", other, "--alias", "not ok!")) == 1
    assert "alias 'not ok!' is not a valid alias" in capsys.readouterr().err
    # Setting a Freight's own alias again is no conflict.
    assert main(alias("--freight", "golden", "--alias", "golden")) == 0


def test_set_freight_alias_keeps_aliases_unique_and_the_cli_sees_its_alias(home, capsys):
    project = load_manifests(SHOP).projects["shop"]
    first = record_freight(home, "shop", app_freight("v1.0.0"))
    second = record_freight(home, "shop", app_freight("v1.1.0"))
    store = DagsterMetadataStore(home, project)
    store.set_freight_alias(first, "release-candidate")
    assert store.freight_alias(first) == "release-candidate"
    assert store.freight_alias(second) == app_freight("v1.1.0").alias
    with pytest.raises(TerminalStepError, match=f"is the alias of Freight {first}"):
        store.set_freight_alias(second, "release-candidate")
    assert resolve_freight(home, project, stage="dev", given="release-candidate") == first

    assert main(["freight", "list", *PATH, "--warehouse", "app", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["key"], r["alias"], r["versions"]) for r in rows] == [
        (second, app_freight("v1.1.0").alias, ["v1.1.0"]),
        (first, "release-candidate", ["v1.0.0"]),
    ]
    assert all(r["created"] and r["warehouse"] == "app" for r in rows)
    assert main(["freight", "list", *PATH, "--warehouse", "app"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Warehouse shop/app"
    assert lines[1].split() == ["KEY", "ALIAS", "VERSIONS", "CREATED"]
    assert lines[3].split()[:3] == [first, "release-candidate", "v1.0.0"]
    assert main(["freight", "list", *PATH, "--warehouse", "ap"]) == 1
    assert "no Warehouse ap; did you mean 'app'?" in capsys.readouterr().err


def test_status_shows_each_freights_current_alias(home, capsys):
    from kargo_dagster import load_definitions
    from tests.defs.promotions import promote
    from tests.defs.test_pipeline import DEV

    key = record_freight(home, "shop", app_freight("v1.0.0"))
    newer = record_freight(home, "shop", app_freight("v1.1.0"))
    assert promote(load_definitions(SHOP), home, DEV, key).success
    assert main(alias("--freight", key, "--alias", "golden")) == 0
    capsys.readouterr()
    assert main(["status", *PATH, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["projects"][0]
    dev = next(s for s in report["stages"] if s["stage"] == "dev")
    assert (dev["freight"], dev["alias"]) == (key, "golden")
    aliases = {row["freight"]: row["alias"] for row in report["freight"]}
    assert aliases == {key: "golden", newer: app_freight("v1.1.0").alias}

    assert main(["status", *PATH]) == 0
    text = capsys.readouterr().out
    header = next(line for line in text.splitlines() if "STAGE" in line)
    assert header.split() == ["STAGE", "ORIGIN", "FREIGHT", "ALIAS", "SINCE", "VERIFIED", "HEALTH"]
    assert next(line for line in text.splitlines() if line.split()[:1] == ["dev"]).split()[2:4] == [
        key,
        "golden",
    ]
    assert f"{key} (golden)" in text


def test_aliases_are_read_in_bulk_whatever_the_number_of_freight(home, capsys):
    project = load_manifests(SHOP).projects["shop"]

    def grow(versions: range) -> list[str]:
        keys = [record_freight(home, "shop", app_freight(f"v{n}.0.0")) for n in versions]
        for n, key in zip(versions, keys, strict=True):
            # Every third Freight renamed, as set-freight-alias or the CLI would.
            if n % 3 == 0:
                before = app_freight(f"v{n}.0.0").alias
                home.report_runless_asset_event(
                    alias_observation("shop", "app", key, f"build-{n}", before=before, actor=None)
                )
        return keys

    def costs(named: str) -> dict[str, int]:
        found: dict[str, int] = {}
        for name, arguments in (
            ("locate", None),
            ("list", ["freight", "list", *PATH, "--limit", "1000", "--json"]),
            ("status", ["status", *PATH, "--json"]),
            ("rename", alias("--freight", named, "--alias", f"{named}-again")),
        ):
            with counting() as statements:
                if arguments is None:
                    locate_freight(home, project, given=named)
                else:
                    assert main(arguments) == 0, capsys.readouterr().err
            found[name] = len(statements)
        capsys.readouterr()
        return found

    grow(range(3))
    small = costs("build-0")
    keys = grow(range(3, 303))
    large = costs("build-300")
    assert large == small
    assert main(["freight", "list", *PATH, "--limit", "1000", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 303
    # Newest first: v302, v301, then v300, renamed twice.
    assert [row["key"] for row in rows[:3]] == keys[:-4:-1]
    assert rows[2]["alias"] == "build-300-again"
    assert sum(row["alias"].startswith("build-") for row in rows) == 101


def test_a_promotion_sees_the_current_alias_as_ctx_target_freight_alias(tmp_path, instance):
    from kargo_dagster import load_definitions
    from kargo_dagster.freight import Image
    from tests.defs.promotions import promote
    from tests.spec.manifests import PROJECT, WAREHOUSE, join, stage, write

    steps = (
        "- uses: compose-output\n  as: shown\n  config:\n    alias: ${{ ctx.targetFreight.alias }}"
    )
    write(tmp_path, {"stages.yaml": join(PROJECT, WAREHOUSE, stage("dev", steps=steps))})
    image = Image(repo_url="ghcr.io/example/app", tag="1.0.0")
    key = record_freight(
        instance, "demo", Freight(origin=FreightOrigin(name="app"), images=(image,))
    )
    project = load_manifests(tmp_path).projects["demo"]
    DagsterMetadataStore(instance, project).set_freight_alias(key, "golden")
    result = promote(
        load_definitions(tmp_path), instance, dg.AssetKey(["demo", "stage", "dev"]), key
    )
    assert result.success
    event = instance.get_latest_materialization_event(dg.AssetKey(["demo", "stage", "dev"]))
    assert event is not None and event.asset_materialization is not None
    assert event.asset_materialization.metadata["outputs"].value == {"shown": {"alias": "golden"}}
