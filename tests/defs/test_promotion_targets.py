"""`kargo-dagster promote` and `rollback`: what they target, and their mistakes, before any run."""

import dagster as dg
import pytest

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.cli import main
from kargo_dagster.defs.promotion_targets import promotion_target
from kargo_dagster.errors import PromotionRefusedError
from kargo_dagster.spec import load_manifests
from kargo_dagster.testing import free_port
from tests.defs.promotions import promote
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


def test_local_promotion_and_rollback_run_in_process(tmp_path, instance, monkeypatch, capsys):
    monkeypatch.setenv("DAGSTER_HOME", str(instance.root_directory))
    definitions = tmp_path / "definitions.py"
    definitions.write_text(
        f"from kargo_dagster import load_definitions\ndefs = load_definitions({str(SHOP)!r})\n"
    )
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    v2 = record_freight(instance, "shop", app_freight("v2.0.0"))
    local = ["--path", str(SHOP), "--stage", "dev", "--local", "--definitions", str(definitions)]
    for key in (v1, v2):
        assert main(["promote", *local, "--freight", key, "--actor", "alice"]) == 0
    assert main(["rollback", *local, "--actor", "bob"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].endswith(f"rolling back Stage dev to {v1} succeeded")
    runs = instance.get_runs(dg.RunsFilter(tags={"kargo/stage": "dev"}))
    assert [(r.tags["kargo/action"], r.tags["kargo/actor"]) for r in runs] == [
        ("rollback", "bob"),
        ("promote", "alice"),
        ("promote", "alice"),
    ]
    # Unavailable Freight is refused before any run, saying why, and the command exits 1.
    v3 = record_freight(instance, "shop", app_freight("v3.0.0"))
    staging = [*local[:3], "staging", *local[4:]]
    assert main(["promote", *staging, "--freight", v3]) == 1
    assert f"Freight {v3} is not available to Stage staging" in capsys.readouterr().err
    assert len(instance.get_runs()) == 3
