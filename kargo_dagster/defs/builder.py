"""Turning loaded Kargo manifests into Dagster definitions (DESIGN.md §1).

Per Project: one asset per Warehouse, partitioned by that Warehouse's own dynamic partitions
(its Freight); one asset per Stage and requested origin, partitioned by the same definition and
depending on its upstream Stages (or the Warehouse, for ``direct``); and the ``health`` and
``verified`` checks on every Stage asset.
"""

import logging
import os
from collections.abc import Mapping
from typing import Any

import dagster as dg

from kargo_dagster.defs.delivery_metrics_asset import build_delivery_metrics_asset
from kargo_dagster.defs.descriptions import owners, tags, warehouse_description, warehouse_kinds
from kargo_dagster.defs.freight_status_sensor import build_freight_status_sensor
from kargo_dagster.defs.manual_freight import build_assemble_job
from kargo_dagster.defs.names import dagster_identifier, freight_partitions_name, warehouse_key
from kargo_dagster.defs.pipeline_view import build_pipeline_spec
from kargo_dagster.defs.promotion_sensor import build_promotion_sensor
from kargo_dagster.defs.resources import KargoResource, literal_secrets, misnamed_resource_data
from kargo_dagster.defs.stage_assets import build_stage_asset
from kargo_dagster.defs.stage_checks import build_stage_checks
from kargo_dagster.defs.stage_jobs import PromoteJob, build_stage_jobs
from kargo_dagster.defs.warehouse_sensors import build_warehouse_sensor
from kargo_dagster.errors import KargoDagsterError, ManifestError, ManifestProblem
from kargo_dagster.promotion.static_checks import check_catalog
from kargo_dagster.spec import Catalog, ProjectManifests, load_manifests

_log = logging.getLogger(__name__)


def build_project_definitions(
    *,
    catalog: Catalog,
    project: ProjectManifests,
    kargo: KargoResource,
    min_warehouse_interval_seconds: int | None = None,
) -> dg.Definitions:
    """The assets, checks and sensors of one Kargo Project.

    Args:
        catalog: Every loaded manifest (for ClusterPromotionTasks).
        project: The Project's manifests.
        kargo: The settings its sensors use; the same object should be the definitions'
            ``kargo`` resource (``build_definitions`` and ``load_definitions`` do that).
        min_warehouse_interval_seconds: The floor of every Warehouse sensor's interval.
    """
    partitions = {
        name: dg.DynamicPartitionsDefinition(name=freight_partitions_name(project.name, name))
        for name in project.warehouses
    }
    assets: list[dg.AssetsDefinition | dg.AssetSpec] = []
    checks: list[dg.AssetChecksDefinition] = []
    jobs: list[dg.JobDefinition | PromoteJob] = []
    promote_jobs: dict[dg.AssetKey, PromoteJob] = {}
    sensors = [
        build_warehouse_sensor(
            project=project,
            warehouse=warehouse,
            kargo=kargo,
            min_interval_seconds=min_warehouse_interval_seconds,
        )
        for warehouse in project.warehouses.values()
    ]
    for name, warehouse in project.warehouses.items():
        # Kargo lets Freight be assembled by hand for any Warehouse, Manual or not.
        jobs.append(build_assemble_job(project, warehouse))
        assets.append(
            dg.AssetSpec(
                key=warehouse_key(project.name, name),
                partitions_def=partitions[name],
                group_name=dagster_identifier(project.name),
                kinds=warehouse_kinds(warehouse),
                owners=owners(warehouse.metadata),
                tags=tags(warehouse.metadata),
                description=warehouse_description(warehouse),
                metadata={
                    "kargo/warehouse": name,
                    "kargo/manifest": dg.MetadataValue.path(
                        f"{warehouse.source.file}:{warehouse.source.line}"
                    ),
                },
            )
        )
    for stage_name in project.stage_order():
        stage = project.stages[stage_name]
        for request in stage.spec.requested_freight:
            partitions_def = partitions[request.origin.name]
            asset = build_stage_asset(
                catalog=catalog,
                project=project,
                stage=stage,
                request=request,
                partitions_def=partitions_def,
            )
            assets.append(asset)
            promote, approve = build_stage_jobs(project, stage, request, asset.key, partitions_def)
            promote_jobs[asset.key] = promote
            jobs.extend((promote, approve))
            checks.extend(
                build_stage_checks(
                    catalog=catalog, project=project, stage=stage, asset_key=asset.key
                )
            )
    sensors.append(build_freight_status_sensor(project))
    promotion_sensor = build_promotion_sensor(project, jobs=promote_jobs)
    if promotion_sensor is not None:
        sensors.append(promotion_sensor)
    assets.append(build_delivery_metrics_asset(project))
    assets.append(build_pipeline_spec(project))
    return dg.Definitions(assets=assets, asset_checks=checks, sensors=sensors, jobs=jobs)


