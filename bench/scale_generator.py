"""Filling the run templates for every promotion of the history, in order.

:class:`Generator` writes each Freight record and each promotion run through a
:class:`scale_writer.BulkWriter`, and keeps what later runs refer to: the GitOps
repository's head and each Stage's values file (a promotion's commit and diff), each Stage's
current promotion (the sensor's run key), each asset's newest materialization (the input event
pointer Dagster records) and each Stage and Freight's data version (the input data version).
"""

import hashlib
import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import scale_project as sp
import scale_writer as sw
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry
from dagster._serdes import serialize_value
from scale_holes import RunTemplate, Templates, utc_iso
from scale_templates import blob7

from kargo_dagster.defs.freight_store import freight_metadata
from kargo_dagster.freight import Freight
from kargo_dagster.verification.analysis_run import freight_collection_id

__all__ = ["WAREHOUSE_KEY", "Generator", "Latest"]

WAREHOUSE_KEY = dg.AssetKey([sp.PROJECT, "warehouse", sp.WAREHOUSE])
_ULID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


@dataclass
class Latest:
    """The newest events of one asset, for its ``asset_keys`` row."""

    events: dict[str, tuple[int, str]] = field(default_factory=dict)


class Generator:
    """Fills the templates run after run, keeping what later runs refer to."""

    def __init__(
        self,
        writer: sw.BulkWriter,
        templates: Templates,
        freight: list[Freight],
        snapshots: dict[str, tuple[str, str]],
        rng: random.Random,
    ):
        self.writer = writer
        self.templates = templates
        self.freight_list = freight
        self.snapshots = snapshots
        self.rng = rng
        self.stage_tags: dict[str, str] = {}
        self.current: dict[str, tuple[int, str]] = {}
        self.head = self._hex(40)
        self.latest: dict[str, Latest] = {}
        self.statuses: dict[tuple[str, int], str] = {}
        self.data_versions: dict[tuple[str, int], str] = {}
        self.runs = 0
        self.events = 0
        self.last_end = 0.0
        self.tick = 1000

    def _hex(self, digits: int) -> str:
        return f"{self.rng.getrandbits(digits * 4):0{digits}x}"

    def _remember(self, asset: str, kind: str, event_id: int, body: str) -> None:
        self.latest.setdefault(asset, Latest()).events[kind] = (event_id, body)

    def freight(self, index: int, at: float) -> None:
        """The Warehouse's record of Freight ``index``, as ``record_new_freight`` makes it."""
        freight = self.freight_list[index]
        key = freight.partition_key
        # Storage IDs and timestamps grow together: nothing is recorded inside a run's span.
        at = max(at, self.last_end + 0.01)
        self.last_end = at
        materialization = dg.AssetMaterialization(
            asset_key=WAREHOUSE_KEY,
            partition=key,
            description=f"Freight {key} (alias {freight.alias}, ID {freight.id})",
            metadata=freight_metadata(freight),
        )
        event = DagsterEvent(
            event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
            job_name="",
            event_specific_data=StepMaterializationData(materialization),
        )
        entry = EventLogEntry(
            user_message="",
            level=logging.INFO,
            job_name="",
            run_id="",
            error_info=None,
            timestamp=at,
            step_key=None,
            dagster_event=event,
        )
        body = serialize_value(entry)
        event_id = self.writer.reserve(1)
        asset = WAREHOUSE_KEY.to_string()
        self.writer.row(
            "event_logs",
            event_id,
            "",
            body,
            "ASSET_MATERIALIZATION",
            sw.naive_utc(at),
            None,
            asset,
            key,
        )
        self.writer.end_unit()
        self._remember(asset, "materialization", event_id, body)
        self.events += 1

    def run(self, planned: sp.PlannedRun) -> None:
        """One promotion run: its ``runs`` row, tags, events and check executions."""
        template = self.templates.runs[(sp.stage_class(planned.stage), planned.outcome)]
        at = max(planned.at, self.last_end + 0.05)
        self.last_end = at + template.duration
        values = self._values(planned, template, at)
        run_id = values["run_id"]
        first = self.writer.reserve(len(template.events))
        mat_index = next(
            (i for i, e in enumerate(template.events) if e.role == "materialization"), None
        )
        if mat_index is not None:
            mat_at = at + template.events[mat_index].offset
            values["mat_ts"] = repr(mat_at)
            values["mat_id_pair"] = f'"storage_id": {first + mat_index}'
        checks: dict[str, list[Any]] = {}
        asset = None
        for index, event in enumerate(template.events):
            event_at = at + event.offset
            values["ts"] = repr(event_at)
            body = event.body.fill(values)
            event_id = first + index
            asset = event.asset_key.fill(values) if event.asset_key else None
            partition = values["partition"] if event.has_partition else None
            self.writer.row(
                "event_logs",
                event_id,
                run_id,
                body,
                event.event_type,
                sw.naive_utc(event_at),
                event.step_key.fill(values) if event.step_key else None,
                asset,
                partition,
            )
            if event.role == "materialization" and asset is not None:
                self.writer.row(
                    "asset_event_tags",
                    event_id,
                    asset,
                    "dagster/data_version",
                    values["data_version"],
                    sw.naive_utc(event_at),
                )
                self._remember(asset, "materialization", event_id, body)
            elif event.role == "check_planned" and event.check_asset_key is not None:
                checks[event.check_name or ""] = [
                    event.check_asset_key.fill(values),
                    event.check_name,
                    values["partition"],
                    run_id,
                    "PLANNED",
                    body,
                    sw.naive_utc(event_at),
                    event_id,
                    None,
                    sw.naive_utc(event_at),
                ]
            elif event.role == "check_evaluation":
                row = checks[event.check_name or ""]
                row[4] = "SUCCEEDED" if event.check_passed else "FAILED"
                row[5], row[6], row[7] = body, sw.naive_utc(event_at), event_id
                row[8] = first + mat_index if mat_index is not None else None
            elif event.event_type == "ASSET_MATERIALIZATION_PLANNED" and asset is not None:
                self._remember(asset, "planned", event_id, body)
        for row in checks.values():
            self.writer.row("asset_check_executions", *row)
        self.writer.row(
            "runs",
            run_id,
            values["job_snapshot_id"],
            "__ASSET_JOB",
            template.status,
            template.run_body.fill(values),
            values["partition"],
            "__ASSET_JOB_partition_set",
            sw.naive_utc(at),
            sw.naive_utc(at + template.end_offset),
            _microseconds(at + template.start_offset),
            _microseconds(at + template.end_offset),
        )
        for key, value in template.tags:
            self.writer.row("run_tags", run_id, key.fill(values), value.fill(values))
        self.writer.end_unit()
        self._after(planned, values, mat_index is not None)
        self.runs += 1
        self.events += len(template.events)

    def _values(self, planned: sp.PlannedRun, template: RunTemplate, at: float) -> dict[str, str]:
        freight = self.freight_list[planned.freight]
        tag = freight.images[0].tag
        stage = planned.stage
        previous = self.stage_tags.get(stage, sp.INITIAL_TAG)
        run_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        collection = freight_collection_id([freight])
        commit = self._hex(40)
        current = self.current.get(stage)
        job_id, plan_id = self.snapshots[stage]
        self.tick += 1
        # The materialization records its upstream asset's newest materialization and the data
        # version of the same Freight there (none for a Freight record), as Dagster does.
        upstream = sp.upstream_of(stage)
        path = "/".join(self._asset(upstream).path)
        pointer = self.latest[self._asset(upstream).to_string()].events["materialization"][0]
        upstream_version = self.data_versions.get((upstream or "", planned.freight))
        input_version = hashlib.sha256((upstream_version or "").encode()).hexdigest()
        values = {
            "git_url": sp.GIT_URL,
            "smoke_url": sp.SMOKE_URL,
            "soaked": f"soaked {sp.SOAK} in Stage staging",
            "run_id": run_id,
            "run8": run_id[:8],
            "partition": freight.partition_key,
            "alias": freight.alias,
            "freight_id": freight.id,
            "fid7": freight.id[:7],
            "tag": tag,
            "digest": freight.images[0].digest,
            "prev_tag": previous,
            "collection_id": collection,
            "coll7": collection[:7],
            "base_commit": self.head,
            "base7": self.head[:7],
            "commit": commit,
            "commit7": commit[:7],
            "blob_old7": blob7(previous),
            "blob_new7": blob7(tag),
            "ulid": "".join(self.rng.choice(_ULID_ALPHABET) for _ in range(26)),
            "log_key": "".join(self.rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(8)),
            "data_version": hashlib.sha256((run_id + input_version).encode()).hexdigest(),
            "input_version_pair": f'"dagster/input_data_version/{path}": "{input_version}"',
            "pointer_pair": f'"dagster/input_event_pointer/{path}": "{pointer}"',
            "stage": stage,
            "stage_ident": stage.replace("-", "_"),
            "run_key": (
                f"{sp.PROJECT}/{stage}/{freight.partition_key}/after/"
                f"{current[1] if current else '-'}"
            ),
            "tick": str(self.tick),
            "job_snapshot_id": job_id,
            "plan_snapshot_id": plan_id,
        }
        for name in template.iso_holes:
            values[name] = utc_iso(at + int(name.removeprefix("iso")))
        return values

    @staticmethod
    def _asset(stage: str | None) -> dg.AssetKey:
        return WAREHOUSE_KEY if stage is None else dg.AssetKey([sp.PROJECT, "stage", stage])

    def _after(self, planned: sp.PlannedRun, values: dict[str, str], promoted: bool) -> None:
        self.statuses[(planned.stage, planned.freight)] = planned.outcome
        if promoted:
            self.data_versions[(planned.stage, planned.freight)] = values["data_version"]
            self.stage_tags[planned.stage] = values["tag"]
            self.current[planned.stage] = (planned.freight, values["run_id"])
            self.head = values["commit"]


def _microseconds(timestamp: float) -> float:
    # handle_run_event stores run times from a datetime: to the microsecond.
    return datetime.fromtimestamp(timestamp, UTC).timestamp()
