"""Gathering, from the Dagster instance, the facts Kargo's availability rule needs."""

import time

import dagster as dg

from kargo_dagster.availability import (
    Availability,
    AvailabilityRequest,
    UpstreamFacts,
    decide,
    longest_soak,
)
from kargo_dagster.defs.dagster_internals import partition_check_states
from kargo_dagster.defs.instance_queries import is_approved, stage_history
from kargo_dagster.defs.names import stage_key
from kargo_dagster.spec import FreightRequest, ProjectManifests

VERIFIED_CHECK = "verified"
HEALTH_CHECK = "health"


def stage_asset_key(project: ProjectManifests, stage: str, origin: str) -> dg.AssetKey:
    """The asset key of ``stage`` for ``origin``: a Stage asset has one key per origin only
    when it requests several."""
    requests = project.stages[stage].spec.requested_freight
    return stage_key(project.name, stage, origin if len(requests) > 1 else None)


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


def evaluate_availability(
    instance: dg.DagsterInstance,
    project: ProjectManifests,
    stage: str,
    request: FreightRequest,
    partition_key: str,
    now: float | None = None,
) -> Availability:
    """Whether the Freight in ``partition_key`` is available to ``stage`` for this request."""
    origin = request.origin.name
    upstream: list[UpstreamFacts] = []
    # Approval and direct sources settle the question without reading upstream history.
    approved = is_approved(instance, stage_asset_key(project, stage, origin), partition_key)
    if not approved and not request.sources.direct:
        now = time.time() if now is None else now
        for upstream_stage in request.sources.stages:
            key = stage_asset_key(project, upstream_stage, origin)
            check = dg.AssetCheckKey(key, VERIFIED_CHECK)
            state = partition_check_states(instance, check, [partition_key])[partition_key]
            history = stage_history(instance, key)
            promoted = any(o.partition_key == partition_key for o in history)
            upstream.append(
                UpstreamFacts(
                    stage=upstream_stage,
                    verified=state.passed,
                    verification_state=state.state if promoted else "never promoted there",
                    soak=longest_soak(history, partition_key, now),
                )
            )
    return decide(
        availability_request(stage, request),
        freight=partition_key,
        approved=approved,
        upstream=upstream,
    )
