"""The Stage asset: materializing one of its partitions promotes that Freight into the Stage.

The asset refuses Freight that is not available to the Stage (Kargo's rule, see
``kargo_dagster.availability``) before it does anything else, so a promotion launched from the
UI, a backfill or the command line is gated exactly like an automatic one.

A promotion that changes nothing (refused, or superseded by a newer request) ends without
materializing the Stage rather than failing: a failed run would paint the Stage and the
Freight red although the Stage still runs what it ran, healthy. The run carries the outcome
and a one-line reason as tags, and logs the reason as its last warning.
"""

from collections.abc import Iterator

import dagster as dg

from kargo_dagster.defs.dagster_internals import (
    add_run_tags,
    backfill_partitions,
    restate_verdicts,
)
from kargo_dagster.defs.descriptions import owners, stage_description, stage_kinds, tags
from kargo_dagster.defs.freight_store import freight_metadata
from kargo_dagster.defs.instance_queries import newer_promotion
from kargo_dagster.defs.link_metadata import stage_link_metadata
from kargo_dagster.defs.names import (
    HEALTH_CHECK,
    META_ACTOR,
    OUTCOME_REFUSED,
    OUTCOME_SUPERSEDED,
    TAG_ACTION,
    TAG_ACTOR,
    TAG_BACKFILL,
    TAG_FREIGHT,
    VERIFIED_CHECK,
    Action,
    dagster_identifier,
    stage_asset_key,
    warehouse_key,
)
from kargo_dagster.defs.promotion_runner import promote as run_stage_promotion
from kargo_dagster.defs.promotion_runner import result_metadata
from kargo_dagster.defs.promotion_summary import promotion_summary
from kargo_dagster.defs.promotion_targets import stage_gate
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.defs.run_tags import actor_of, auto_promoted, promotion_tags, reason_tags
from kargo_dagster.deployment_checks import pool_name
from kargo_dagster.protection import PROMOTERS_ANNOTATION, refusal
from kargo_dagster.spec import Catalog, FreightRequest, ProjectManifests, Stage


def upstream_keys(project: ProjectManifests, request: FreightRequest) -> list[dg.AssetKey]:
    """The assets a Stage's request depends on: its upstream Stages, or its Warehouse."""
    origin = request.origin.name
    keys = [stage_asset_key(project, name, origin) for name in request.sources.stages]
    if request.sources.direct:
        keys.insert(0, warehouse_key(project.name, origin))
    return keys


