"""Each promotion's materialization carries a markdown summary of what happened."""

from kargo_dagster import load_definitions, record_freight
from tests.defs.promotions import promote
from tests.defs.test_pipeline import DEV, SHOP, app_freight


def summary(result) -> str:
    [event] = result.get_asset_materialization_events()
    return str(event.materialization.metadata["summary"].value)


def test_the_summary_says_what_was_promoted_by_whom_and_why(instance):
    defs = load_definitions(SHOP)
    v1 = record_freight(instance, "shop", app_freight("v1.0.0"))
    v2 = record_freight(instance, "shop", app_freight("v2.0.0"))
    text = summary(promote(defs, instance, DEV, v1, tags={"kargo/actor": "alice"}))
    assert text.startswith(f"### Promoted {v1} into dev\n")
    assert "By **alice** (promote). " in text
    assert "| registry.example.com/shop/app | v1.0.0 |" in text
    assert "| Step |" not in text  # dev in this pipeline is a control-flow Stage
    promote(defs, instance, DEV, v2)
    back = {"kargo/actor": "bob", "kargo/action": "rollback"}
    assert summary(promote(defs, instance, DEV, v1, tags=back)).startswith(
        f"### Rolled back {v1} into dev\n"
    )
