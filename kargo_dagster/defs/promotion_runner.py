"""Running a Stage's promotion steps inside the Stage asset, and showing the result.

The Stage asset has already checked that the Freight is available. This module gathers what
the engine needs (the Freight collection the Stage will hold, the Kargo names, credentials,
the metadata store, tool paths, the work and cache directories), runs the steps, and turns
the outcome into what Dagster shows: a table of steps with their status, duration and
message, the outputs, and links to pushed commits; or a failure that names the step.
"""

import json
from typing import Any

import dagster as dg

from kargo_dagster.clients.argocd.applications import ArgoCDError
from kargo_dagster.defs.dagster_internals import storage_session
from kargo_dagster.defs.freight_aliases import current_aliases
from kargo_dagster.defs.instance_queries import current_freight, recorded_freight
from kargo_dagster.defs.metadata_store import DagsterMetadataStore
from kargo_dagster.defs.names import stage_asset_key, warehouse_key
from kargo_dagster.defs.resources import KargoResource
from kargo_dagster.defs.stage_health import HEALTH_CHECKS_METADATA
from kargo_dagster.freight import Freight
from kargo_dagster.promotion.builtin import builtin_registry
from kargo_dagster.promotion.engine import PromotionResult, PromotionServices, run_promotion
from kargo_dagster.promotion.expansion import expand_steps
from kargo_dagster.promotion.step import PromotionInfo, StepCapability
from kargo_dagster.spec import Catalog, ProjectManifests, Stage


def freight_collection(
    instance: dg.DagsterInstance, project: ProjectManifests, stage: Stage, freight: Freight
) -> dict[str, Freight]:
    """What the Stage holds after the promotion: ``freight`` plus its other origins' Freight."""
    collection = {freight.origin.name: freight}
    for request in stage.spec.requested_freight:
        origin = request.origin.name
        if origin in collection:
            continue
        current = current_freight(instance, stage_asset_key(project, stage.metadata.name, origin))
        if current is not None:
            held = recorded_freight(
                instance, warehouse_key(project.name, origin), current.partition_key
            )
            if held is not None:
                collection[origin] = held
    return collection


def _current_alias(
    instance: dg.DagsterInstance, project: str, freight: Freight, partition_key: str
) -> str:
    with storage_session(instance) as session:
        aliases = current_aliases(session, project, {freight.origin.name: [partition_key]})
    return aliases.get(partition_key, "")


def promote(
    context: dg.AssetExecutionContext,
    *,
    catalog: Catalog,
    project: ProjectManifests,
    stage: Stage,
    freight: Freight,
    kargo: KargoResource,
    actor: str,
    rollback: bool,
) -> PromotionResult:
    """Run ``stage``'s promotion of ``freight``; the result says how each step went."""
    instance = context.instance
    info = PromotionInfo(
        project=project.name,
        stage=stage.metadata.name,
        name=f"{stage.metadata.name}.{context.run.run_id[:8]}.{freight.id[:7]}",
        freight=freight,
        collection=freight_collection(instance, project, stage, freight),
        actor=actor,
        rollback=rollback,
        freight_alias=_current_alias(instance, project.name, freight, context.partition_key),
    )
    work_dir = kargo.resolved_work_dir()
    steps = expand_steps(stage, catalog=catalog, project=project)
    registry = builtin_registry()
    # Only a promotion that talks to Argo CD needs (and can be stopped by) its connection.
    try:
        needs_argocd = registry.need(StepCapability.ACCESS_ARGOCD, (s.uses for s in steps))
        argocd = kargo.argocd_applications() if needs_argocd else None
    except ArgoCDError as error:
        raise dg.Failure(description=str(error), allow_retries=False) from None
    services = PromotionServices(
        credentials=kargo.credential_store(project.name),
        metadata=DagsterMetadataStore(instance, project),
        tools=kargo.tool_paths(),
        git_cache_dir=work_dir / "git-cache",
        log=context.log,  # type: ignore[arg-type]
        argocd=argocd,
        attempt_budget_seconds=kargo.step_budget_seconds,
        resource_data=kargo.resource_data(),
    )
    try:
        return run_promotion(
            steps=steps,
            registry=registry,
            promotion=info,
            stage_vars=stage.spec.vars,
            template_vars=stage.spec.promotion_template.spec.vars
            if stage.spec.promotion_template
            else [],
            services=services,
            work_root=work_dir / "promotions",
        )
    finally:
        if argocd is not None:
            argocd.close()


def result_metadata(result: PromotionResult) -> dict[str, dg.MetadataValue]:
    """The promotion as Dagster metadata: steps table, outputs and pushed commits."""
    rows = [
        dg.TableRecord(
            {
                "alias": step.alias,
                "uses": step.uses,
                "status": step.status,
                "seconds": round(step.seconds, 3),
                "message": step.message or "",
            }
        )
        for step in result.steps
    ]
    metadata: dict[str, dg.MetadataValue] = {
        "steps": dg.MetadataValue.table(
            records=rows,
            schema=dg.TableSchema(
                columns=[
                    dg.TableColumn("alias", "string"),
                    dg.TableColumn("uses", "string"),
                    dg.TableColumn("status", "string"),
                    dg.TableColumn("seconds", "float"),
                    dg.TableColumn("message", "string"),
                ]
            ),
        ),
        "outputs": dg.MetadataValue.json(_jsonable(result.outputs)),
        "phase": dg.MetadataValue.text(result.phase),
    }
    for alias, url in result.commit_urls().items():
        metadata[f"commit/{alias}"] = dg.MetadataValue.url(url)
    changes = changes_markdown(result)
    if changes:
        metadata["changes"] = dg.MetadataValue.md(changes)
    health_checks = result.health_checks()
    if health_checks:
        # What the Stage's health check looks at: the Applications argocd-update synced and
        # the revisions they must be at (Kargo's Promotion.status.healthChecks).
        metadata[HEALTH_CHECKS_METADATA] = dg.MetadataValue.json(_jsonable(health_checks))
    return metadata


def changes_markdown(result: PromotionResult) -> str:
    """Each commit the promotion made: its files with lines added and removed, and its patch."""
    sections: list[str] = []
    for alias, changes in result.commit_changes():
        commit = str(changes.get("commit", ""))[:7]
        rows = [
            f"| `{f['path']}` | {_lines(f.get('added'))} | {_lines(f.get('deleted'))} |"
            for f in changes.get("files", [])
        ]
        table = "| file | added | removed |\n|---|---:|---:|\n" + "\n".join(rows)
        # A fence inside the patch would end the code block early.
        patch = str(changes.get("patch", "")).rstrip("\n").replace("```", "` ` `") + "\n"
        cut = (
            "\n\n*The patch is cut short here; the commit has the rest.*"
            if changes.get("truncated")
            else ""
        )
        sections.append(f"### {alias}: commit {commit}\n\n{table}\n\n```diff\n{patch}```{cut}")
    return "\n\n".join(sections)


def _lines(count: object) -> str:
    return "binary" if count is None else str(count)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
