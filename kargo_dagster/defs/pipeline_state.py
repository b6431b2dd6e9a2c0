"""One read of a Project's state: what ``status``, ``history``, the gates and the sensors know.

Kargo keeps a Project's state on its objects (Freight ``currentlyIn``/``verifiedIn``/
``approvedFor``, Stage ``freightHistory``, Promotions). Here that state lives in the Dagster
instance: Stage materializations are promotions, the ``health`` and ``verified`` checks are
verification, observations on Stage partitions are approvals and holds, run tags say who
asked for what. :func:`read_pipeline_state` gathers the part of it that matters for the
newest Freight and for what each Stage holds, in a fixed number of bulk queries whatever the
number of Stages and Freight (see :mod:`kargo_dagster.defs.dagster_internals`), and answers
with typed records. Everything downstream asks the :class:`PipelineState`; nothing reads
the instance Stage by Stage or Freight by Freight.

History the state does not expect is treated as absent: runs without Kargo tags are not
promotions, a Stage holding Freight whose partition was deleted (or whose Warehouse was
renamed) is reported in ``problems``, and a wiped event log is an empty pipeline.
"""

import time
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import cached_property
from typing import Any, Literal

import dagster as dg

from kargo_dagster.availability import (
    Availability,
    AvailabilityRequest,
    Occupancy,
    UpstreamFacts,
    decide,
    longest_soaks,
)
from kargo_dagster.defs.dagster_internals import CheckRow, StorageSession
from kargo_dagster.defs.names import (
    HEALTH_CHECK,
    META_FREIGHT_JSON,
    VERIFIED_CHECK,
    freight_partitions_name,
    stage_asset_key,
    warehouse_key,
)
from kargo_dagster.defs.state_records import (
    Approval,
    CheckResult,
    CheckState,
    Hold,
    HoldDecision,
    Promotion,
    PromotionRun,
    RunOutcome,
    approvals_from,
    hold_decisions_from,
)
from kargo_dagster.freight import Freight
from kargo_dagster.spec import FreightRequest, ProjectManifests

__all__ = [
    "Approval",
    "CheckResult",
    "CheckState",
    "Hold",
    "PipelineState",
    "Promotion",
    "PromotionRun",
    "RunOutcome",
    "availability_request",
    "read_pipeline_state",
    "stage_requests",
]

CHECKS = (HEALTH_CHECK, VERIFIED_CHECK)


def availability_request(stage: str, request: FreightRequest) -> AvailabilityRequest:
    """The pure rule's view of one of a Stage's freight requests."""
    sources = request.sources
    return AvailabilityRequest(
        stage=stage,
        origin=request.origin.name,
        direct=sources.direct,
        upstream_stages=tuple(sources.stages),
        required_soak_time=sources.required_soak_time,
        availability_strategy=sources.availability_strategy,
    )


