"""The gates between Stages: ``health`` and ``verified``, blocking checks per Freight.

Both checks are partitioned by the Stage's Freight, so each promotion is judged on its own and
a downstream Stage can ask whether *this* Freight was verified here. They are blocking: in a run
that promotes through several Stages, a failed check stops the Stages after it.
"""

import dagster as dg

from kargo_dagster.defs.dagster_internals import add_run_tags, mark_partition_attempt_failed
from kargo_dagster.defs.names import HEALTH_CHECK, VERIFIED_CHECK
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.defs.run_tags import reason_tags
from kargo_dagster.defs.stage_health import registered_health_checks, stage_health_result
from kargo_dagster.defs.stage_verification import analysis_verification
from kargo_dagster.spec import Catalog, ProjectManifests, Stage


def build_stage_checks(
    *,
    catalog: Catalog,
    project: ProjectManifests,
    stage: Stage,
    asset_key: dg.AssetKey,
    partitions_def: dg.DynamicPartitionsDefinition,
) -> list[dg.AssetChecksDefinition]:
    """The ``health`` and ``verified`` checks of one Stage asset."""
    name = stage.metadata.name

    def evaluate_health(
        context: dg.AssetCheckExecutionContext, kargo: KargoResource
    ) -> dg.AssetCheckResult:
        # argocd-update steps register the Applications they synced; with none registered
        # the Stage is healthy, as in Kargo.
        criteria = registered_health_checks(context.instance, asset_key, context.partition_key)
        return stage_health_result(criteria, kargo)

    @dg.asset_check(
        asset=asset_key,
        name=HEALTH_CHECK,
        blocking=True,
        partitions_def=partitions_def,
        description="Argo CD health of the applications this Stage's promotion updated.",
    )
    def health(context: dg.AssetCheckExecutionContext, kargo: KargoResource) -> dg.AssetCheckResult:
        return explained(context, HEALTH_CHECK, evaluate_health(context, kargo))

    @dg.asset_check(
        asset=asset_key,
        name=VERIFIED_CHECK,
        blocking=True,
        partitions_def=partitions_def,
        description=(
            "Verification of the promoted Freight: waits for health, then runs the Stage's "
            "verification. Downstream Stages accept only Freight that passed it."
        ),
    )
    def verified(
        context: dg.AssetCheckExecutionContext, kargo: KargoResource
    ) -> dg.AssetCheckResult:
        return explained(context, VERIFIED_CHECK, verify(context, kargo))

    def verify(context: dg.AssetCheckExecutionContext, kargo: KargoResource) -> dg.AssetCheckResult:
        healthy = evaluate_health(context, kargo)
        if not healthy.passed:
            return dg.AssetCheckResult(
                passed=False,
                metadata=healthy.metadata,
                description="The Stage is not healthy, so its Freight cannot be verified.",
            )
        if stage.is_control_flow:
            return dg.AssetCheckResult(
                passed=True,
                metadata={"phase": "Successful"},
                description="Control-flow Stage: Freight is verified as soon as it arrives.",
            )
        verification = stage.spec.verification
        if verification is None or not verification.analysis_templates:
            return dg.AssetCheckResult(
                passed=True,
                metadata={"phase": "Successful"},
                description="The Stage has no verification: Freight is verified once healthy.",
            )
        return analysis_verification(context, kargo, catalog=catalog, project=project, stage=stage)

    def explained(
        context: dg.AssetCheckExecutionContext, check: str, result: dg.AssetCheckResult
    ) -> dg.AssetCheckResult:
        # A failed blocking check fails the run with Dagster's own error; the run's one-line
        # reason says which check failed for which Freight where, and why, and the Freight's
        # partition of the Stage shows failed at a glance.
        if not result.passed:
            why = result.description or "no reason given"
            reason = f"{check} failed for Freight {context.partition_key} in Stage {name}: {why}"
            add_run_tags(context.instance, context.run.run_id, reason_tags(reason))
            mark_partition_attempt_failed(
                context.instance, context.run, asset_key, context.partition_key
            )
        return result

    return [health, verified]
