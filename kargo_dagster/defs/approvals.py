"""Manual approval: making Freight available to a Stage without verification upstream.

Kargo records approval on the Freight (``status.approvedFor``). Here it is a runless
observation on the Stage's partition for that Freight, carrying the actor, so the approval
appears in the asset's history beside the promotions it allowed.
"""

from collections.abc import Mapping, Sequence

import dagster as dg

from kargo_dagster.defs.names import (
    META_ACTOR,
    META_APPROVED,
    TAG_ACTION,
    TAG_PROJECT,
    TAG_STAGE,
    TAG_USER,
    Action,
    freight_partitions_name,
    stage_asset_key,
    stage_job_name,
    stage_key,
)
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.defs.run_tags import UNSIGNED_UI, shown_name
from kargo_dagster.errors import PromotionRefusedError
from kargo_dagster.protection import APPROVERS_ANNOTATION, Actor, refusal
from kargo_dagster.spec import ProjectManifests


def approve_freight(
    instance: dg.DagsterInstance,
    project: ProjectManifests,
    *,
    stage: str,
    partition_key: str,
    actor: str,
    authenticated: bool = False,
    groups: Mapping[str, Sequence[str]] | None = None,
) -> None:
    """Approve the Freight in ``partition_key`` for ``stage``.

    Args:
        instance: The Dagster instance that holds the Freight.
        project: The Stage's project, as loaded from the manifests.
        stage: The Stage to approve the Freight for.
        partition_key: The Freight's partition key.
        actor: Who approved it, recorded for the audit trail (marked self-declared unless
            ``authenticated``).
        authenticated: Whether Dagster authenticated ``actor`` (the UI's signed-in user).
        groups: The members of the groups a protected Stage's approvers may name.

    Raises:
        PromotionRefusedError: The Stage does not exist, it is protected and ``actor`` may
            not approve for it (see :mod:`kargo_dagster.protection`), or no origin it requests
            holds that Freight (Kargo approves only for origins the Stage requests).
    """
    spec = project.stages.get(stage)
    if spec is None:
        raise PromotionRefusedError(f"Project {project.name} has no Stage {stage}")
    who = Actor(actor, authenticated)
    protected = refusal(stage, spec.metadata.annotations, APPROVERS_ANNOTATION, who, groups)
    if protected is not None:
        raise PromotionRefusedError(protected)
    shown = shown_name(who)
    origins = [request.origin.name for request in spec.spec.requested_freight]
    for origin in origins:
        partitions = freight_partitions_name(project.name, origin)
        if instance.has_dynamic_partition(partitions, partition_key):
            key = stage_key(project.name, stage, origin if len(origins) > 1 else None)
            instance.report_runless_asset_event(
                dg.AssetObservation(
                    asset_key=key,
                    partition=partition_key,
                    description=f"Freight {partition_key} approved for Stage {stage} by {shown}",
                    metadata={META_APPROVED: True, META_ACTOR: shown},
                )
            )
            return
    raise PromotionRefusedError(
        f"Freight {partition_key} is not Freight of any Warehouse Stage {stage} requests "
        f"({', '.join(origins)}); approve Freight from one of those Warehouses"
    )


def build_approve_job(
    project: ProjectManifests,
    stage: str,
    origin: str,
    partitions_def: dg.DynamicPartitionsDefinition,
) -> dg.JobDefinition:
    """The ``<project>__approve__<stage>`` job: approval from the Dagster UI.

    It is partitioned by the Freight of ``origin``, so approving is picking the Freight from
    the launchpad's partition list: nothing to type. It does what ``kargo-dagster approve``
    does. The actor is the ``dagster/user`` tag the UI adds where users sign in, else
    ``dagster-ui``; only the former can approve for a protected Stage.
    """
    name = stage_job_name(stage_asset_key(project, stage, origin), "approve")

    @dg.op(name=f"{name}_freight", description=f"Record the approval for Stage {stage}.")
    def approve(context: dg.OpExecutionContext, kargo: KargoResource) -> None:
        user = context.run.tags.get(TAG_USER)
        actor = user or UNSIGNED_UI
        freight = context.partition_key
        try:
            approve_freight(
                context.instance,
                project,
                stage=stage,
                partition_key=freight,
                actor=actor,
                authenticated=bool(user),
                groups=kargo.groups,
            )
        except PromotionRefusedError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None
        context.log.info(f"Freight {freight} approved for Stage {stage} by {actor}")

    @dg.job(
        name=name,
        partitions_def=partitions_def,
        description=(
            f"Approve Freight of Warehouse {origin} for Stage {stage} (Kargo's manual "
            "approval): pick the Freight as the run's partition."
        ),
        tags={TAG_PROJECT: project.name, TAG_STAGE: stage, TAG_ACTION: Action.APPROVE.value},
    )
    def approval_job() -> None:
        approve()

    return approval_job
