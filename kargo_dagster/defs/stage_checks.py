"""The gates between Stages: ``health`` and ``verified``, blocking checks of each promotion.

Each check runs in the run that promotes a Freight (or re-verifies it) and judges that
promotion: its verdict names the Stage partition's materialization it checked, so a downstream
Stage can ask whether *this* Freight was verified here. The checks themselves are not
partitioned: Dagster shows a partitioned check on the graph as the sum of every Freight's
verdict, so one Freight that once failed would mark the Stage failed for good; unpartitioned,
the graph shows the verdicts on the promotion the Stage holds now. They are blocking: in a
run that promotes through several Stages, a failed check stops the Stages after it.
"""

from collections.abc import Callable, Iterator

import dagster as dg

from kargo_dagster.defs.dagster_internals import add_run_tags, mark_partition_attempt_failed
from kargo_dagster.defs.names import HEALTH_CHECK, VERIFIED_CHECK
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.defs.run_failures import check_failure
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

    def gate(
        check: str,
        description: str,
        judge: Callable[[dg.AssetCheckExecutionContext, KargoResource], dg.AssetCheckResult],
    ) -> dg.AssetChecksDefinition:
        # A multi-asset check of one check only because it may yield its verdict and then
        # fail its step (see ``explained``); the op keeps the name an asset check would get.
        @dg.multi_asset_check(
            specs=[
                dg.AssetCheckSpec(check, asset=asset_key, blocking=True, description=description)
            ],
            name=f"{asset_key.to_python_identifier()}_{check}",
        )
        def evaluate(
            context: dg.AssetCheckExecutionContext, kargo: KargoResource
        ) -> Iterator[dg.AssetCheckResult]:
            yield from explained(context, check, judge(context, kargo))

        return evaluate

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
    ) -> Iterator[dg.AssetCheckResult]:
        yield result
        if result.passed:
            return
        # A failed blocking check fails its step; ending it ourselves makes the step's error,
        # at the end of the run's log, one line saying which check failed for which Freight
        # where and why (Dagster's own error names only the check). The run carries the same
        # line as its reason, and the Freight's partition of the Stage shows failed.
        why = result.description or "no reason given"
        reason = f"{check} failed for Freight {context.partition_key} in Stage {name}: {why}"
        add_run_tags(context.instance, context.run.run_id, reason_tags(reason))
        mark_partition_attempt_failed(
            context.instance, context.run, asset_key, context.partition_key
        )
        raise check_failure(reason, dg.AssetCheckKey(asset_key, check))

    return [
        gate(
            HEALTH_CHECK,
            "Argo CD health of the applications this Stage's promotion updated.",
            evaluate_health,
        ),
        gate(
            VERIFIED_CHECK,
            "Verification of the promoted Freight: waits for health, then runs the Stage's "
            "verification. Downstream Stages accept only Freight that passed it.",
            verify,
        ),
    ]
