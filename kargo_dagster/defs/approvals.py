"""Manual approval: making Freight available to a Stage without verification upstream.

Kargo records approval on the Freight (``status.approvedFor``). Here it is a runless
observation on the Stage's partition for that Freight, carrying the actor, so the approval
appears in the asset's history beside the promotions it allowed.
"""

import dagster as dg
from pydantic import Field

from kargo_dagster.defs.names import (
    META_ACTOR,
    META_APPROVED,
    dagster_identifier,
    freight_partitions_name,
    stage_key,
)
from kargo_dagster.errors import PromotionRefusedError
from kargo_dagster.spec import ProjectManifests


def approve_freight(
    instance: dg.DagsterInstance,
    project: ProjectManifests,
    *,
    stage: str,
    partition_key: str,
    actor: str,
) -> None:
    """Approve the Freight in ``partition_key`` for ``stage``.

    Args:
        instance: The Dagster instance that holds the Freight.
        project: The Stage's project, as loaded from the manifests.
        stage: The Stage to approve the Freight for.
        partition_key: The Freight's partition key.
        actor: Who approved it, recorded for the audit trail.

    Raises:
        PromotionRefusedError: The Stage does not exist, or no origin it requests holds that
            Freight (Kargo approves only for origins the Stage requests).
    """
    spec = project.stages.get(stage)
    if spec is None:
        raise PromotionRefusedError(f"Project {project.name} has no Stage {stage}")
    origins = [request.origin.name for request in spec.spec.requested_freight]
    for origin in origins:
        partitions = freight_partitions_name(project.name, origin)
        if instance.has_dynamic_partition(partitions, partition_key):
            key = stage_key(project.name, stage, origin if len(origins) > 1 else None)
            instance.report_runless_asset_event(
                dg.AssetObservation(
                    asset_key=key,
                    partition=partition_key,
                    description=f"Freight {partition_key} approved for Stage {stage} by {actor}",
                    metadata={META_APPROVED: True, META_ACTOR: actor},
                )
            )
            return
    raise PromotionRefusedError(
        f"Freight {partition_key} is not Freight of any Warehouse Stage {stage} requests "
        f"({', '.join(origins)}); approve Freight from one of those Warehouses"
    )


class ApprovalConfig(dg.Config):
    """What the approval job approves, filled in the UI's launchpad."""

    stage: str = Field(description="The Stage to approve the Freight for")
    freight: str = Field(description="The Freight's partition key")
    actor: str = Field(default="", description="Who approves; default: the run's user tag")


def build_approval_job(project: ProjectManifests) -> dg.JobDefinition:
    """The Project's ``<project>__approve`` job: approval from the Dagster UI.

    It does what ``kargo-dagster approve`` does; launch it from the job's launchpad with the
    Stage and Freight. The actor is the config's ``actor``, else the ``dagster/user`` tag
    the UI adds where users sign in, else ``dagster-ui``.
    """
    name = f"{dagster_identifier(project.name)}__approve"

    @dg.op(name=f"{name}_freight", description="Record the approval on the Stage partition.")
    def approve(context: dg.OpExecutionContext, config: ApprovalConfig) -> None:
        actor = config.actor or context.run.tags.get("dagster/user") or "dagster-ui"
        try:
            approve_freight(
                context.instance,
                project,
                stage=config.stage,
                partition_key=config.freight,
                actor=actor,
            )
        except PromotionRefusedError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None
        context.log.info(f"Freight {config.freight} approved for Stage {config.stage} by {actor}")

    @dg.job(
        name=name,
        description=f"Approve Freight for a Stage of Project {project.name} (Kargo's approval).",
        tags={"kargo/project": project.name, "kargo/action": "approve"},
    )
    def approval_job() -> None:
        approve()

    return approval_job
