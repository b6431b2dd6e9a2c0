"""The auto-promotion sensor of a Project: Kargo's controller promoting on its own.

Each tick looks at every Stage (and origin) whose ProjectConfig ``promotionPolicies`` enable
auto-promotion, in pipeline order, picks the candidate Freight and asks
:func:`kargo_dagster.autopromotion.decide` whether to promote it; a promotion is a run request
for that Stage partition with its checks, tagged ``kargo/action=auto-promote``. Its run key
names the Stage, the Freight and the promotion the Stage holds now, so a tick repeated before
the run starts requests nothing twice, while a later return of the same Freight (after a
rollback whose hold was lifted) is promoted again.

A tick reads the Project's state once (:func:`~kargo_dagster.defs.pipeline_state.
read_pipeline_state`: the newest ``CANDIDATE_LOOKBACK`` Freight, what each Stage holds, checks,
approvals, holds, runs) and decides every Stage from it. Only Freight newer than what a Stage
holds is a candidate. Its cursor (:mod:`kargo_dagster.defs.tick_cursor`) lets the next tick
end after the watermark's queries when nothing changed and no soak has completed since.
"""

import time
from collections.abc import Mapping

import dagster as dg

from kargo_dagster.autopromotion import auto_promotion_enabled, decide
from kargo_dagster.defs.holds import place_hold
from kargo_dagster.defs.names import (
    TAG_ACTION,
    TAG_ACTOR,
    TAG_FREIGHT,
    TAG_PARTITION,
    TAG_PROJECT,
    TAG_STAGE,
    Action,
    auto_promotion_sensor_name,
    freight_partitions_name,
    stage_asset_key,
    warehouse_key,
)
from kargo_dagster.defs.pipeline_state import Hold, PipelineState, read_pipeline_state
from kargo_dagster.defs.pipeline_view import pipeline_key
from kargo_dagster.defs.stage_jobs import PromoteJob
from kargo_dagster.defs.tick_cursor import fingerprint, watched_tick
from kargo_dagster.spec import FreightRequest, ProjectManifests, Stage

__all__ = [
    "ACTION_AUTO_PROMOTE",
    "ACTOR",
    "CANDIDATE_LOOKBACK",
    "auto_promoted_stages",
    "build_promotion_sensor",
]

ACTION_AUTO_PROMOTE = Action.AUTO_PROMOTE.value
ACTOR = "kargo-dagster auto-promotion"
# Newest Freight first; older Freight is not a candidate while newer is available, and a
# Stage rarely refuses this many in a row.
CANDIDATE_LOOKBACK = 20
MANUAL_ACTIONS = tuple(action for action in Action if action.by_hand)


def auto_promoted_stages(project: ProjectManifests) -> list[Stage]:
    """The Project's Stages whose promotion policies enable auto-promotion, in pipeline order."""
    policies = project.config.spec.promotion_policies if project.config is not None else []
    stages = [project.stages[name] for name in project.stage_order()]
    return [stage for stage in stages if auto_promotion_enabled(stage, policies)]


