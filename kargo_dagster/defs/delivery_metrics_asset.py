"""The ``[project, "delivery-metrics"]`` asset: deployment frequency, lead time, change failure
rate and time to restore per Stage, computed from the instance's history when materialized.

Its sources: the Stage assets' materializations (successful promotions), the runs tagged for
the Project's Stages that ended without one (failed promotions; superseded requests are left
out), the ``verified`` checks' evaluations, and the Warehouse materializations that recorded
each Freight (its creation). The rules are in :mod:`kargo_dagster.delivery_metrics`.
"""

import time

import dagster as dg

from kargo_dagster.defs.availability_facts import VERIFIED_CHECK, stage_asset_key
from kargo_dagster.defs.dagster_internals import check_evaluations
from kargo_dagster.defs.history import collect_history
from kargo_dagster.defs.metrics_chart import chart_markdown, metrics_png
from kargo_dagster.defs.names import OUTCOME_SUPERSEDED, dagster_identifier, warehouse_key
from kargo_dagster.delivery_metrics import (
    PromotionRecord,
    StageMetrics,
    VerificationRecord,
    stage_metrics,
)
from kargo_dagster.spec import ProjectManifests

__all__ = ["build_delivery_metrics_asset"]

# How far back the metrics look, and how many records per Stage they read.
WINDOW_DAYS = 30.0
_LIMIT = 1000


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
    promotions: list[PromotionRecord] = []
    verifications: list[VerificationRecord] = []
    created: dict[str, float] = {}
    for name in project.warehouses:
        for record in instance.fetch_materializations(
            warehouse_key(project.name, name), limit=_LIMIT
        ).records:
            if record.partition_key is not None:
                created.setdefault(str(record.partition_key), record.timestamp)
    stages = project.stage_order()
    for stage in stages:
        promoted_runs: set[str] = set()
        for request in project.stages[stage].spec.requested_freight:
            key = stage_asset_key(project, stage, request.origin.name)
            materialized = instance.fetch_materializations(key, limit=_LIMIT).records
            promoted_runs.update(r.run_id for r in materialized)
            promotions.extend(
                PromotionRecord(stage, str(r.partition_key), r.timestamp, succeeded=True)
                for r in materialized
                if r.partition_key is not None
            )
            verifications.extend(
                VerificationRecord(stage, e.partition_key, e.timestamp, e.passed)
                for e in check_evaluations(instance, dg.AssetCheckKey(key, VERIFIED_CHECK))
                if e.partition_key is not None
            )
        for row in collect_history(instance, project.name, stage, limit=_LIMIT):
            if row["result"] not in ("failed", OUTCOME_SUPERSEDED) or row["runID"] in promoted_runs:
                continue
            if row["action"] not in ("promote", "auto-promote", "rollback"):
                continue
            promotions.append(
                PromotionRecord(
                    stage,
                    row["freight"],
                    row["finishedAt"],
                    succeeded=False,
                    superseded=row["result"] == OUTCOME_SUPERSEDED,
                )
            )
    return stage_metrics(
        stages, promotions, verifications, created, now=time.time(), window_days=WINDOW_DAYS
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