@dataclass(frozen=True)
class PipelineState:
    """A Project's state as read at ``now``, for the Freight read and what Stages hold.

    Attributes:
        project: The Project's manifests.
        now: When it was read (epoch seconds); soak times count up to it.
        freight: The newest Freight of each Warehouse read, newest first.
        current: The promotion each Stage asset holds now.
        promotions: The latest promotion of each Freight read, by Stage asset and Freight.
        checks: The latest ``health``/``verified`` result, by Stage asset, check and Freight.
        approvals: Approvals, by Stage asset and Freight.
        runs: The Project's promotion runs that are unfinished, that promote a Freight read,
            or that put a Stage's current Freight there; newest first.
        recorded: The Freight each Warehouse recorded, for the Freight asked for.
        problems: History that does not fit the manifests (Freight that no longer exists).
    """

    project: ProjectManifests
    now: float
    freight: Mapping[str, tuple[str, ...]]
    current: Mapping[dg.AssetKey, Promotion]
    promotions: Mapping[tuple[dg.AssetKey, str], Promotion]
    checks: Mapping[tuple[dg.AssetKey, str, str], CheckResult]
    approvals: Mapping[tuple[dg.AssetKey, str], Approval]
    runs: tuple[PromotionRun, ...]
    recorded: Mapping[str, Freight] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    _stays: Mapping[dg.AssetKey, tuple[Occupancy, ...]] = field(default_factory=dict)
    _holds: Mapping[dg.AssetKey, HoldDecision] = field(default_factory=dict)

    def current_freight(self, asset: dg.AssetKey) -> Promotion | None:
        """What the Stage asset holds now, if anything."""
        return self.current.get(asset)

    def promotion(self, asset: dg.AssetKey, freight: str) -> Promotion | None:
        """The latest promotion of ``freight`` into the Stage asset, if any."""
        return self.promotions.get((asset, freight))

    def check(self, asset: dg.AssetKey, check: str, freight: str) -> CheckResult:
        """The latest result of ``check`` for ``freight`` in the Stage asset."""
        return self.checks.get((asset, check, freight)) or CheckResult(
            asset, check, freight, "never run"
        )

    def approval(self, asset: dg.AssetKey, freight: str) -> Approval | None:
        """The approval of ``freight`` for the Stage asset, if any."""
        return self.approvals.get((asset, freight))

    def hold(self, asset: dg.AssetKey) -> Hold | None:
        """The hold on the Stage asset, if its latest hold decision since its current
        promotion placed one."""
        decision = self._holds.get(asset)
        return decision.hold if decision is not None and decision.held else None

    def decided(self, asset: dg.AssetKey) -> bool:
        """Whether a hold was placed or lifted on the Stage asset since its current
        promotion."""
        return asset in self._holds

    def run(self, run_id: str) -> PromotionRun | None:
        """The run ``run_id``, if it was read."""
        return self._runs_by_id.get(run_id)

    def in_flight(self, stage: str) -> list[PromotionRun]:
        """Promotions into ``stage`` that are queued or running, newest first."""
        return self._in_flight.get(stage, [])

    def last_attempt(self, stage: str, freight: str) -> PromotionRun | None:
        """The latest request to promote ``freight`` into ``stage`` that did not give way to
        a newer one."""
        return self._attempts.get((stage, freight))

    @cached_property
    def _runs_by_id(self) -> dict[str, PromotionRun]:
        return {run.run_id: run for run in self.runs}

    @cached_property
    def _in_flight(self) -> dict[str, list[PromotionRun]]:
        found: dict[str, list[PromotionRun]] = {}
        for run in self.runs:
            if not run.finished:
                for stage in run.stages:
                    found.setdefault(stage, []).append(run)
        return found

    @cached_property
    def _attempts(self) -> dict[tuple[str, str], PromotionRun]:
        found: dict[tuple[str, str], PromotionRun] = {}
        for run in self.runs:  # newest first: the first one seen is the latest
            # A superseded or refused run changed nothing: it is no attempt.
            if run.outcome not in (RunOutcome.SUPERSEDED, RunOutcome.REFUSED):
                for stage in run.stages:
                    found.setdefault((stage, run.freight), run)
        return found

    def last_promotion_failed(self, stage: str, asset: dg.AssetKey, freight: str) -> bool:
        """Whether the latest attempt to promote ``freight`` into ``stage`` failed to
        promote it (a run that promoted and then failed verification did not)."""
        attempt = self.last_attempt(stage, freight)
        if attempt is None or attempt.outcome != RunOutcome.FAILED:
            return False
        promoted = self.promotions.get((asset, freight))
        return promoted is None or promoted.run_id != attempt.run_id

    def longest_soak(self, asset: dg.AssetKey, freight: str) -> timedelta:
        """How long ``freight`` stayed in the Stage asset without interruption, at its
        longest (a stay that goes on counts up to ``now``)."""
        return self._soaks.get(asset, {}).get(freight, timedelta(0))

    @cached_property
    def _soaks(self) -> dict[dg.AssetKey, dict[str, timedelta]]:
        return {asset: longest_soaks(stays, self.now) for asset, stays in self._stays.items()}

    def availability(self, stage: str, request: FreightRequest, freight: str) -> Availability:
        """Whether ``freight`` is available to ``stage`` for ``request`` (Kargo's rule)."""
        origin = request.origin.name
        approved = self.approval(stage_asset_key(self.project, stage, origin), freight)
        upstream: list[UpstreamFacts] = []
        if approved is None and not request.sources.direct:
            for upstream_stage in request.sources.stages:
                key = stage_asset_key(self.project, upstream_stage, origin)
                result = self.check(key, VERIFIED_CHECK, freight)
                promoted = (key, freight) in self.promotions
                upstream.append(
                    UpstreamFacts(
                        stage=upstream_stage,
                        verified=result.passed,
                        verification_state=result.state if promoted else "never promoted there",
                        soak=self.longest_soak(key, freight),
                    )
                )
        return decide(
            availability_request(stage, request),
            freight=freight,
            approved=approved is not None,
            upstream=upstream,
        )


