"""The availability gate: whether Freight may be promoted into a Stage, read in one go."""

import dagster as dg

from kargo_dagster.availability import Availability
from kargo_dagster.defs.dagster_internals import storage_session
from kargo_dagster.defs.pipeline_state import read_pipeline_state
from kargo_dagster.spec import FreightRequest, ProjectManifests


def evaluate_availability(
    instance: dg.DagsterInstance,
    project: ProjectManifests,
    stage: str,
    request: FreightRequest,
    partition_key: str,
    now: float | None = None,
) -> Availability:
    """Whether the Freight in ``partition_key`` is available to ``stage`` for this request.

    Reads only the Stage and the Stages it takes Freight from, in the fixed number of
    queries :func:`~kargo_dagster.defs.pipeline_state.read_pipeline_state` makes.
    """
    with storage_session(instance) as session:
        state = read_pipeline_state(
            session, project, newest=0, stages=[stage], freight=[partition_key], now=now
        )
    return state.availability(stage, request, partition_key)
