"""The auto-promotion sensor of a Project: Kargo's controller promoting on its own.

Each tick looks at every Stage (and origin) whose ProjectConfig ``promotionPolicies`` enable
auto-promotion, in pipeline order, picks the candidate Freight and asks
:func:`kargo_dagster.autopromotion.decide` whether to promote it; a promotion is a run request
for that Stage partition with its checks, tagged ``kargo/action=auto-promote``. Its run key
names the Stage, the Freight and the promotion the Stage holds now, so a tick repeated before
the run starts requests nothing twice, while a later return of the same Freight (after a
rollback whose hold was lifted) is promoted again.

What the tick reads from the instance: the Freight partitions (newest first, at most
``CANDIDATE_LOOKBACK``), availability as the Stage asset judges it, the Stage's current
Freight and the run that put it there, queued or running promotions into the Stage, the
candidate's last promotion there, and holds (:mod:`kargo_dagster.defs.holds`).
"""

from collections.abc import Iterator

import dagster as dg

from kargo_dagster.autopromotion import auto_promotion_enabled, decide
from kargo_dagster.defs.availability_facts import (
    HEALTH_CHECK,
    VERIFIED_CHECK,
    evaluate_availability,
    stage_asset_key,
)
from kargo_dagster.defs.holds import current_hold, decided_since, place_hold
from kargo_dagster.defs.instance_queries import (
    UNFINISHED,
    CurrentFreight,
    current_freight,
    last_promotion_failed,
)
from kargo_dagster.defs.names import (
    TAG_ACTION,
    TAG_ACTOR,
    TAG_FREIGHT,
    TAG_PROJECT,
    TAG_STAGE,
    dagster_identifier,
    freight_partitions_name,
)
from kargo_dagster.spec import FreightRequest, ProjectManifests, Stage

__all__ = [
    "ACTION_AUTO_PROMOTE",
    "ACTOR",
    "CANDIDATE_LOOKBACK",
    "auto_promoted_stages",
    "build_promotion_sensor",
]

ACTION_AUTO_PROMOTE = "auto-promote"
ACTOR = "kargo-dagster auto-promotion"
# Newest Freight first; older Freight is not a candidate while newer is available, and a
# Stage rarely refuses this many in a row.
CANDIDATE_LOOKBACK = 20
MANUAL_ACTIONS = ("promote", "rollback")


def auto_promoted_stages(project: ProjectManifests) -> list[Stage]:
    """The Project's Stages whose promotion policies enable auto-promotion, in pipeline order."""
    policies = project.config.spec.promotion_policies if project.config is not None else []
    stages = [project.stages[name] for name in project.stage_order()]
    return [stage for stage in stages if auto_promotion_enabled(stage, policies)]


def build_promotion_sensor(
    project: ProjectManifests, *, minimum_interval_seconds: int = 15
) -> dg.SensorDefinition | None:
    """The Project's auto-promotion sensor, or None when no Stage auto-promotes."""
    stages = auto_promoted_stages(project)
    if not stages:
        return None
    keys = [
        stage_asset_key(project, stage.metadata.name, request.origin.name)
        for stage in stages
        for request in stage.spec.requested_freight
    ]
    names = ", ".join(stage.metadata.name for stage in stages)

    @dg.sensor(
        name=f"{dagster_identifier(project.name)}__auto_promotion",
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING,
        target=dg.AssetSelection.assets(*keys) | dg.AssetSelection.checks_for_assets(*keys),
        description=(
            f"Promotes the newest available Freight into {names}, as the Project's "
            "promotionPolicies enable, one promotion per Stage at a time."
        ),
    )
    def auto_promote(context: dg.SensorEvaluationContext) -> dg.SensorResult:
        requests: list[dg.RunRequest] = []
        reasons: list[str] = []
        for stage in stages:
            for request in stage.spec.requested_freight:
                run, reason = _evaluate(context, project, stage, request)
                if run is not None:
                    requests.append(run)
                    context.log.info(reason)
                else:
                    reasons.append(reason)
        if requests:
            # The tick reports its run requests; why other Stages waited goes to its log.
            for reason in reasons:
                context.log.info(reason)
        return dg.SensorResult(
            run_requests=requests, skip_reason=None if requests else "; ".join(reasons)
        )

    return auto_promote


