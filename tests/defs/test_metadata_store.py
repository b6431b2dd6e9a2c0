"""Stage and Freight metadata kept as observations in the Dagster instance."""

import pytest

from kargo_dagster import record_freight
from kargo_dagster.defs.metadata_store import DagsterMetadataStore
from kargo_dagster.errors import TerminalStepError
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.spec import load_manifests
from tests.conftest import FIXTURES

SHOP = FIXTURES / "pipelines" / "shop"


def test_updates_merge_and_newest_wins(instance):
    project = load_manifests(SHOP).projects["shop"]
    freight = Freight(
        origin=FreightOrigin(name="app"),
        images=(Image(repo_url="registry.example.com/shop/app", tag="v1", digest="sha256:1"),),
    )
    key = record_freight(instance, "shop", freight)
    store = DagsterMetadataStore(instance, project)

    store.update_stage_metadata("dev", {"lastPromotedAt": "t1", "owner": "a"})
    store.update_stage_metadata("dev", {"lastPromotedAt": "t2"})
    assert store.stage_metadata("dev") == {"lastPromotedAt": "t2", "owner": "a"}
    assert store.stage_metadata("staging") == {}

    store.update_freight_metadata(freight.id, {"lastPromoted": {"to": "dev"}})
    assert store.freight_metadata(key) == {"lastPromoted": {"to": "dev"}}
    store.set_freight_alias(key, "golden")
    assert store.freight_alias(freight.id) == "golden"

    with pytest.raises(TerminalStepError, match="no Freight 'nope' in Project shop"):
        store.update_freight_metadata("nope", {"a": 1})


def test_status_json_shows_stage_and_freight_metadata_as_kargo_get_does(
    instance, monkeypatch, capsys
):
    import json

    from kargo_dagster.cli import main

    project = load_manifests(SHOP).projects["shop"]
    freight = Freight(
        origin=FreightOrigin(name="app"),
        images=(Image(repo_url="registry.example.com/shop/app", tag="v1", digest="sha256:1"),),
    )
    key = record_freight(instance, "shop", freight)
    store = DagsterMetadataStore(instance, project)
    store.update_stage_metadata("dev", {"owner": "team-a", "window": {"open": True}})
    store.update_freight_metadata(key, {"ticket": "OPS-1"})
    store.update_freight_metadata(key, {"approvedBy": "carol"})

    monkeypatch.setenv("DAGSTER_HOME", str(instance.root_directory))
    assert main(["status", "--path", str(SHOP), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["projects"][0]
    stages = {entry["stage"]: entry["metadata"] for entry in report["stages"]}
    assert stages["dev"] == {"owner": "team-a", "window": {"open": True}}
    assert stages["staging"] == {}
    rows = {row["freight"]: row["metadata"] for row in report["freight"]}
    assert rows[key] == {"ticket": "OPS-1", "approvedBy": "carol"}
