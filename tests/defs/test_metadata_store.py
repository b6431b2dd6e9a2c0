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
