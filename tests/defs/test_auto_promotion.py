"""The auto-promotion sensor on a real instance: candidates, skips, holds and run requests.

Each tick is evaluated as the daemon would, and the runs it requests are executed with the
tags it gave them, so the next tick sees what the daemon's runs would have left.
"""

import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.cli import main
from kargo_dagster.defs.holds import current_hold
from kargo_dagster.freight import Freight, FreightOrigin, Image
from tests.defs.promotions import promote
from tests.manifests import (
    image_tag,
    project,
    project_config,
    requested,
    stage,
    step,
    warehouse,
    write_manifests,
)

APP = "registry.example.com/shop/app"
SENSOR = "shop__auto_promotion"
DEV = dg.AssetKey(["shop", "stage", "dev"])
STAGING = dg.AssetKey(["shop", "stage", "staging"])


def pipeline_stage(name: str, *upstream: str) -> dict[str, Any]:
    """A Stage taking the app Warehouse's Freight from ``upstream`` Stages, or directly."""
    steps = [step("compose-output", tag=image_tag(APP))]
    return stage(name, "shop", requested=[requested("app", stages=upstream)], steps=steps)


@pytest.fixture
def manifests(tmp_path) -> Path:
    """dev, staging and prod in a row; the Project's policies auto-promote dev and staging."""
    return write_manifests(
        tmp_path / "stages.yaml",
        project("shop"),
        project_config("shop", auto_promote=["dev", "glob:stag*"]),
        warehouse("app", "shop", image=APP),
        pipeline_stage("dev"),
        pipeline_stage("staging", "dev"),
        pipeline_stage("prod", "staging"),
    )


@pytest.fixture
def defs(manifests) -> dg.Definitions:
    return load_definitions(manifests)


def freight(instance: dg.DagsterInstance, tag: str) -> str:
    image = Image(
        repo_url=APP,
        tag=tag,
        digest="sha256:" + tag.encode().hex().ljust(64, "0"),
    )
    return record_freight(
        instance, "shop", Freight(origin=FreightOrigin(name="app"), images=(image,))
    )


def tick(defs: dg.Definitions, instance: dg.DagsterInstance) -> dg.SensorResult:
    sensor = defs.resolve_sensor_def(SENSOR)
    result = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
    assert isinstance(result, dg.SensorResult)
    return result


def skipped(result: dg.SensorResult) -> str:
    return result.skip_reason.skip_message or "" if result.skip_reason else ""


def stage_of(request: dg.RunRequest) -> dg.AssetKey:
    """The Stage asset a requested run promotes, from its job (``shop__promote__<stage>``)."""
    assert request.job_name is not None
    project, stage = request.job_name.split("__promote__")
    return dg.AssetKey([project, "stage", stage])


def targets(result: dg.SensorResult) -> list[tuple[dg.AssetKey, str | None]]:
    """The Stage and Freight of each promotion a tick requests."""
    return [(stage_of(r), r.partition_key) for r in result.run_requests or []]


def run_requested(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest):
    """Execute a requested run as the daemon would: its job, partition and tags."""
    assert request.job_name is not None and request.partition_key is not None
    return defs.resolve_job_def(request.job_name).execute_in_process(
        partition_key=request.partition_key,
        instance=instance,
        tags=dict(request.tags),
        raise_on_error=False,
    )


def started_run(instance: dg.DagsterInstance, stage: str, key: str) -> dg.DagsterRun:
    """A promotion run into ``stage`` that the daemon has started and not finished."""
    run = dg.DagsterRun(
        job_name="__ASSET_JOB",
        run_id=str(uuid.uuid4()),
        status=dg.DagsterRunStatus.STARTED,
        tags={"kargo/project": "shop", "kargo/stage": stage, "kargo/freight": key},
    )
    return instance.add_run(run)


def test_only_policy_enabled_stages_are_watched(defs):
    sensor = defs.resolve_sensor_def(SENSOR)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert "dev, staging" in (sensor.description or "")
    assert "prod" not in (sensor.description or "")