def build_stage_asset(
    *,
    catalog: Catalog,
    project: ProjectManifests,
    stage: Stage,
    request: FreightRequest,
    partitions_def: dg.DynamicPartitionsDefinition,
) -> dg.AssetsDefinition:
    """The asset that promotes the Freight of ``request``'s origin into ``stage``."""
    name = stage.metadata.name
    origin = request.origin.name
    key = stage_asset_key(project, name, origin)
    source = stage.source

    @dg.asset(
        key=key,
        partitions_def=partitions_def,
        # A refused or superseded promotion materializes nothing (see the module's docstring).
        output_required=False,
        deps=upstream_keys(project, request),
        group_name=dagster_identifier(project.name),
        pool=pool_name(project.name, name),
        kinds=stage_kinds(project, stage),
        owners=owners(stage.metadata),
        tags=tags(stage.metadata),
        description=stage_description(stage, origin),
        metadata={
            "kargo/stage": name,
            "kargo/origin": origin,
            "kargo/manifest": dg.MetadataValue.path(f"{source.file}:{source.line}"),
            **stage_link_metadata(project, stage),
        },
    )
    def promote(
        context: dg.AssetExecutionContext, kargo: KargoResource
    ) -> Iterator[dg.MaterializeResult]:
        partition_key = context.partition_key
        instance = context.instance
        run = instance.get_run_by_id(context.run.run_id)
        launched_with = run.tags if run else context.run.tags
        tags = promotion_tags(
            launched_with, project=project.name, stage=name, freight=partition_key
        )
        add_run_tags(instance, context.run.run_id, tags)
        chosen = backfill_choice(context, partitions_def)
        if chosen is not None and chosen != partition_key:
            decline(
                context,
                OUTCOME_SUPERSEDED,
                f"Superseded: this backfill selects several Freight for Stage {name} and "
                f"promotes only the newest of them, {chosen}; this run changed nothing",
            )
            return
        # One promotion per Stage runs at a time; a request that waited its turn while a newer
        # one for the same Stage was made gives way to it, so the Stage goes straight to what
        # was asked for last instead of passing through every request in between.
        newer = newer_promotion(
            instance,
            context.run.run_id,
            context.asset_key,
            backfill=context.run.tags.get(TAG_BACKFILL) if chosen is not None else None,
        )
        if newer is not None:
            wanted = newer.tags.get(TAG_FREIGHT) or newer.tags.get("dagster/partition", "?")
            decline(
                context,
                OUTCOME_SUPERSEDED,
                f"Superseded: a newer promotion into Stage {name} (run {newer.run_id}, "
                f"Freight {wanted}) was requested while this one waited; this run changed "
                "nothing",
            )
            return
        # A protected Stage takes manual promotions only from the people it lists.
        if not auto_promoted(launched_with, project.name):
            protected = refusal(
                name,
                stage.metadata.annotations,
                PROMOTERS_ANNOTATION,
                actor_of(launched_with),
                kargo.groups,
            )
            if protected is not None:
                decline(context, OUTCOME_REFUSED, f"Refused: {protected}")
                return
        # The gate: the Freight's record and its availability, read together.
        availability, freight = stage_gate(
            instance, project, stage=name, request=request, freight=partition_key
        )
        if freight is None or not availability.available:
            for label, detail in availability.details.items():
                context.log.info(f"{label}: {detail}")
            decline(context, OUTCOME_REFUSED, f"Refused: {availability.reason}")
            return
        context.log.info(availability.reason)
        promotion_metadata: dict[str, dg.MetadataValue] = {"steps": dg.MetadataValue.int(0)}
        steps: list[dict[str, str]] = []
        commits: dict[str, str] = {}
        if not stage.is_control_flow:
            result = run_stage_promotion(
                context,
                catalog=catalog,
                project=project,
                stage=stage,
                freight=freight,
                kargo=kargo,
                actor=tags[TAG_ACTOR],
                rollback=tags[TAG_ACTION] == Action.ROLLBACK,
            )
            promotion_metadata = result_metadata(result)
            steps = [
                {"alias": x.alias, "uses": x.uses, "status": x.status, "message": x.message or ""}
                for x in result.steps
            ]
            commits = result.commit_urls()
            for step in result.steps:
                context.log.info(
                    f"step {step.alias} ({step.uses}): {step.status}"
                    + (f": {step.message}" if step.message else "")
                )
            if not result.succeeded:
                reason = (
                    f"Promotion of {partition_key} into Stage {name} "
                    f"{result.phase.lower()}: {result.message}"
                )
                add_run_tags(instance, context.run.run_id, reason_tags(reason))
                keep_verdicts(context, reason)
                raise dg.Failure(
                    description=reason, metadata=promotion_metadata, allow_retries=False
                )
        yield dg.MaterializeResult(
            metadata={
                **freight_metadata(freight),
                "availability": dg.MetadataValue.text(availability.reason),
                "action": dg.MetadataValue.text(tags[TAG_ACTION]),
                META_ACTOR: dg.MetadataValue.text(tags[TAG_ACTOR]),
                **promotion_metadata,
                "summary": dg.MetadataValue.md(
                    promotion_summary(
                        stage=name,
                        freight=freight,
                        action=tags[TAG_ACTION],
                        actor=tags[TAG_ACTOR],
                        availability=availability.reason,
                        steps=steps,
                        commits=commits,
                        partition_key=partition_key,
                    )
                ),
            }
        )

    return promote


def backfill_choice(
    context: dg.AssetExecutionContext, partitions_def: dg.DynamicPartitionsDefinition
) -> str | None:
    """The one Freight a backfill promotes into this Stage: the newest it selects.

    Promoting each selected Freight one after another would take the Stage through every
    version in turn; Kargo promotes one Freight at a time, so a backfill is taken as asking
    for the newest. None when the run is not part of a backfill of several partitions.
    """
    backfill = context.run.tags.get(TAG_BACKFILL)
    if not backfill:
        return None
    selected = backfill_partitions(context.instance, backfill, context.asset_key)
    if not selected or len(selected) < 2:
        return None
    # Dynamic partitions keep the order the Warehouse recorded the Freight in.
    order = {
        key: index
        for index, key in enumerate(
            partitions_def.get_partition_keys(dynamic_partitions_store=context.instance)
        )
    }
    return max(selected, key=lambda key: order.get(key, -1))


def decline(context: dg.AssetExecutionContext, outcome: str, reason: str) -> None:
    """End the promotion without materializing the Stage, saying why on the run."""
    add_run_tags(context.instance, context.run.run_id, reason_tags(reason, outcome))
    keep_verdicts(context, reason)
    context.log.warning(reason)


def keep_verdicts(context: dg.AssetExecutionContext, reason: str) -> None:
    """Keep the Stage's checks showing the verdicts on the Freight it still holds.

    This run's checks end skipped; Dagster's graph would show them as the Stage's checks.
    """
    restated = restate_verdicts(
        context.instance, context.run, context.asset_key, (HEALTH_CHECK, VERIFIED_CHECK), reason
    )
    if restated:
        context.log.info(
            f"The Stage still holds what it held; its {' and '.join(restated)} verdicts "
            "on that Freight stay current"
        )
