"""The jobs a Stage offers in the UI: promote and approve, each partitioned by Freight.

Launching either from its launchpad is picking the Freight from the partition list, never
typing it. Promotion runs launched by the sensors and the command line run under the same
named job, so the Runs page says ``kargo_demo__promote__prod`` rather than Dagster's
anonymous asset job.
"""

import dagster as dg

from kargo_dagster.defs.approvals import build_approve_job
from kargo_dagster.defs.dagster_internals import AssetJob
from kargo_dagster.defs.names import (
    HEALTH_CHECK,
    TAG_PROJECT,
    TAG_STAGE,
    VERIFIED_CHECK,
    stage_job_name,
)
from kargo_dagster.spec import FreightRequest, ProjectManifests, Stage

__all__ = ["PromoteJob", "build_promote_job", "build_stage_jobs"]

# What ``dg.define_asset_job`` returns, named by the adapter since Dagster does not export it.
PromoteJob = AssetJob


def build_promote_job(
    project: ProjectManifests,
    stage: Stage,
    request: FreightRequest,
    asset_key: dg.AssetKey,
    partitions_def: dg.DynamicPartitionsDefinition,
) -> PromoteJob:
    """The ``<project>__promote__<stage>`` job: the Stage asset and its two checks."""
    name = stage.metadata.name
    checks = [
        dg.AssetCheckKey(asset_key, HEALTH_CHECK),
        dg.AssetCheckKey(asset_key, VERIFIED_CHECK),
    ]
    return dg.define_asset_job(
        name=stage_job_name(asset_key, "promote"),
        selection=dg.AssetSelection.assets(asset_key) | dg.AssetSelection.checks(*checks),
        description=(
            f"Promote Freight of Warehouse {request.origin.name} into Stage {name}: pick the "
            "Freight as the run's partition. Freight not available to the Stage is refused "
            "and changes nothing."
        ),
        tags={TAG_PROJECT: project.name, TAG_STAGE: name},
    )


def build_stage_jobs(
    project: ProjectManifests,
    stage: Stage,
    request: FreightRequest,
    asset_key: dg.AssetKey,
    partitions_def: dg.DynamicPartitionsDefinition,
) -> tuple[PromoteJob, dg.JobDefinition]:
    """The Stage's promote and approve jobs for the Freight of ``request``'s origin."""
    return (
        build_promote_job(project, stage, request, asset_key, partitions_def),
        build_approve_job(project, stage.metadata.name, request.origin.name, partitions_def),
    )
