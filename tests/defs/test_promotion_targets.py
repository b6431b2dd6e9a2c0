"""`kargo-dagster promote` and `rollback`: what they target, and their mistakes, before any run."""

import pytest

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.cli import main
from kargo_dagster.defs.promotion_targets import promotion_target
from kargo_dagster.errors import PromotionRefusedError
from kargo_dagster.spec import load_manifests
from tests.defs.promotions import promote
from tests.defs.test_demo import free_port
from tests.defs.test_pipeline import DEV, SHOP, app_freight


@pytest.fixture
def shop():
    return load_manifests(SHOP).projects["shop"]


def test_a_rollback_goes_back_to_the_freight_held_before(shop, instance):
    defs = load_definitions(SHOP)
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    v2 = record_freight(instance, "shop", app_freight("v2.0.0"))
    with pytest.raises(PromotionRefusedError, match="nothing to roll back to"):
        promotion_target(instance, shop, stage="dev", freight=None, rollback=True)
    for key in (v1, v2, v2):
        assert promote(defs, instance, DEV, key).success
    # Promoting the same Freight twice is one stay: the one before is still v1.
    assert promotion_target(instance, shop, stage="dev", freight=None, rollback=True) == (DEV, v1)
    assert promotion_target(instance, shop, stage="dev", freight=v2) == (DEV, v2)


def test_unknown_stages_and_freight_are_refused(shop, instance):
    with pytest.raises(PromotionRefusedError, match="Project shop has no Stage nope"):
        promotion_target(instance, shop, stage="nope", freight="x")
    with pytest.raises(PromotionRefusedError, match="Freight ghost-owl-1234567 is not recorded"):
        promotion_target(instance, shop, stage="dev", freight="ghost-owl-1234567")


def test_promote_says_when_the_webserver_is_not_running(instance, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(instance.root_directory))
    key = record_freight(instance, "shop", app_freight("v1.0.0"))
    url = f"http://127.0.0.1:{free_port()}"
    arguments = ["promote", "--path", str(SHOP), "--stage", "dev", "--freight", key, "--url", url]
    assert main(arguments) == 1
    error = capsys.readouterr().err
    assert f"cannot reach the Dagster webserver at {url}" in error
    assert "start it (dagster dev, or kargo-dagster demo) or give --url" in error
    assert instance.get_runs() == []
