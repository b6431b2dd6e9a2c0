"""What a real promotion run leaves in a Dagster instance, captured as fill-in templates.

The scale bench writes tens of thousands of promotion runs. Each must look exactly like a real
one, so the runs are not invented: this module runs real promotions in process (as
``tests/defs`` does) on a scratch SQLite instance, for each kind of Stage (``dev``,
``staging``, a fan-out Stage) and each outcome (promoted and verified; promoted but failing
verification; a step error; refused by the availability gate), against a local GitOps
repository (a pre-receive hook rejects the push for the step error) and a local smoke
endpoint (answering ``down`` for the failed verification).

Every event the run stored is serialized as Dagster serializes it; the values that differ
from run to run (run ID, Freight, tags, commits, timestamps, the materialization's storage ID,
the AnalysisRun's name, the Stage for fan-out Stages...) are replaced by named holes. The
generator fills the holes for each run of the history. :func:`scale_holes.check_residue` refuses a
template in which anything run-specific is left, so a new field that varies per run fails
loudly here instead of repeating the scratch run's value 40,000 times.

The in-process runs lack what the daemon adds to a run launched by the auto-promotion sensor:
``RUN_ENQUEUED`` and ``RUN_STARTING`` events, the sensor's tags (``dagster/sensor_name``,
``dagster/run_key``, ``dagster/tick``), the asset and check selection and the job origin. They
are added here with Dagster's own constructors.

Private Dagster API used: ``dagster._serdes.serialize_value`` (the storage's serialization),
``dagster._core.events.log.EventLogEntry`` and ``DagsterEvent.job_enqueue`` (as
``report_dagster_event`` builds them), ``dagster._core.remote_origin`` and
``dagster._core.types.loadable_target_origin`` (the job origin of a daemon-launched run),
``dagster_shared.record.copy``.
"""

import hashlib
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import dagster as dg
import scale_project as sp
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.remote_origin import (
    ManagedGrpcPythonEnvCodeLocationOrigin,
    RemoteJobOrigin,
    RemoteRepositoryOrigin,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._serdes import serialize_value
from dagster_shared.record import copy as copy_record
from scale_holes import (
    HEX40,
    ISO_Z,
    ULID,
    EventTemplate,
    Hole,
    RunTemplate,
    Templates,
    check_residue,
)

from kargo_dagster import load_definitions, record_freight
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.freight import Freight
from kargo_dagster.testing.git_remote import GitHTTPServer, GitRemote
from kargo_dagster.testing.loopback import LoopbackServer, QuietHandler
from kargo_dagster.verification.analysis_run import freight_collection_id

__all__ = ["blob7", "capture_templates", "job_origin"]

# The scratch Stage standing for every fan-out Stage, and the tags its Freight moves between.
SCRATCH_FAN_OUT = "region-xyz"
PREVIOUS_TAG = "v7.7777.7"
TEMPLATE_TAG = "v8.8888.8"
REFUSED_TAG = "v9.9999.9"
SENSOR = f"{sp.PROJECT.replace('-', '_')}__auto_promotion"
RUN_KEY_HOLE = "@@run-key@@"
TICK_HOLE = "@@tick@@"


def blob7(tag: str) -> str:
    """The first 7 hex of the git blob of a Stage's values file holding ``tag``."""
    content = sp.values_file(tag).encode()
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()[:7]


def job_origin() -> RemoteJobOrigin:
    """The origin of the asset job in a code location loading ``definitions.py``, as the
    daemon records it on the runs it launches."""
    location = ManagedGrpcPythonEnvCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(
            executable_path=sys.executable, python_file="definitions.py"
        ),
        location_name="definitions.py",
    )
    return RemoteJobOrigin(
        repository_origin=RemoteRepositoryOrigin(
            code_location_origin=location, repository_name="__repository__"
        ),
        job_name="__ASSET_JOB",
    )


