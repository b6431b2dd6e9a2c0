"""The Project's pipeline view: every Stage and the Freight it holds, recorded by the status
sensor on the ``[project, "pipeline"]`` asset whenever it changes, at a fixed cost."""

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import dagster as dg

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.approvals import approve_freight
from kargo_dagster.defs.dagster_internals import storage_session
from kargo_dagster.defs.holds import lift_hold, place_hold
from kargo_dagster.defs.metadata_store import DagsterMetadataStore
from kargo_dagster.defs.names import VERIFIED_CHECK
from kargo_dagster.defs.pipeline_state import CheckResult, read_pipeline_state
from kargo_dagster.defs.pipeline_view import META_PIPELINE, pipeline_view, render_pipeline
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.spec import load_manifests
from kargo_dagster.testing.loopback import LoopbackServer
from tests.defs.promotions import promote
from tests.defs.test_pipeline_state import _Health
from tests.defs.test_state_queries import _another, _on_postgres, counting
from tests.manifests import (
    analysis_template,
    image_tag,
    project,
    project_config,
    requested,
    smoke_metric,
    stage,
    step,
    verification,
    warehouse,
    write_manifests,
)

APP = "registry.example.com/view/app"
PIPELINE = dg.AssetKey(["view", "pipeline"])
SENSOR = "view__freight_status"


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["view", "stage", name])


def app_freight(tag: str) -> Freight:
    digest = "sha256:" + tag.encode().hex().ljust(64, "0")[:64]
    return Freight(
        origin=FreightOrigin(name="app"), images=(Image(repo_url=APP, tag=tag, digest=digest),)
    )


def manifests(path: Path, url: str) -> Path:
    """dev -> qa (verified by a smoke test that fails for ``bad`` tags), dev -> staging
    (auto-promoted) -> prod."""
    metric = smoke_metric(url)
    return write_manifests(
        path,
        project("view"),
        project_config("view", auto_promote=["staging"]),
        warehouse("app", "view", image=APP),
        analysis_template("smoke", "view", metric, args=["version"]),
        stage("dev", "view", requested=[requested("app")]),
        stage(
            "qa",
            "view",
            requested=[requested("app", stages=["dev"])],
            steps=[step("compose-output", image=image_tag(APP))],
            verification=verification("smoke", args={"version": image_tag(APP)}),
        ),
        stage("staging", "view", requested=[requested("app", stages=["dev"])]),
        stage("prod", "view", requested=[requested("app", stages=["staging"])]),
    )


def tick(defs: dg.Definitions, instance: dg.DagsterInstance) -> list[object]:
    """One tick of the status sensor: its events, stored as the daemon stores them."""
    sensor = defs.resolve_sensor_def(SENSOR)
    result = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert isinstance(result, dg.SensorResult)
    for event in result.asset_events:
        instance.report_runless_asset_event(event)
    return list(result.asset_events)


def views(events: Sequence[object]) -> list[dg.AssetMaterialization]:
    """The pipeline view's records among a tick's events."""
    return [e for e in events if isinstance(e, dg.AssetMaterialization) and e.asset_key == PIPELINE]


def latest(instance: dg.DagsterInstance) -> tuple[str, dict[str, Any], str | None]:
    """The latest recorded view as a user reads it: markdown, JSON, description."""
    [record] = instance.fetch_materializations(PIPELINE, limit=1).records
    observation = record.asset_materialization
    assert observation is not None
    json_value = cast(Any, observation.metadata[META_PIPELINE]).value
    return str(observation.metadata["pipeline"].value), json_value, observation.description


def rows_by_stage(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["stage"]: row for row in view["stages"]}


def test_the_asset_is_an_external_view_in_the_projects_group(tmp_path):
    defs = load_definitions(manifests(tmp_path / "stages.yaml", "http://127.0.0.1:9"))
    graph = defs.resolve_asset_graph()
    node = graph.get(PIPELINE)
    assert not node.is_materializable and node.is_external
    assert node.group_name == "view" and node.partitions_def is None
    assert node.description is not None and "view__freight_status" in node.description
    assert graph.get(key("dev")).description.endswith(  # type: ignore[union-attr]
        "The Project's pipeline view: asset view/pipeline."
    )