def build_definitions(
    *,
    catalog: Catalog,
    resources: Mapping[str, Any] | None = None,
    min_warehouse_interval_seconds: int | None = None,
    executor: dg.ExecutorDefinition | None = dg.in_process_executor,
) -> dg.Definitions:
    """The definitions of every Project in ``catalog``, with the ``kargo`` resource.

    Args:
        catalog: The loaded manifests.
        resources: Resources to provide; ``kargo`` defaults to ``KargoResource()``.
        min_warehouse_interval_seconds: The floor of every Warehouse sensor's interval
            (default ``$KARGO_DAGSTER_MIN_WAREHOUSE_INTERVAL`` or 30).
        executor: How runs execute their steps. A promotion run is one Stage step and its
            checks, which run in order anyway, so by default they share the run's process
            (Dagster's multiprocess default would start a second Python process per step,
            seconds each); None leaves the choice to Definitions merged with these.

    Raises:
        ManifestError: A promotion, verification or Freight creation would fail once started
            (see :func:`kargo_dagster.promotion.static_checks.check_catalog`).
    """
    # What would stop a promotion half-way is refused here, so that the code location shows
    # it when it loads instead of a promotion failing after it cloned or pushed.
    problems = check_catalog(catalog)
    if problems:
        raise ManifestError(problems)
    provided = {"kargo": KargoResource(), **(resources or {})}
    kargo = provided["kargo"]
    if not isinstance(kargo, KargoResource):
        raise KargoDagsterError(
            f"resources['kargo'] must be a KargoResource, not {type(kargo).__name__}"
        )
    literal = literal_secrets(kargo)
    if literal:
        raise KargoDagsterError(
            f"KargoResource {', '.join(literal)}: give secrets as dg.EnvVar('NAME'); Dagster "
            "stores a resource's settings with every run and shows them in the UI, and only "
            "an environment variable's name is stored"
        )
    misnamed = misnamed_resource_data(kargo)
    if misnamed:
        raise KargoDagsterError(
            f"KargoResource {', '.join(misnamed)}: key each ConfigMap or Secret as "
            "'<project>/<name>' (shared ones go in shared_config_maps and shared_secrets)"
        )
    projects = [
        build_project_definitions(
            catalog=catalog,
            project=p,
            kargo=kargo,
            min_warehouse_interval_seconds=min_warehouse_interval_seconds,
        )
        for p in catalog.projects.values()
    ]
    return dg.Definitions.merge(*projects, dg.Definitions(resources=provided, executor=executor))


def load_definitions(
    path: str | os.PathLike[str],
    *,
    resources: Mapping[str, Any] | None = None,
    min_warehouse_interval_seconds: int | None = None,
    executor: dg.ExecutorDefinition | None = dg.in_process_executor,
) -> dg.Definitions:
    """Load the Kargo manifests under ``path`` and build their Dagster definitions.

    Args:
        path: A manifest file, or a directory searched recursively for ``*.yaml``/``*.yml``.
        resources: Resources to provide; ``kargo`` defaults to ``KargoResource()``.
        min_warehouse_interval_seconds: The floor of every Warehouse sensor's interval.
        executor: How runs execute their steps (default: in the run's own process; see
            :func:`build_definitions`).

    Returns:
        The definitions of every Project found.

    Raises:
        ManifestError: The manifests are invalid; the error lists every problem as
            ``file:line: Kind/name: field: message``.

    Examples:
        >>> defs = load_definitions("stages")  # doctest: +SKIP
    """
    warnings: list[ManifestProblem] = []
    catalog = load_manifests(path, warnings=warnings)
    for warning in warnings:
        # What loads but does nothing here (or was skipped) shows in the code server's log.
        _log.warning(str(warning))
    return build_definitions(
        catalog=catalog,
        resources=resources,
        min_warehouse_interval_seconds=min_warehouse_interval_seconds,
        executor=executor,
    )
