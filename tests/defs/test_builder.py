"""What `load_definitions` builds from the manifests, as the Dagster UI would show it."""

import dagster as dg
import pytest

from kargo_dagster import load_definitions
from kargo_dagster.errors import ManifestError
from tests.conftest import FIXTURES

SHOP = FIXTURES / "pipelines" / "shop"


@pytest.fixture(scope="module")
def graph():
    defs = load_definitions(SHOP)
    dg.Definitions.validate_loadable(defs)
    return defs.resolve_asset_graph()


def key(*path: str) -> dg.AssetKey:
    return dg.AssetKey(["shop", *path])


def test_one_asset_per_warehouse_and_per_stage_origin(graph):
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == {
        "shop/warehouse/app",
        "shop/warehouse/config",
        "shop/stage/dev",
        "shop/stage/staging",
        "shop/stage/prod",
        "shop/stage/qa",
        "shop/stage/uat",
        "shop/stage/edge/app",
        "shop/stage/edge/config",
        "shop/delivery-metrics",
        "shop/pipeline",
    }


def test_stages_depend_on_their_upstream_stages_or_warehouse(graph):
    parents = {
        k.to_user_string(): sorted(p.to_user_string() for p in graph.get(k).parent_keys)
        for k in graph.get_all_asset_keys()
    }
    assert parents["shop/stage/dev"] == ["shop/warehouse/app"]
    assert parents["shop/stage/staging"] == ["shop/stage/dev"]
    assert parents["shop/stage/prod"] == ["shop/stage/staging"]
    assert parents["shop/stage/edge/app"] == ["shop/stage/dev"]
    assert parents["shop/stage/edge/config"] == ["shop/warehouse/config"]


def test_stages_share_their_origins_partitions(graph):
    names = {
        k.to_user_string(): graph.get(k).partitions_def.name  # type: ignore[union-attr]
        for k in graph.get_all_asset_keys()
        if k.path[1] not in ("delivery-metrics", "pipeline")
    }
    assert names["shop/warehouse/app"] == names["shop/stage/prod"] == "shop/app"
    assert names["shop/stage/edge/config"] == names["shop/warehouse/config"] == "shop/config"


def test_each_stage_has_blocking_gates_that_judge_each_promotion(graph):
    for asset_key in graph.get_all_asset_keys():
        checks = {c.name: c for c in graph.get_check_keys_for_assets([asset_key])}
        if asset_key.path[1] in ("warehouse", "delivery-metrics", "pipeline"):
            assert checks == {}
            continue
        assert set(checks) == {"health", "verified"}
        for check_key in checks.values():
            check = graph.get(check_key)
            assert check.blocking
            # Unpartitioned, so the graph shows the verdict on the Freight the Stage holds.
            assert check.partitions_def is None


def test_ui_attributes(graph):
    dev = graph.get(key("stage", "dev"))
    assert dev.group_name == "shop"
    assert dev.owners == ["team:platform", "ops@example.com"]
    assert dev.tags.get("kargo/color") == "red"
    assert dev.pools == {"kargo/shop/dev"}
    assert dev.description == (
        "Kargo control-flow Stage dev: promotes Freight of Warehouse app from Warehouse app "
        "directly. The Project's pipeline view: asset shop/pipeline."
    )
    assert graph.get(key("stage", "edge", "app")).pools == {"kargo/shop/edge"}
    assert graph.get(key("stage", "edge", "config")).pools == {"kargo/shop/edge"}
    assert graph.get(key("warehouse", "config")).kinds == {"kargo", "git"}
    assert graph.get(key("stage", "qa")).kinds == {"kargo", "git"}


def test_bad_manifests_raise_one_error_listing_every_problem(tmp_path):
    text = (SHOP / "shop.yaml").read_text()
    text = text.replace("stages: [dev]", "stages: [dve]", 1).replace(
        "name: config\n", "name: cfg\n", 1
    )
    (tmp_path / "shop.yaml").write_text(text)
    with pytest.raises(ManifestError) as caught:
        load_definitions(tmp_path)
    assert len(caught.value.problems) >= 2
    assert all(p.file.endswith("shop.yaml") for p in caught.value.problems)