def test_the_view_shows_what_each_stage_holds_and_how_it_stands(tmp_path, instance):
    server = LoopbackServer(_Health)
    try:
        path = manifests(tmp_path / "stages.yaml", server.url)
        defs = load_definitions(path)
        project = load_manifests(path).projects["view"]
        v1 = record_freight(instance, "view", app_freight("v1.0.0"))
        v2 = record_freight(instance, "view", app_freight("v2.0.0-bad"))

        # Before any promotion: every Stage, in pipeline order, holds nothing.
        [first] = views(tick(defs, instance))
        markdown, view, description = latest(instance)
        assert [row["stage"] for row in view["stages"]] == ["dev", "qa", "staging", "prod"]
        assert description == "0 of 4 Stages hold Freight: 0 verified, 0 failing, 0 on hold"
        assert "| prod | - | - | - | - | - | - | - | - | - |" in markdown
        assert first.metadata[META_PIPELINE] == dg.MetadataValue.json(view)

        assert promote(defs, instance, key("dev"), v1, tags={"kargo/actor": "alice"}).success
        assert promote(defs, instance, key("dev"), v2, tags={"kargo/actor": "bob"}).success
        # The smoke test fails for v2 in qa: promoted, but its verification failed.
        assert not promote(defs, instance, key("qa"), v2, tags={"kargo/actor": "dana"}).success
        rollback = {"kargo/actor": "carol", "kargo/action": "rollback"}
        assert promote(defs, instance, key("dev"), v1, tags=rollback).success
        auto = {"kargo/actor": "sensor:view__auto_promotion", "kargo/action": "auto-promote"}
        assert promote(defs, instance, key("staging"), v1, tags=auto).success
        place_hold(instance, key("staging"), v1, reason="kept for the demo", actor="erin")
        # What set-metadata writes, as a promotion step would.
        store = DagsterMetadataStore(instance, project)
        store.update_stage_metadata("qa", {"ticket": "OPS-7", "attempts": 1})
        store.update_stage_metadata("qa", {"attempts": 2})
    finally:
        server.close()

    [changed] = views(tick(defs, instance))
    markdown, view, description = latest(instance)
    assert changed.description == description
    assert description == "3 of 4 Stages hold Freight: 2 verified, 1 failing, 1 on hold"
    rows = rows_by_stage(view)
    assert {name: row["freight"] for name, row in rows.items()} == {
        "dev": v1,
        "qa": v2,
        "staging": v1,
        "prod": None,
    }
    assert rows["dev"]["versions"] == ["app:v1.0.0"]
    assert rows["qa"]["versions"] == ["app:v2.0.0-bad"]
    assert (rows["dev"]["promotedBy"], rows["dev"]["action"]) == (
        "self-declared:carol",
        "rollback",
    )
    assert (rows["qa"]["health"], rows["qa"]["verification"]) == ("passed", "failed")
    assert (rows["staging"]["health"], rows["staging"]["verification"]) == ("passed", "passed")
    assert rows["staging"]["action"] == "auto-promote"
    assert rows["staging"]["hold"]["actor"] == "erin"
    assert rows["staging"]["hold"]["freight"] == v1
    assert rows["dev"]["hold"] is None and rows["prod"]["hold"] is None
    assert rows["qa"]["since"].endswith("+00:00")
    assert rows["qa"]["verifiedAt"] >= rows["qa"]["since"]
    # The markdown says the same, a row per Stage in pipeline order.
    lines = markdown.splitlines()
    table = lines[
        lines.index("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |") + 1 :
    ]
    assert [line.split(" | ")[0] for line in table] == ["| dev", "| qa", "| staging", "| prod"]
    dev, qa, staging, prod = table
    assert dev.startswith(f"| dev | {v1} | app:v1.0.0 | passed | passed | ")
    assert dev.endswith(" | self-declared:carol | rollback | - | - |")
    assert qa.startswith(f"| qa | {v2} | app:v2.0.0-bad | passed | failed | ")
    assert qa.endswith(" | self-declared:dana | promote | - | attempts=2, ticket=OPS-7 |")
    assert rows["qa"]["metadata"] == {"ticket": "OPS-7", "attempts": 2}
    assert rows["dev"]["metadata"] == {}
    assert f"| sensor:view__auto_promotion | auto-promote | on hold with {v1} since " in staging
    assert staging.endswith("(erin: kept for the demo) | - |")
    assert prod == "| prod | - | - | - | - | - | - | - | - | - |"

    # Nothing changed: nothing is recorded, neither the view nor any Freight status.
    assert tick(defs, instance) == []

    # New Freight changes where Freight stands, not what any Stage holds: no new view.
    v3 = record_freight(instance, "view", app_freight("v3.0.0"))
    events = tick(defs, instance)
    assert [getattr(e, "partition", None) for e in events] == [v3]
    assert views(events) == []

    # An approval changes no Stage either; lifting the hold does.
    approve_freight(instance, project, stage="prod", partition_key=v3, actor="frank")
    assert views(tick(defs, instance)) == []
    assert lift_hold(instance, key("staging"), actor="erin") is not None
    [lifted] = views(tick(defs, instance))
    assert rows_by_stage(latest(instance)[1])["staging"]["hold"] is None
    assert lifted.description == "3 of 4 Stages hold Freight: 2 verified, 1 failing, 0 on hold"