def build_promotion_sensor(
    project: ProjectManifests,
    *,
    jobs: Mapping[dg.AssetKey, PromoteJob],
    minimum_interval_seconds: int = 15,
) -> dg.SensorDefinition | None:
    """The Project's auto-promotion sensor, or None when no Stage auto-promotes.

    ``jobs`` are the Stage assets' promote jobs: the sensor's runs go through them.
    """
    stages = auto_promoted_stages(project)
    if not stages:
        return None
    keys = [
        stage_asset_key(project, stage.metadata.name, request.origin.name)
        for stage in stages
        for request in stage.spec.requested_freight
    ]
    names = ", ".join(stage.metadata.name for stage in stages)
    partitions = [freight_partitions_name(project.name, name) for name in project.warehouses]
    # Their observations (Freight status and metadata) change nothing the tick decides.
    warehouses = [warehouse_key(project.name, name) for name in project.warehouses]
    judged_by = fingerprint(
        [stage.model_dump(mode="json") for stage in project.stages.values()],
        sorted(stage.metadata.name for stage in stages),
    )

    @dg.sensor(
        name=auto_promotion_sensor_name(project.name),
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        jobs=[jobs[key] for key in keys],
        description=(
            f"Promotes the newest available Freight into {names}, as the Project's "
            "promotionPolicies enable, one promotion per Stage at a time."
        ),
    )
    def auto_promote(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        with watched_tick(
            context, partitions, judged_by, warehouses, [pipeline_key(project.name)]
        ) as tick:
            if tick.quiet is not None:
                return dg.SensorResult(
                    skip_reason=f"nothing changed since the last tick: {tick.quiet.note}",
                    cursor=tick.quiet.dump(),
                )
            state = read_pipeline_state(
                tick.session,
                project,
                newest=CANDIDATE_LOOKBACK,
                stages=[stage.metadata.name for stage in stages],
                now=tick.now,
            )
        requests: list[dg.RunRequest] = []
        reasons: list[str] = []
        waits: list[float] = []
        for stage in stages:
            for request in stage.spec.requested_freight:
                run, reason = _evaluate(context.instance, state, stage, request, waits, jobs)
                if run is not None:
                    requests.append(run)
                    context.log.info(reason)
                else:
                    reasons.append(reason)
        if requests:
            # The tick reports its run requests; why other Stages waited goes to its log.
            for reason in reasons:
                context.log.info(reason)
        note = "; ".join(reasons)
        cursor = tick.cursor(
            wake_at=min(waits) if waits else None,
            note=note if not requests else f"requested {len(requests)} promotion(s)",
        )
        return dg.SensorResult(
            run_requests=requests,
            skip_reason=None if requests else note,
            cursor=cursor.dump(),
        )

    return auto_promote


def _evaluate(
    instance: dg.DagsterInstance,
    state: PipelineState,
    stage: Stage,
    request: FreightRequest,
    waits: list[float],
    jobs: Mapping[dg.AssetKey, PromoteJob],
) -> tuple[dg.RunRequest | None, str]:
    project = state.project
    name = stage.metadata.name
    key = stage_asset_key(project, name, request.origin.name)
    current = state.current_freight(key)
    current_key = current.freight if current is not None else None
    candidate = _candidate(state, stage, request, current_key, waits)
    hold = state.hold(key)
    if candidate is not None and current is not None and current_key != candidate:
        hold = _hold_after_manual_promotion(instance, state, key, candidate) or hold
    decision = decide(
        stage=name,
        candidate=candidate,
        current=current_key,
        in_flight={run.freight or "?" for run in state.in_flight(name)},
        candidate_failed=candidate is not None
        and state.last_promotion_failed(name, key, candidate),
        held_for=hold.freight if hold is not None else None,
    )
    if decision.freight is None:
        return None, decision.reason
    previous = current.run_id if current is not None else "-"
    return (
        dg.RunRequest(
            run_key=f"{project.name}/{name}/{decision.freight}/after/{previous}",
            partition_key=decision.freight,
            job_name=jobs[key].name,
            tags={
                TAG_PROJECT: project.name,
                TAG_STAGE: name,
                TAG_FREIGHT: decision.freight,
                TAG_ACTION: ACTION_AUTO_PROMOTE,
                TAG_ACTOR: ACTOR,
                # The partition this tick read from the instance: Dagster takes the request as
                # resolved instead of looking each Freight up again, one query apiece.
                TAG_PARTITION: decision.freight,
            },
        ),
        f"Auto-promoting {decision.freight} into Stage {name}.",
    )


def _candidate(
    state: PipelineState,
    stage: Stage,
    request: FreightRequest,
    current: str | None,
    waits: list[float],
) -> str | None:
    project = state.project
    name = stage.metadata.name
    options = request.sources.auto_promotion_options
    if options is not None and options.selection_policy == "MatchUpstream":
        upstream = state.current_freight(
            stage_asset_key(project, request.sources.stages[0], request.origin.name)
        )
        if upstream is None:
            return None
        return (
            upstream.freight if _available(state, name, request, upstream.freight, waits) else None
        )
    # Newest first, down to what the Stage holds: auto-promotion never goes back in time.
    for key in state.freight.get(request.origin.name, ())[:CANDIDATE_LOOKBACK]:
        if key == current or _available(state, name, request, key, waits):
            return key
    return None


def _available(
    state: PipelineState, stage: str, request: FreightRequest, freight: str, waits: list[float]
) -> bool:
    availability = state.availability(stage, request, freight)
    if availability.soak_remaining is not None:
        # Time alone makes this Freight available: the cursor wakes the sensor then.
        waits.append(state.now + availability.soak_remaining.total_seconds())
    return availability.available


def _hold_after_manual_promotion(
    instance: dg.DagsterInstance, state: PipelineState, key: dg.AssetKey, candidate: str
) -> Hold | None:
    # A person chose this Freight over the candidate: keep their choice until the candidate is
    # promoted again or they lift the hold. Placed once per promotion: a hold, or a lift,
    # recorded after the promotion already answers for it.
    current = state.current_freight(key)
    if current is None:
        return None
    run = state.run(current.run_id)
    if run is None or run.action not in MANUAL_ACTIONS:
        return None
    if state.decided(key):
        return None
    freight = current.freight
    reason = f"{freight} was promoted by {run.actor} while {candidate} was the candidate"
    place_hold(instance, key, freight, reason=reason, actor=run.actor)
    return Hold(freight=freight, reason=reason, actor=run.actor, since=time.time())
