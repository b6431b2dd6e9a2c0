"""What the Dagster UI shows about each Kargo object: descriptions, kinds, owners, tags."""

from kargo_dagster.spec import ObjectMeta, ProjectManifests, Stage, Warehouse

# Kargo's own annotations, shown by its UI; the owners annotation is this project's addition.
ANNOTATION_DESCRIPTION = "kargo.akuity.io/description"
ANNOTATION_COLOR = "kargo.akuity.io/color"
ANNOTATION_OWNERS = "kargo-dagster.io/owners"

# The kinds a Stage's steps reveal about it, drawn as icons or labels in the lineage graph.
_STEP_KINDS = {
    "argocd-": "argocd",
    "git-": "git",
    "kustomize-": "kustomize",
    "helm-": "helm",
    "http": "http",
}
_SUBSCRIPTION_KINDS = {"image": "oci", "git": "git", "chart": "helm"}


def owners(metadata: ObjectMeta) -> list[str]:
    """Owners from the ``kargo-dagster.io/owners`` annotation (comma-separated)."""
    raw = metadata.annotations.get(ANNOTATION_OWNERS, "")
    return [owner.strip() for owner in raw.split(",") if owner.strip()]


def tags(metadata: ObjectMeta) -> dict[str, str]:
    """Definition tags: Kargo's Stage colour, when it is a valid tag value."""
    color = metadata.annotations.get(ANNOTATION_COLOR, "")
    return {"kargo/color": color} if color.replace("-", "").isalnum() else {}


def warehouse_kinds(warehouse: Warehouse) -> set[str]:
    """``kargo`` plus one kind per subscription type the Warehouse uses."""
    return {"kargo"} | {_SUBSCRIPTION_KINDS[s.kind] for s in warehouse.spec.subscriptions}


def stage_kinds(project: ProjectManifests, stage: Stage) -> set[str]:
    """``kargo`` plus the tools the Stage's promotion steps use, tasks included."""
    uses: list[str] = []
    for step in stage.steps:
        if step.uses:
            uses.append(step.uses)
        elif step.task:
            task = project.promotion_tasks.get(step.task.name)
            uses.extend(s.uses for s in (task.spec.steps if task else []) if s.uses)
    found = {kind for use in uses for prefix, kind in _STEP_KINDS.items() if use.startswith(prefix)}
    # Dagster allows ten kinds per asset.
    return {"kargo", *sorted(found)[:9]}


def warehouse_description(warehouse: Warehouse) -> str:
    """The annotation, or a sentence naming what the Warehouse subscribes to."""
    given = warehouse.metadata.annotations.get(ANNOTATION_DESCRIPTION)
    if given:
        return given
    subscriptions = ", ".join(
        f"{s.kind} {s.subscription.repo_url}" for s in warehouse.spec.subscriptions
    )
    return f"Kargo Warehouse {warehouse.metadata.name}: Freight from {subscriptions}."


def stage_description(stage: Stage, origin: str) -> str:
    """The annotation, or a sentence naming where the Stage takes Freight from; then where
    the Project's pipeline view is."""
    # The view shows every Stage at once; a Stage's own page shows one partition at a time.
    view = f"The Project's pipeline view: asset {stage.metadata.namespace}/pipeline."
    given = stage.metadata.annotations.get(ANNOTATION_DESCRIPTION)
    if given:
        return f"{given}\n\n{view}"
    request = next(r for r in stage.spec.requested_freight if r.origin.name == origin)
    sources: list[str] = []
    if request.sources.direct:
        sources.append(f"Warehouse {origin} directly")
    if request.sources.stages:
        joined = ", ".join(request.sources.stages)
        strategy = request.sources.availability_strategy
        sources.append(
            f"Stage {joined}" if len(request.sources.stages) == 1 else f"{strategy} of {joined}"
        )
    kind = "control-flow Stage" if stage.is_control_flow else "Stage"
    return (
        f"Kargo {kind} {stage.metadata.name}: promotes Freight of Warehouse {origin} "
        f"from {' or '.join(sources)}. {view}"
    )