def _evaluate(
    context: dg.SensorEvaluationContext,
    project: ProjectManifests,
    stage: Stage,
    request: FreightRequest,
) -> tuple[dg.RunRequest | None, str]:
    instance = context.instance
    name = stage.metadata.name
    key = stage_asset_key(project, name, request.origin.name)
    candidate = _candidate(instance, project, stage, request)
    current = current_freight(instance, key)
    current_key = current.partition_key if current is not None else None
    if candidate is not None and current is not None and current_key != candidate:
        _hold_after_manual_promotion(instance, key, current, candidate)
    hold = current_hold(instance, key)
    runs = instance.get_runs(
        dg.RunsFilter(tags={TAG_PROJECT: project.name, TAG_STAGE: name}, statuses=UNFINISHED)
    )
    candidate_failed = candidate is not None and last_promotion_failed(
        instance, project.name, name, candidate
    )
    decision = decide(
        stage=name,
        candidate=candidate,
        current=current_key,
        in_flight={run.tags.get(TAG_FREIGHT, "?") for run in runs},
        candidate_failed=candidate_failed,
        held_for=hold.freight if hold is not None else None,
    )
    if decision.freight is None:
        return None, decision.reason
    previous = current.run_id if current is not None else "-"
    return (
        dg.RunRequest(
            run_key=f"{project.name}/{name}/{decision.freight}/after/{previous}",
            partition_key=decision.freight,
            asset_selection=[key],
            asset_check_keys=[
                dg.AssetCheckKey(key, HEALTH_CHECK),
                dg.AssetCheckKey(key, VERIFIED_CHECK),
            ],
            tags={
                TAG_PROJECT: project.name,
                TAG_STAGE: name,
                TAG_FREIGHT: decision.freight,
                TAG_ACTION: ACTION_AUTO_PROMOTE,
                TAG_ACTOR: ACTOR,
            },
        ),
        f"Auto-promoting {decision.freight} into Stage {name}.",
    )


def _candidate(
    instance: dg.DagsterInstance, project: ProjectManifests, stage: Stage, request: FreightRequest
) -> str | None:
    name = stage.metadata.name
    options = request.sources.auto_promotion_options
    if options is not None and options.selection_policy == "MatchUpstream":
        upstream = current_freight(
            instance, stage_asset_key(project, request.sources.stages[0], request.origin.name)
        )
        if upstream is None:
            return None
        available = evaluate_availability(instance, project, name, request, upstream.partition_key)
        return upstream.partition_key if available.available else None
    for key in _newest_first(instance, project.name, request.origin.name):
        if evaluate_availability(instance, project, name, request, key).available:
            return key
    return None


def _newest_first(instance: dg.DagsterInstance, project: str, origin: str) -> Iterator[str]:
    keys = instance.get_dynamic_partitions(freight_partitions_name(project, origin))
    yield from list(reversed(keys))[:CANDIDATE_LOOKBACK]


def _hold_after_manual_promotion(
    instance: dg.DagsterInstance, key: dg.AssetKey, current: CurrentFreight, candidate: str
) -> None:
    # A person chose this Freight over the candidate: keep their choice until the candidate is
    # promoted again or they lift the hold. Placed once per promotion: a hold, or a lift,
    # recorded after the promotion already answers for it.
    run = instance.get_run_by_id(current.run_id)
    if run is None or run.tags.get(TAG_ACTION) not in MANUAL_ACTIONS:
        return
    if decided_since(instance, key, current.since):
        return
    actor = run.tags.get(TAG_ACTOR, "unknown")
    freight = current.partition_key
    place_hold(
        instance,
        key,
        freight,
        reason=f"{freight} was promoted by {actor} while {candidate} was the candidate",
        actor=actor,
    )
