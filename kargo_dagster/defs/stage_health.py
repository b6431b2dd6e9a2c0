"""The ``health`` check's answer: Kargo's Argo CD health of what the promotion synced.

The Stage partition's latest materialization (its promotion) carries, under ``healthChecks``,
the Applications each ``argocd-update`` step synced and the revisions they must be at
(Kargo's ``Promotion.status.healthChecks``). Their health is Kargo's (see
:mod:`kargo_dagster.verification.argocd_health`); the check waits, up to the Argo CD
connection's ``health_timeout_seconds``, for an answer that no longer moves (Healthy or
Unhealthy), asking Argo CD to refresh Applications whose status is stale, as Kargo does.
"""

from typing import Any

import dagster as dg

from kargo_dagster.clients.argocd.applications import ArgoCDError
from kargo_dagster.defs.instance_queries import latest_materialization
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.redaction import redact_text
from kargo_dagster.verification.argocd_health import (
    HealthState,
    StageHealth,
    hard_refresh_patch,
    settle,
)

__all__ = ["HEALTH_CHECKS_METADATA", "registered_health_checks", "stage_health_result"]

# The materialization metadata entry the promotion records its health criteria under.
HEALTH_CHECKS_METADATA = "healthChecks"


def registered_health_checks(
    instance: dg.DagsterInstance, asset_key: dg.AssetKey, partition_key: str
) -> list[Any]:
    """The health criteria the partition's latest promotion registered (none: empty)."""
    promotion = latest_materialization(instance, asset_key, partition_key)
    if promotion is None:
        return []
    entry = promotion.metadata.get(HEALTH_CHECKS_METADATA)
    value = entry.value if entry is not None else None
    return list(value) if isinstance(value, list) else []


def stage_health_result(criteria: list[Any], kargo: KargoResource) -> dg.AssetCheckResult:
    """Wait for the registered Applications to settle and judge the Stage's health."""
    if not criteria:
        return dg.AssetCheckResult(
            passed=True,
            metadata={"status": "Healthy", "applications": "none registered"},
            description="No Argo CD applications are registered for this Stage.",
        )
    settings = kargo.argocd_settings()
    try:
        client = kargo.argocd_applications()
    except ArgoCDError as error:
        return dg.AssetCheckResult(
            passed=False,
            metadata={"status": HealthState.UNKNOWN.value},
            description=f"Unknown: cannot connect to Argo CD: {redact_text(str(error))}",
        )

    def refresh(namespace: str, name: str) -> None:
        client.patch(namespace, name, hard_refresh_patch())

    try:
        health = settle(
            client,
            criteria,
            timeout=settings.health_timeout_seconds,
            interval=client.poll_interval,
            refresh=refresh,
            default_namespace=client.default_namespace,
        )
    finally:
        client.close()
    return _result(health, settings.url)


def _result(health: StageHealth, ui_url: str | None) -> dg.AssetCheckResult:
    rows = [
        dg.TableRecord(
            {
                "namespace": app.namespace,
                "name": app.name,
                "status": app.status.value,
                "issues": "; ".join(app.issues),
            }
        )
        for app in health.apps
    ]
    metadata: dict[str, dg.MetadataValue] = {
        "status": dg.MetadataValue.text(health.status.value),
        "applications": dg.MetadataValue.table(
            records=rows,
            schema=dg.TableSchema(
                columns=[
                    dg.TableColumn("namespace", "string"),
                    dg.TableColumn("name", "string"),
                    dg.TableColumn("status", "string"),
                    dg.TableColumn("issues", "string"),
                ]
            ),
        ),
        "health": dg.MetadataValue.json(health.to_json()),
    }
    if ui_url:
        base = ui_url.rstrip("/")
        for app in health.apps:
            metadata[f"argocd/{app.namespace}/{app.name}"] = dg.MetadataValue.url(
                f"{base}/applications/{app.namespace}/{app.name}"
            )
    return dg.AssetCheckResult(
        passed=health.status == HealthState.HEALTHY,
        metadata=metadata,
        description=health.description,
    )
