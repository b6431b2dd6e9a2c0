"""The pipeline state answers as the per-Freight reads it replaced did, on the same history.

One history of real promotions on each storage: verified and failed verifications, refused
and soaking promotions, approvals, a rollback, a hold, a promotion under way, a failed one, a
request that gave way to a newer one, and a run that is no promotion at all. Every
availability answer, every cell of the Freight x Stage matrix and every auto-promotion input
is compared with :mod:`tests.defs.reference_state`.
"""

import json
import time
import uuid
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.approvals import approve_freight
from kargo_dagster.defs.dagster_internals import storage_session
from kargo_dagster.defs.freight_matrix import freight_cells
from kargo_dagster.defs.holds import place_hold
from kargo_dagster.defs.names import stage_asset_key
from kargo_dagster.defs.pipeline_state import PipelineState, read_pipeline_state
from kargo_dagster.freight import Freight, FreightOrigin, Image
from kargo_dagster.spec import load_manifests
from kargo_dagster.testing.loopback import LoopbackServer, QuietHandler
from tests.defs import reference_state as reference
from tests.defs.promotions import declined, promote
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

APP = "registry.example.com/eq/app"


class _Health(QuietHandler):
    """A deployed app that is down for versions whose tag says ``bad``."""

    def do_GET(self) -> None:
        body = json.dumps({"status": "down" if "bad" in self.path else "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def soaked(name: str, upstream: list[str], *, strategy: str = "OneOf") -> dict[str, Any]:
    """A Stage taking app Freight verified in ``upstream`` once it soaked there an hour."""
    sources = {"stages": upstream, "requiredSoakTime": "1h", "availabilityStrategy": strategy}
    return stage(
        name, "eq", requested=[{"origin": {"kind": "Warehouse", "name": "app"}, "sources": sources}]
    )


def manifests(path: Path, url: str) -> Path:
    metric = smoke_metric(url)
    return write_manifests(
        path,
        project("eq"),
        project_config("eq", auto_promote=["glob:*"]),
        warehouse("app", "eq", image=APP),
        analysis_template("smoke", "eq", metric, args=["version"]),
        stage("dev", "eq", requested=[requested("app")]),
        stage(
            "qa",
            "eq",
            requested=[requested("app", stages=["dev"])],
            steps=[step("compose-output", image=image_tag(APP))],
            verification=verification("smoke", args={"version": image_tag(APP)}),
        ),
        stage("staging", "eq", requested=[requested("app", stages=["dev"])]),
        soaked("prod-a", ["staging"]),
        soaked("prod-b", ["staging", "qa"], strategy="All"),
    )


def app_freight(tag: str) -> Freight:
    digest = "sha256:" + tag.encode().hex().ljust(64, "0")[:64]
    image = Image(repo_url=APP, tag=tag, digest=digest)
    return Freight(origin=FreightOrigin(name="app"), images=(image,))


def key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["eq", "stage", name])


def tagged_run(instance: dg.DagsterInstance, status: dg.DagsterRunStatus, tags: dict) -> None:
    run = dg.DagsterRun(job_name="__ASSET_JOB", run_id=str(uuid.uuid4()), status=status, tags=tags)
    instance.add_run(run)


@pytest.fixture
def history(tmp_path, instance) -> tuple[Path, list[str]]:
    """A varied history on ``instance``; the manifests and the Freight, oldest first."""
    server = LoopbackServer(_Health)
    try:
        path = manifests(tmp_path / "stages.yaml", server.url)
        defs = load_definitions(path)
        catalog = load_manifests(path)
        freight = [
            record_freight(instance, "eq", app_freight(tag))
            for tag in ("v1.0.0", "v2.0.0-bad", "v3.0.0", "v4.0.0", "v5.0.0")
        ]
        v1, v2, v3, v4, v5 = freight
        for name, tags in ((v1, "alice"), (v2, "bob"), (v3, ""), (v4, ""), (v5, "")):
            actor = {"kargo/actor": tags} if tags else {"kargo/action": "auto-promote"}
            assert promote(defs, instance, key("dev"), name, tags=actor).success
        assert promote(defs, instance, key("qa"), v1).success
        assert not promote(defs, instance, key("qa"), v2).success  # verification fails
        assert promote(defs, instance, key("qa"), v3).success
        assert promote(defs, instance, key("staging"), v1).success
        assert promote(defs, instance, key("staging"), v3).success
        not_soaked = promote(defs, instance, key("prod-a"), v1)
        assert "short of the required 1h" in declined(instance, not_soaked, "refused")
        approve_freight(
            instance, catalog.projects["eq"], stage="prod-a", partition_key=v3, actor="dana"
        )
        assert promote(defs, instance, key("prod-a"), v3).success
        never_upstream = promote(defs, instance, key("prod-b"), v5)
        assert "not available" in declined(instance, never_upstream, "refused")
        rollback = {"kargo/actor": "carol", "kargo/action": "rollback"}
        assert promote(defs, instance, key("dev"), v2, tags=rollback).success
        place_hold(instance, key("staging"), v3, reason="kept", actor="erin")
        running = dg.DagsterRunStatus.STARTED
        tagged_run(
            instance, running, {"kargo/project": "eq", "kargo/stage": "qa", "kargo/freight": v4}
        )
        # A promotion whose run failed (its pod was lost, say) before it materialized.
        tagged_run(
            instance,
            dg.DagsterRunStatus.FAILURE,
            {"kargo/project": "eq", "kargo/stage": "staging", "kargo/freight": v2},
        )
        # A request that gave way to a newer one succeeds without materializing anything.
        superseded = {"kargo/outcome": "superseded", "kargo/freight": v4}
        tagged_run(
            instance,
            dg.DagsterRunStatus.SUCCESS,
            {"kargo/project": "eq", "kargo/stage": "staging", **superseded},
        )
        # A run that is no promotion: no Kargo tags.
        tagged_run(instance, dg.DagsterRunStatus.SUCCESS, {"team": "data"})
    finally:
        server.close()
    return path, freight


def read(instance: dg.DagsterInstance, path: Path, now: float) -> PipelineState:
    project = load_manifests(path).projects["eq"]
    with storage_session(instance) as session:
        return read_pipeline_state(session, project, newest=10, now=now)


def test_the_state_answers_as_the_per_freight_reads_did(instance, history):
    path, freight = history
    project = load_manifests(path).projects["eq"]
    now = time.time()
    state = read(instance, path, now)

    assert list(state.freight["app"]) == list(reversed(freight))
    for name in project.stage_order():
        [request] = project.stages[name].spec.requested_freight
        asset = stage_asset_key(project, name, "app")
        for partition in freight:
            expected = reference.availability(instance, project, name, request, partition, now)
            actual = state.availability(name, request, partition)
            assert (actual.available, actual.reason, actual.details) == (
                expected.available,
                expected.reason,
                expected.details,
            ), (name, partition)
            assert state.last_promotion_failed(name, asset, partition) == (
                reference.last_promotion_failed(instance, "eq", name, partition)
            ), (name, partition)
        assert {run.freight for run in state.in_flight(name)} == reference.in_flight(
            instance, "eq", name
        )
        hold = state.hold(asset)
        assert (hold.freight if hold else None) == reference.held_for(instance, asset)
        held = reference.current(instance, asset)
        current = state.current_freight(asset)
        assert (current.freight if current else None) == (held.partition_key if held else None)

    cells = freight_cells(state, "app", freight)
    for name in project.stage_order():
        [request] = project.stages[name].spec.requested_freight
        for partition in freight:
            expected = reference.cell(instance, project, name, request, partition, now)
            actual = cells[partition][name]
            assert actual["states"] == expected["states"], (name, partition)
            for field in ("promotedBy", "approvedBy"):
                assert actual.get(field) == expected.get(field), (name, partition, field)
            for field in ("promotedAt", "approvedAt", "verifiedAt"):
                assert (field in actual) == (field in expected), (name, partition, field)
                if field in actual:
                    assert actual[field] == _iso(expected[field]), (name, partition, field)

    # The history covers what it is meant to.
    v1, v2, v3, v4, v5 = freight
    assert cells[v2]["qa"]["states"] == ["failed"]
    # A refused promotion changed nothing: no failed promotion to show.
    assert cells[v1]["prod-a"]["states"] == ["soaking"]
    assert cells[v3]["prod-a"]["states"] == ["current", "verified", "approved"]
    assert cells[v5]["prod-b"]["states"] == []
    assert cells[v2]["staging"]["states"] == ["promotion failed"]
    assert state.hold(key("staging")) is not None
    assert {run.freight for run in state.in_flight("qa")} == {v4}


def _iso(timestamp: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")