def test_new_freight_flows_from_dev_to_staging_by_itself(defs, instance):
    assert "no Freight is available to Stage dev" in skipped(tick(defs, instance))
    # Two Freight arrive between ticks: only the newest is promoted.
    freight(instance, "v1.0.0")
    newest = freight(instance, "v1.1.0")
    first = tick(defs, instance)
    [request] = first.run_requests or []
    assert (stage_of(request), request.partition_key) == (DEV, newest)
    assert request.tags["kargo/action"] == "auto-promote"
    assert request.tags["kargo/actor"] == "kargo-dagster auto-promotion"
    # The Stage's own job, which runs its checks with it.
    assert request.job_name == "shop__promote__dev"
    # A tick repeated before the run starts asks for the same run (the daemon dedupes it).
    [again] = tick(defs, instance).run_requests or []
    assert again.run_key == request.run_key
    assert run_requested(defs, instance, request).success

    # Verified in dev, the Freight is staging's candidate; dev already has it.
    [to_staging] = tick(defs, instance).run_requests or []
    assert (stage_of(to_staging), to_staging.partition_key) == (STAGING, newest)
    run = run_requested(defs, instance, to_staging)
    assert run.success
    tags = instance.get_run_by_id(run.run_id).tags  # type: ignore[union-attr]
    assert (tags["kargo/action"], tags["kargo/actor"]) == (
        "auto-promote",
        "kargo-dagster auto-promotion",
    )
    quiet = tick(defs, instance)
    assert not quiet.run_requests
    assert f"Stage dev already has {newest}" in skipped(quiet)
    assert f"Stage staging already has {newest}" in skipped(quiet)


def test_a_promotion_under_way_or_a_failed_one_is_not_repeated(defs, instance):
    key = freight(instance, "v1.0.0")
    run = started_run(instance, "dev", key)
    assert f"a promotion into Stage dev ({key}) is under way" in skipped(tick(defs, instance))
    instance.report_run_failed(run)
    reason = skipped(tick(defs, instance))
    assert f"the last promotion of {key} into Stage dev failed" in reason


def test_a_request_that_gave_way_to_a_newer_one_is_no_failed_attempt(defs, instance):
    # A promotion superseded in the queue (tests/defs/test_promotion_queue.py) ends as a
    # successful run that materialized nothing, tagged kargo/outcome=superseded; its Freight
    # is still auto-promotion's to try.
    key = freight(instance, "v1.0.0")
    run = started_run(instance, "dev", key)
    instance.add_run_tags(run.run_id, {"kargo/outcome": "superseded"})
    success = dg.DagsterEvent(
        event_type_value=dg.DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name
    )
    instance.report_dagster_event(success, run_id=run.run_id)
    assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.SUCCESS  # type: ignore[union-attr]
    [request] = tick(defs, instance).run_requests or []
    assert (stage_of(request), request.partition_key) == (DEV, key)


def test_a_manual_promotion_of_other_freight_holds_the_stage_until_lifted(
    manifests, defs, instance, capsys, monkeypatch
):
    old = freight(instance, "v1.0.0")
    new = freight(instance, "v2.0.0")
    # Someone promotes the older Freight by hand: auto-promotion must not undo it.
    assert promote(defs, instance, DEV, old, tags={"kargo/actor": "alice"}).success
    # (Verified in dev, the older Freight is staging's candidate now.)
    assert targets(tick(defs, instance)) == [(STAGING, old)]
    hold = current_hold(instance, DEV)
    assert hold is not None
    assert (hold.freight, hold.actor) == (old, "self-declared:alice")
    assert hold.reason == (
        f"{old} was promoted by self-declared:alice while {new} was the candidate"
    )
    assert targets(tick(defs, instance)) == [(STAGING, old)]
    # Lifting the hold lets the next tick promote the candidate.
    monkeypatch.setenv("DAGSTER_HOME", str(instance.root_directory))
    arguments = ["hold", "--path", str(manifests), "--stage", "dev"]
    assert main(arguments) == 0
    assert (
        f"Stage dev is on hold with {old} (placed by self-declared:alice" in capsys.readouterr().out
    )
    assert main([*arguments, "--lift", "--actor", "bob"]) == 0
    assert (
        f"Lifted the hold on Stage dev ({old}, placed by self-declared:alice)"
        in capsys.readouterr().out
    )
    assert main(arguments) == 0
    assert "Stage dev is not on hold" in capsys.readouterr().out
    assert (DEV, new) in targets(tick(defs, instance))


def test_a_rollback_does_not_cascade_downstream(defs, instance):
    v1 = freight(instance, "v1.0.0")
    for _ in range(2):  # v1 into dev, then into staging
        for request in tick(defs, instance).run_requests or []:
            assert run_requested(defs, instance, request).success
    v2 = freight(instance, "v2.0.0")
    for _ in range(2):
        for request in tick(defs, instance).run_requests or []:
            assert run_requested(defs, instance, request).success
    assert targets(tick(defs, instance)) == []
    # Rolling dev back to v1 leaves staging on v2, and auto-promotion does not undo it.
    rollback = {"kargo/action": "rollback", "kargo/actor": "alice"}
    assert promote(defs, instance, DEV, v1, tags=rollback).success
    assert targets(tick(defs, instance)) == []
    assert current_hold(instance, DEV) is not None
    staging = instance.fetch_materializations(STAGING, limit=1).records[0]
    assert staging.partition_key == v2
