"""The ``[project, "delivery-metrics"]`` asset: deployment frequency, lead time, change failure
rate and time to restore per Stage, computed from the instance's history when materialized.

Its sources: the Stage assets' materializations (successful promotions), the runs tagged for
the Project's Stages that ended without one (failed promotions; superseded requests are left
out), the ``verified`` checks' evaluations, and the Warehouse materializations that recorded
each Freight (its creation). The rules are in :mod:`kargo_dagster.delivery_metrics`.
"""

import time

import dagster as dg

from kargo_dagster.defs.dagster_internals import storage_session
from kargo_dagster.defs.metrics_chart import chart_markdown, metrics_png
from kargo_dagster.defs.names import VERIFIED_CHECK, Action, dagster_identifier, warehouse_key
from kargo_dagster.defs.pipeline_state import PromotionRun, RunOutcome, stage_requests
from kargo_dagster.delivery_metrics import (
    PromotionRecord,
    StageMetrics,
    VerificationRecord,
    stage_metrics,
)
from kargo_dagster.spec import ProjectManifests

__all__ = ["build_delivery_metrics_asset"]

# How far back the metrics look.
WINDOW_DAYS = 30.0
# The actions that are promotion attempts (a re-verification promotes nothing).
_PROMOTING = tuple(action for action in Action if action.promotes)


def build_delivery_metrics_asset(project: ProjectManifests) -> dg.AssetsDefinition:
    """The Project's delivery-metrics asset (materialize it to refresh the numbers)."""

    @dg.asset(
        key=[project.name, "delivery-metrics"],
        group_name=dagster_identifier(project.name),
        kinds={"kargo"},
        description=(
            f"Delivery metrics of Project {project.name} over the last {WINDOW_DAYS:g} days, per "
            "Stage: deployment frequency, lead time, change failure rate, time to restore."
        ),
    )
    def delivery_metrics(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        rows = _metrics(context.instance, project)
        return dg.MaterializeResult(
            metadata={
                "metrics": dg.MetadataValue.table(
                    [dg.TableRecord(_row(r)) for r in rows],
                    schema=dg.TableSchema(
                        columns=[
                            dg.TableColumn("stage", "string"),
                            dg.TableColumn("deployments", "int"),
                            dg.TableColumn("per_day", "float"),
                            dg.TableColumn("lead_time_h", "float"),
                            dg.TableColumn("change_failure_rate", "float"),
                            dg.TableColumn("time_to_restore_h", "float"),
                        ]
                    ),
                ),
                "summary": dg.MetadataValue.md(_markdown(rows)),
                "chart": dg.MetadataValue.md(chart_markdown(metrics_png(rows))),
            }
        )

    return delivery_metrics


def _metrics(instance: dg.DagsterInstance, project: ProjectManifests) -> list[StageMetrics]:
    now = time.time()
    since = now - WINDOW_DAYS * 86400
    requests = stage_requests(project)
    stage_of = {asset: name for name, _, asset in requests}
    with storage_session(instance) as session:
        materialized = session.materializations_after(stage_of, since)
        evaluations = session.check_evaluations_since(stage_of, VERIFIED_CHECK, since)
        ended = session.finished_runs(project.name, [dg.DagsterRunStatus.FAILURE], since)
        promoted_runs = {row.run_id for row in materialized}
        failed = [
            run
            for run in map(PromotionRun.from_row, ended)
            if run.run_id not in promoted_runs and run.action in _PROMOTING
        ]
        freight = {row.partition for row in materialized if row.partition}
        created = session.first_materialization_times(
            [warehouse_key(project.name, name) for name in project.warehouses], freight
        )
    promotions = [
        PromotionRecord(stage_of[row.asset], row.partition, row.timestamp, succeeded=True)
        for row in materialized
        if row.partition is not None and row.asset in stage_of
    ]
    promotions.extend(
        PromotionRecord(
            stage,
            run.freight,
            run.ended or run.created,
            succeeded=False,
            superseded=run.outcome == RunOutcome.SUPERSEDED,
        )
        for run in failed
        for stage in run.stages
        if stage in project.stages
    )
    # A verdict restated after a promotion that changed nothing keeps its time: counted once.
    verifications = list(
        dict.fromkeys(
            VerificationRecord(
                stage_of[row.asset], row.partition, row.evaluated_at, row.status == "SUCCEEDED"
            )
            for row in evaluations
            if row.asset in stage_of and row.evaluated_at is not None
        )
    )
    return stage_metrics(
        project.stage_order(),
        promotions,
        verifications,
        created,
        now=now,
        window_days=WINDOW_DAYS,
    )


def _hours(seconds: float | None) -> float | None:
    return round(seconds / 3600, 2) if seconds is not None else None


def _row(metrics: StageMetrics) -> dict[str, str | int | float | None]:
    rate = metrics.change_failure_rate
    return {
        "stage": metrics.stage,
        "deployments": metrics.deployments,
        "per_day": round(metrics.deployments_per_day, 2),
        "lead_time_h": _hours(metrics.lead_time_seconds),
        "change_failure_rate": round(rate, 3) if rate is not None else None,
        "time_to_restore_h": _hours(metrics.time_to_restore_seconds),
    }


def _markdown(rows: list[StageMetrics]) -> str:
    lines = [
        "| Stage | Deployments | Per day | Lead time | Change failure rate | Time to restore |",
        "|---|---|---|---|---|---|",
    ]
    lines.extend(
        f"| {m.stage} | {m.deployments} | {m.deployments_per_day:.2f} | "
        f"{_duration(m.lead_time_seconds)} | {_percent(m.change_failure_rate)} | "
        f"{_duration(m.time_to_restore_seconds)} |"
        for m in rows
    )
    return "\n".join(lines)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.1f}h"


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"
