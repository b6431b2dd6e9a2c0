"""A ProjectConfig's deep links show where a user looks: on the Stage's asset and on each
Freight's Warehouse partition, as clickable URLs; a broken link shows its error."""

from pathlib import Path

import dagster as dg
import pytest

from kargo_dagster import load_definitions
from kargo_dagster.defs.freight_store import record_new_freight
from kargo_dagster.defs.names import warehouse_key
from kargo_dagster.errors import ManifestError
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.spec import load_manifests
from tests.spec.manifests import PROJECT, WAREHOUSE, join, stage, write

CONFIG = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: ProjectConfig
metadata:
  name: demo
  namespace: demo
spec:
  stageLinks:
  - title: Dashboard
    url: https://grafana.example/d/{{ .stage.metadata.namespace }}-{{ .stage.metadata.name }}
  - title: Prod only
    url: https://pager.example
    if: stage.metadata.name == "prod"
  freightLinks:
  - title: Image
    url: 'https://ghcr.example/{{ (index .freight.images 0).repoURL }}:{{ .freight.missing.tag }}'
  - title: Build
    url: https://ci.example/builds/{{ .freight.alias }}
"""


def test_stage_and_freight_links_are_asset_metadata(tmp_path: Path) -> None:
    write(tmp_path, {"stages.yaml": join(PROJECT, WAREHOUSE, CONFIG, stage("dev"), stage("prod"))})
    defs = load_definitions(tmp_path)
    graph = defs.resolve_asset_graph()
    dev = graph.get(dg.AssetKey(["demo", "stage", "dev"])).metadata
    prod = graph.get(dg.AssetKey(["demo", "stage", "prod"])).metadata
    assert dev["link: Dashboard"] == dg.MetadataValue.url("https://grafana.example/d/demo-dev")
    assert "link: Prod only" not in dev
    assert prod["link: Prod only"] == dg.MetadataValue.url("https://pager.example")

    project = load_manifests(tmp_path).projects["demo"]
    freight = Freight(origin=FreightOrigin(name="app"), images=(Image(repo_url="r/app", tag="1"),))
    with dg.instance_for_test() as instance:
        assert record_new_freight(instance, "demo", freight, links=project.freight_links)
        event = instance.get_latest_materialization_event(warehouse_key("demo", "app"))
        assert event is not None and event.asset_materialization is not None
        metadata = event.asset_materialization.metadata
    assert metadata["link: Build"] == dg.MetadataValue.url(
        f"https://ci.example/builds/{freight.alias}"
    )
    assert "link: Image" not in metadata
    errors = metadata["kargo/link_errors"].value
    assert isinstance(errors, str) and errors.startswith("link 'Image': nothing to read .tag")


def test_a_link_that_cannot_render_is_refused_at_its_line(tmp_path: Path) -> None:
    config = CONFIG.replace("if: stage.metadata.name", "if: stage.metadata.name ===").replace(
        "{{ .freight.alias }}", "{{ range .freight.images }}x{{ end }}"
    )
    write(tmp_path, {"stages.yaml": join(PROJECT, WAREHOUSE, config, stage("dev"))})
    with pytest.raises(ManifestError) as raised:
        load_definitions(tmp_path)
    shown = [str(problem) for problem in raised.value.problems]
    assert len(shown) == 2
    assert ": ProjectConfig/demo: spec.stageLinks.1.if: " in shown[0]
    assert shown[1].endswith(
        "ProjectConfig/demo: spec.freightLinks.1.url: 'range' is not supported in link "
        "templates: put conditions in the link's 'if' expression in expression "
        "'https://ci.example/builds/{{ range .freight.images }}x{{ end }}'"
    )