def stage_requests(
    project: ProjectManifests, stages: Iterable[str] | None = None
) -> list[tuple[str, FreightRequest, dg.AssetKey]]:
    """Each Stage's requests with their asset keys, in pipeline order."""
    names = project.stage_order() if stages is None else list(stages)
    return [
        (name, request, stage_asset_key(project, name, request.origin.name))
        for name in names
        for request in project.stages[name].spec.requested_freight
    ]


def read_pipeline_state(
    session: StorageSession,
    project: ProjectManifests,
    *,
    newest: int,
    stages: Collection[str] | None = None,
    freight: Collection[str] = (),
    records: Literal["none", "current", "asked"] = "none",
    now: float | None = None,
) -> PipelineState:
    """Read a Project's state in a fixed number of queries.

    Args:
        session: Open connections to the instance (:func:`storage_session`).
        project: The Project's manifests.
        newest: How many of each Warehouse's newest Freight to read.
        stages: Only these Stages (and the Stages they take Freight from); default all.
        freight: Further Freight to read (partition keys), besides the newest and what the
            Stages hold.
        records: Whose Warehouse records (artifacts) to read: none, what Stages hold, or
            the Freight asked for in ``freight``.
        now: The time soak counts up to (default: now).
    """
    now = time.time() if now is None else now
    chosen = _with_upstream(project, stages)
    requests = stage_requests(project, chosen)
    assets = list(dict.fromkeys(asset for _, _, asset in requests))
    origins = {asset: request.origin.name for _, request, asset in requests}
    warehouses = sorted({request.origin.name for _, request, _ in requests})
    partitions_defs = {freight_partitions_name(project.name, w): w for w in warehouses}

    newest_keys = session.newest_partitions(partitions_defs, newest) if newest > 0 else {}
    latest = session.latest_materializations(assets)
    current = {
        asset: Promotion(asset, row.partition, row.timestamp, row.run_id, row.storage_id)
        for asset, row in latest.items()
        if row.partition is not None
    }
    read = {key for keys in newest_keys.values() for key in keys}
    read |= {promotion.freight for promotion in current.values()} | set(freight)
    bounds = session.partition_materializations(assets, read)
    promotions = {
        key: Promotion(key[0], key[1], row.timestamp, row.run_id, row.storage_id)
        for key, (row, _) in bounds.items()
    }
    check_rows = session.check_executions(assets, CHECKS, read)
    observations = session.observations(
        assets,
        partitions=read,
        after_id=min((p.storage_id for p in current.values()), default=None),
    )
    planned = {
        row.run_id
        for row in check_rows
        if row.status == "PLANNED" and (not row.partition or row.partition in read)
    }
    run_rows = session.promotion_runs(
        project.name, read, {p.run_id for p in current.values()} | planned
    )
    runs = tuple(PromotionRun.from_row(row) for row in run_rows)
    by_id = {run.run_id: run for run in runs}
    since = _soak_windows(project, requests, bounds)
    stays: dict[dg.AssetKey, list[Occupancy]] = {}
    for row in session.materializations_since(since):
        if row.partition is not None:
            stays.setdefault(row.asset, []).append(Occupancy(row.partition, row.timestamp))
    checks = {
        (row.asset, row.check, row.partition): _check_result(row, promotions, by_id)
        for row in _newest_executions(check_rows, by_id, read)
    }
    recorded: dict[str, Freight] = {}
    problems: list[str] = []
    if records != "none":
        wanted = set(freight) if records == "asked" else {p.freight for p in current.values()}
        recorded = _recorded(session, project.name, warehouses, wanted)
        if records == "current":
            existing = session.existing_partitions(partitions_defs, wanted)
            problems = _missing(project, current, origins, recorded, existing)
    return PipelineState(
        project=project,
        now=now,
        freight={partitions_defs[name]: tuple(keys) for name, keys in newest_keys.items()},
        current=current,
        promotions=promotions,
        checks=checks,
        approvals=approvals_from(observations),
        runs=runs,
        recorded=recorded,
        problems=tuple(problems),
        # Oldest first, as stored: soak is computed from them again and again.
        _stays={asset: tuple(rows) for asset, rows in stays.items()},
        _holds=hold_decisions_from(
            observations, {asset: p.storage_id for asset, p in current.items()}
        ),
    )