def test_a_check_under_way_shows_as_running(tmp_path, instance):
    path = manifests(tmp_path / "stages.yaml", "http://127.0.0.1:9")
    defs = load_definitions(path)
    project = load_manifests(path).projects["view"]
    v1 = record_freight(instance, "view", app_freight("v1.0.0"))
    assert promote(defs, instance, key("dev"), v1).success
    with storage_session(instance) as session:
        state = read_pipeline_state(session, project, newest=10, records="current")
    # A promotion run that has not finished its checks yet: its planned check is pending.
    pending = CheckResult(key("dev"), VERIFIED_CHECK, v1, "pending", run_id="r")
    state = dataclasses.replace(
        state, checks={**state.checks, (key("dev"), VERIFIED_CHECK, v1): pending}
    )
    view = pipeline_view(state)
    dev = rows_by_stage(view)["dev"]
    assert (dev["health"], dev["verification"], dev["verifiedAt"]) == ("passed", "running", None)
    assert f"| dev | {v1} | app:v1.0.0 | passed | running | " in render_pipeline(view)
    assert json.loads(json.dumps(view)) == view  # what the JSON metadata holds


# --- Cost: the same statements for 3 Stages and 100 Freight as for 210 and 1,050 -------------


def scaled(path: Path, stages: int) -> Path:
    """dev, then ``stages`` Stages taking Freight from it."""
    return write_manifests(
        path,
        project("view"),
        warehouse("app", "view", image=APP),
        stage("dev", "view", requested=[requested("app")]),
        *(
            stage(f"s-{n:03}", "view", requested=[requested("app", stages=["dev"])])
            for n in range(stages)
        ),
    )


def grow(path: Path, instance: dg.DagsterInstance, stages: int, freight: int) -> list[str]:
    """``freight`` Freight (all but three added in bulk), promoted into dev and every Stage,
    with an approval and a hold; returns the Freight promoted."""
    defs = load_definitions(path)
    project = load_manifests(path).projects["view"]
    # The partitions are the Freight; only what Stages hold needs its artifacts recorded.
    instance.add_dynamic_partitions("view/app", [f"old-{n:05}" for n in range(freight - 3)])
    keys = [record_freight(instance, "view", app_freight(f"v{n}.0.0")) for n in range(3)]
    assert promote(defs, instance, key("dev"), keys[0], tags={"kargo/actor": "alice"}).success
    assert promote(defs, instance, key("dev"), keys[1], tags={"kargo/actor": "bob"}).success
    assert promote(defs, instance, key("s-000"), keys[0]).success
    # The other Stages' promotions as runless materializations: promoting each for real
    # would take minutes, and what is read of them is the same.
    for n in range(1, stages):
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key=key(f"s-{n:03}"), partition=keys[n % 2])
        )
    approve_freight(instance, project, stage="s-001", partition_key=keys[2], actor="carol")
    place_hold(instance, key("s-001"), keys[1], reason="kept", actor="erin")
    return keys


def costs(path: Path, instance: dg.DagsterInstance) -> dict[str, list[str]]:
    """Statements of the status sensor's busy tick, of the same tick once its observations
    are stored (nothing to record), and of a quiet tick."""
    defs = load_definitions(path)
    sensor = defs.resolve_sensor_def(SENSOR)
    found: dict[str, list[str]] = {}
    with counting() as statements:
        busy = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
    found["busy"] = statements
    assert len(views(busy.asset_events)) == 1
    for event in busy.asset_events:
        instance.report_runless_asset_event(event)
    with counting() as statements:
        again = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
    found["unchanged"] = statements
    assert again.asset_events == []
    with counting() as statements:
        quiet = sensor.evaluate_tick(
            dg.build_sensor_context(instance=instance, definitions=defs, cursor=busy.cursor)
        )
    found["quiet"] = statements
    assert "nothing changed since the last tick" in str(quiet.skip_message)
    return found


def test_a_tick_costs_the_same_statements_for_200_stages_and_1000_freight(tmp_path, instance):
    small = scaled(tmp_path / "small.yaml", 3)
    grow(small, instance, stages=3, freight=100)
    small_costs = costs(small, instance)

    with _another(instance) as overrides, dg.instance_for_test(overrides=overrides) as larger:
        big = scaled(tmp_path / "big.yaml", 210)
        promoted = grow(big, larger, stages=210, freight=1050)
        big_costs = costs(big, larger)
        _, view, description = latest(larger)

    assert {read: len(done) for read, done in big_costs.items()} == {
        read: len(done) for read, done in small_costs.items()
    }
    # One connection per storage database: one on PostgreSQL; SQLite keeps runs apart.
    databases = 1 if _on_postgres(instance) else 2
    for read, statements in small_costs.items():
        assert statements.count("connect") <= databases, read
    assert len(small_costs["busy"]) <= 25
    # The view did cover every Stage.
    rows = rows_by_stage(view)
    assert len(rows) == 211
    assert rows["s-209"]["freight"] == promoted[209 % 2]
    assert rows["s-001"]["hold"] is not None
    assert description == "211 of 211 Stages hold Freight: 2 verified, 0 failing, 1 on hold"