class _Smoke(QuietHandler):
    """The Stages' smoke endpoint: ``ok``, or ``down`` while ``failing`` is set."""

    failing = False

    def do_GET(self) -> None:
        body = json.dumps({"status": "down" if _Smoke.failing else "ok"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


_REJECT_HOOK = "#!/bin/sh\necho 'push rejected: main is protected by policy' >&2\nexit 1\n"


@dataclass
class _Scratch:
    """The scratch instance and what its promotions talk to."""

    root: Path
    instance: dg.DagsterInstance
    defs: dg.Definitions
    remote: GitRemote
    git_url: str
    smoke_url: str

    @property
    def markers(self) -> list[str]:
        """Values only the scratch runs have: what a template must not keep."""
        scratch_stage = SCRATCH_FAN_OUT.replace("-", "_")
        return ["127.0.0.1", str(self.root), SCRATCH_FAN_OUT, scratch_stage, self.git_url]

    def reset(self, stage: str) -> str:
        """Put the Stage's values back at the previous tag; the repository's new head."""
        return self.remote.commit(
            f"reset {stage}", {f"stages/{stage}/values.yaml": sp.values_file(PREVIOUS_TAG)}
        )

    def reject_pushes(self, reject: bool) -> None:
        hook = self.remote.git_dir / "hooks" / "pre-receive"
        if reject:
            hook.write_text(_REJECT_HOOK)
            hook.chmod(0o755)
        else:
            hook.unlink(missing_ok=True)


@contextmanager
def _scratch() -> Iterator[_Scratch]:
    root = Path(tempfile.mkdtemp(prefix="kargo-scale-scratch-"))
    smoke = LoopbackServer(_Smoke)
    try:
        remote = GitRemote.create(root / "remotes", "gitops")
        stages = ["dev", "staging", SCRATCH_FAN_OUT]
        remote.commit(
            "initial",
            {f"stages/{s}/values.yaml": sp.values_file(PREVIOUS_TAG) for s in stages},
        )
        with GitHTTPServer(root / "remotes") as server:
            git_url = server.url_for(remote)
            documents = sp.manifests(stages, git_url=git_url, smoke_url=smoke.url, soak="2s")
            directory = sp.write_manifests(root / "manifests", documents)
            kargo = KargoResource(work_dir=str(root / "work"))
            defs = load_definitions(directory, resources={"kargo": kargo})
            home = root / "home"
            home.mkdir()
            (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
            with dg.DagsterInstance.from_config(str(home)) as instance:
                yield _Scratch(root, instance, defs, remote, git_url, smoke.url)
    finally:
        smoke.close()
        shutil.rmtree(root, ignore_errors=True)


def _stage_key(stage: str) -> dg.AssetKey:
    return dg.AssetKey([sp.PROJECT, "stage", stage])


def _promote(scratch: _Scratch, stage: str, partition_key: str) -> str:
    """Run a promotion as ``tests/defs/promotions.py`` does; return the run ID."""
    key = _stage_key(stage)
    job = scratch.defs.resolve_implicit_global_asset_job_def()
    checks = {c for c in scratch.defs.resolve_asset_graph().asset_check_keys if c.asset_key == key}
    tags = {
        "kargo/project": sp.PROJECT,
        "kargo/stage": stage,
        "kargo/freight": partition_key,
        "kargo/action": "auto-promote",
        "kargo/actor": sp.ACTOR,
    }
    result = job.get_subset(asset_selection={key}, asset_check_selection=checks).execute_in_process(
        partition_key=partition_key, instance=scratch.instance, raise_on_error=False, tags=tags
    )
    return result.run_id


def _record(scratch: _Scratch, freight: Freight) -> str:
    return record_freight(scratch.instance, sp.PROJECT, freight)


def capture_templates() -> Templates:
    """Run the real promotions and turn each into a template (about ten seconds)."""
    runs: dict[tuple[str, str], RunTemplate] = {}
    with _scratch() as scratch:
        template = sp.freight_for_tag(TEMPLATE_TAG)
        refused = sp.freight_for_tag(REFUSED_TAG)
        key = _record(scratch, template)
        refused_key = _record(scratch, refused)
        for stage in ("dev", "staging", SCRATCH_FAN_OUT):
            if stage == SCRATCH_FAN_OUT:
                time.sleep(2.5)  # the scratch fan-out Stage's soak
            # Success last: a promotion that fails while the Stage holds Freight stores that
            # Freight's verdicts again, which no template could fill in for another run.
            for outcome in ("step_failed", "verify_failed", "success"):
                base = scratch.reset(stage)
                _Smoke.failing = outcome == "verify_failed"
                scratch.reject_pushes(outcome == "step_failed")
                try:
                    run_id = _promote(scratch, stage, key)
                finally:
                    _Smoke.failing = False
                    scratch.reject_pushes(False)
                kind = sp.stage_class(stage)
                runs[(kind, outcome)] = _capture(
                    scratch, run_id, stage, template, base, kind, outcome
                )
            if stage == "dev":
                # Freight whose verification failed in dev is refused by staging, captured
                # while staging holds nothing yet (for the same reason).
                _Smoke.failing = True
                try:
                    _promote(scratch, "dev", refused_key)
                finally:
                    _Smoke.failing = False
                base = scratch.reset("staging")
                run_id = _promote(scratch, "staging", refused_key)
                runs[("staging", "refused")] = _capture(
                    scratch, run_id, "staging", refused, base, "staging", "refused"
                )
    return Templates(runs=runs)


def _capture(
    scratch: _Scratch,
    run_id: str,
    stage: str,
    freight: Freight,
    base_commit: str,
    kind: str,
    outcome: str,
) -> RunTemplate:
    instance = scratch.instance
    record = instance.get_run_record_by_id(run_id)
    assert record is not None
    # A refused promotion changes nothing and is no failure.
    expected = "SUCCESS" if outcome in ("success", "refused") else "FAILURE"
    if record.dagster_run.status.value != expected:
        raise RuntimeError(f"scratch {kind} {outcome} run ended {record.dagster_run.status}")
    created = record.create_timestamp.timestamp()
    entries = [r.event_log_entry for r in instance.get_records_for_run(run_id, limit=1000).records]
    key = _stage_key(stage)
    run = copy_record(
        record.dagster_run,
        asset_selection=frozenset({key}),
        asset_check_selection=frozenset(
            {dg.AssetCheckKey(key, "health"), dg.AssetCheckKey(key, "verified")}
        ),
        remote_job_origin=job_origin(),
        tags={
            **record.dagster_run.tags,
            "dagster/sensor_name": SENSOR,
            "dagster/run_key": RUN_KEY_HOLE,
            "dagster/tick": TICK_HOLE,
        },
    )
    entries = _with_daemon_events(entries, run)
    holes = _run_holes(scratch, run_id, stage, freight, base_commit, entries)
    events = [_event(entry, created, holes, scratch.markers) for entry in entries]
    job_events = {e.dagster_event_type: e.timestamp for e in entries if e.is_dagster_event}
    end = job_events.get(DagsterEventType.RUN_SUCCESS) or job_events[DagsterEventType.RUN_FAILURE]
    run_holes = {**holes, run.job_snapshot_id or "-": "job_snapshot_id"}
    run_holes[run.execution_plan_snapshot_id or "-"] = "plan_snapshot_id"
    body = serialize_value(run)
    check_residue(body, run_holes, scratch.markers, f"{kind} {outcome} run body")
    return RunTemplate(
        stage_class=kind,
        outcome=outcome,
        events=events,
        run_body=Hole(body, run_holes),
        tags=[(Hole(k, holes), Hole(v, holes)) for k, v in run.tags_for_storage().items()],
        status=record.dagster_run.status.value,
        start_offset=job_events[DagsterEventType.RUN_START] - created,
        end_offset=end - created,
    )


def _with_daemon_events(entries: list[EventLogEntry], run: dg.DagsterRun) -> list[EventLogEntry]:
    """Add what the queued run coordinator and ``launch_run`` report before the run starts."""
    start = next(i for i, e in enumerate(entries) if e.dagster_event_type == "PIPELINE_START")
    before, after = entries[:start], entries[start:]
    first = after[0].timestamp
    daemon = [
        DagsterEvent.job_enqueue(run),
        DagsterEvent(
            event_type_value=DagsterEventType.PIPELINE_STARTING.value, job_name=run.job_name
        ),
    ]
    added = [
        EventLogEntry(
            user_message="",
            level=logging.INFO,
            job_name=event.job_name,
            run_id=run.run_id,
            error_info=None,
            timestamp=first - 0.004 * (len(daemon) - i),
            step_key=event.step_key,
            dagster_event=event,
        )
        for i, event in enumerate(daemon)
    ]
    return [*before, *added, *after]


def _run_holes(
    scratch: _Scratch,
    run_id: str,
    stage: str,
    freight: Freight,
    base_commit: str,
    entries: list[EventLogEntry],
) -> dict[str, str]:
    """Literal -> hole name for everything that differs between two runs of this kind."""
    text = "\n".join(serialize_value(e) for e in entries)
    collection = freight_collection_id([freight])
    holes = {
        scratch.git_url: "git_url",
        scratch.smoke_url: "smoke_url",
        run_id: "run_id",
        run_id[:8]: "run8",
        freight.partition_key: "partition",
        freight.alias: "alias",
        freight.id: "freight_id",
        freight.id[:7]: "fid7",
        freight.images[0].tag: "tag",
        freight.images[0].digest: "digest",
        PREVIOUS_TAG: "prev_tag",
        "soaked 2s in Stage staging": "soaked",
        collection: "collection_id",
        collection[:7]: "coll7",
        base_commit: "base_commit",
        base_commit[:7]: "base7",
        blob7(PREVIOUS_TAG): "blob_old7",
        blob7(freight.images[0].tag): "blob_new7",
        RUN_KEY_HOLE: "run_key",
        TICK_HOLE: "tick",
    }
    if stage == SCRATCH_FAN_OUT:
        holes[SCRATCH_FAN_OUT] = "stage"
        holes[SCRATCH_FAN_OUT.replace("-", "_")] = "stage_ident"
    holes.update(_materialization_holes(run_id, entries))
    known = set(holes)
    for commit in dict.fromkeys(HEX40.findall(text)):
        if commit not in known:
            holes.setdefault(commit, "commit")
            holes.setdefault(commit[:7], "commit7")
    for match in ULID.finditer(text):
        holes[match.group(1)] = "ulid"
    log_keys = [
        e.dagster_event.event_specific_data.file_key  # type: ignore[union-attr]
        for e in entries
        if e.dagster_event_type == DagsterEventType.LOGS_CAPTURED
    ]
    holes.update({k: "log_key" for k in log_keys})
    return holes


def _materialization_holes(run_id: str, entries: list[EventLogEntry]) -> dict[str, str]:
    """The data version tags of the Stage's materialization, which name the upstream asset's
    newest materialization and data version; checked against the rule the generator uses:
    ``data_version = sha256(run ID + input data version)`` (the code version is the run ID)."""
    holes: dict[str, str] = {}
    for entry in entries:
        if entry.dagster_event_type != DagsterEventType.ASSET_MATERIALIZATION:
            continue
        tags = dict(entry.dagster_event.step_materialization_data.materialization.tags or {})  # type: ignore[union-attr]
        inputs = [k for k in tags if k.startswith("dagster/input_data_version/")]
        pointers = [k for k in tags if k.startswith("dagster/input_event_pointer/")]
        if len(inputs) != 1 or len(pointers) != 1 or tags.get("dagster/code_version") != run_id:
            raise RuntimeError(f"unexpected data version tags on a Stage materialization: {tags}")
        version = tags["dagster/data_version"]
        if version != hashlib.sha256((run_id + tags[inputs[0]]).encode()).hexdigest():
            raise RuntimeError("a Stage's data version is no longer sha256(run ID + input version)")
        holes[f'"{inputs[0]}": "{tags[inputs[0]]}"'] = "input_version_pair"
        holes[f'"{pointers[0]}": "{tags[pointers[0]]}"'] = "pointer_pair"
        holes[version] = "data_version"
    return holes


def _event(
    entry: EventLogEntry, created: float, holes: Mapping[str, str], markers: Sequence[str]
) -> EventTemplate:
    """One event as a template: its own timestamp, the checked materialization's storage ID
    and time, and the ISO times in its metadata become holes too."""
    event = entry.dagster_event
    own = dict(holes)
    own[repr(entry.timestamp)] = "ts"
    role, check_name, passed, check_asset = "", None, None, None
    data: Any = event.event_specific_data if event else None
    if event is not None and event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
        role = "materialization"
    elif event is not None and event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED:
        role, check_name = "check_planned", data.check_name
        check_asset = Hole(data.asset_key.to_string(), holes)
    elif event is not None and event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
        role, check_name, passed = "check_evaluation", data.check_name, data.passed
        check_asset = Hole(data.asset_key.to_string(), holes)
        target = data.target_materialization_data
        if target is not None:
            own.setdefault(repr(target.timestamp), "mat_ts")
            own[f'"storage_id": {target.storage_id}'] = "mat_id_pair"
    body = serialize_value(entry)
    for iso in dict.fromkeys(ISO_Z.findall(body)):
        seconds = datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() - created
        own[iso] = f"iso{round(seconds)}"
    check_residue(body, own, markers, f"event {entry.dagster_event_type}")
    asset_key = event.asset_key.to_string() if event is not None and event.asset_key else None
    step_key = event.step_key if event else entry.step_key
    return EventTemplate(
        offset=entry.timestamp - created,
        event_type=event.event_type_value if event else None,
        step_key=Hole(step_key, holes) if step_key else None,
        asset_key=Hole(asset_key, holes) if asset_key else None,
        check_asset_key=check_asset,
        has_partition=bool(event and event.partition),
        body=Hole(body, own),
        role=role,
        check_name=check_name,
        check_passed=passed,
    )