def _with_upstream(project: ProjectManifests, stages: Collection[str] | None) -> list[str]:
    if stages is None:
        return project.stage_order()
    wanted: set[str] = set()
    pending = list(stages)
    while pending:
        name = pending.pop()
        if name in wanted or name not in project.stages:
            continue
        wanted.add(name)
        for request in project.stages[name].spec.requested_freight:
            pending.extend(request.sources.stages)
    return [name for name in project.stage_order() if name in wanted]


def _soak_windows(
    project: ProjectManifests,
    requests: list[tuple[str, FreightRequest, dg.AssetKey]],
    bounds: Mapping[tuple[dg.AssetKey, str], tuple[Any, int]],
) -> dict[dg.AssetKey, int]:
    # Soak counts the stays of Freight in upstream Stages from its first promotion there on:
    # only those upstream Stages' promotions since then are needed.
    upstream = {
        stage_asset_key(project, name, request.origin.name)
        for _, request, _ in requests
        for name in request.sources.stages
    }
    since: dict[dg.AssetKey, int] = {}
    for (asset, _), (_, first) in bounds.items():
        if asset in upstream:
            since[asset] = min(first, since.get(asset, first))
    return since


def _newest_executions(
    rows: Collection[CheckRow], runs: Mapping[str, PromotionRun], freight: Collection[str]
) -> list[CheckRow]:
    """The newest execution of each check for each of ``freight``: a planned one's Freight is
    its run's when the row does not say."""
    newest: dict[tuple[dg.AssetKey, str, str], CheckRow] = {}
    for row in rows:
        if not row.partition:
            run = runs.get(row.run_id)
            if run is None or not run.freight:
                continue
            row = replace(row, partition=run.freight)
        if row.partition not in freight:
            continue
        key = (row.asset, row.check, row.partition)
        if key not in newest or newest[key].order < row.order:
            newest[key] = row
    return list(newest.values())


def _check_result(
    row: CheckRow,
    promotions: Mapping[tuple[dg.AssetKey, str], Promotion],
    runs: Mapping[str, PromotionRun],
) -> CheckResult:
    state: CheckState
    if row.status == "PLANNED":
        run = runs.get(row.run_id)
        state = "pending" if run is not None and not run.finished else "skipped"
    else:
        latest = promotions.get((row.asset, row.partition))
        if latest is not None and latest.storage_id != row.target_storage_id:
            state = "outdated"
        else:
            state = "passed" if row.status == "SUCCEEDED" else "failed"
    return CheckResult(row.asset, row.check, row.partition, state, row.run_id, row.evaluated_at)


def _recorded(
    session: StorageSession, project: str, warehouses: Collection[str], wanted: Collection[str]
) -> dict[str, Freight]:
    keys = [warehouse_key(project, name) for name in warehouses]
    found: dict[str, Freight] = {}
    for (_, partition), metadata in session.latest_materialization_metadata(keys, wanted).items():
        value = getattr(metadata.get(META_FREIGHT_JSON), "value", None)
        if isinstance(value, dict):
            found[partition] = Freight.from_json(value)
    return found


def _missing(
    project: ProjectManifests,
    current: Mapping[dg.AssetKey, Promotion],
    origins: Mapping[dg.AssetKey, str],
    recorded: Mapping[str, Freight],
    existing: Collection[str],
) -> list[str]:
    problems: list[str] = []
    for asset, promotion in current.items():
        freight = recorded.get(promotion.freight)
        origin = origins.get(asset, "?")
        if freight is None or freight.origin.name != origin or promotion.freight not in existing:
            problems.append(
                f"Stage asset {asset.to_user_string()} holds {promotion.freight}, which "
                f"Warehouse {origin} of Project {project.name} has no record of (its partition "
                "was deleted, or the Warehouse renamed)"
            )
    return problems
