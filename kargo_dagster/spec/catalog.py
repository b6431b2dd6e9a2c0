"""The loaded manifests, grouped by Project, with the lookups the Dagster layer needs."""

from dataclasses import dataclass, field

from kargo_dagster.errors import ManifestError, ManifestProblem
from kargo_dagster.spec.analysis import AnalysisTemplate, ClusterAnalysisTemplate
from kargo_dagster.spec.cluster_config import ClusterConfig
from kargo_dagster.spec.project import Link, Project, ProjectConfig
from kargo_dagster.spec.stage import Stage
from kargo_dagster.spec.steps import PromotionTaskReference
from kargo_dagster.spec.tasks import ClusterPromotionTask, PromotionTask
from kargo_dagster.spec.warehouse import Warehouse

__all__ = ["Catalog", "ProjectManifests"]


@dataclass(frozen=True)
class ProjectManifests:
    """Everything in one Project (namespace).

    Attributes:
        name: The Project's name (also its namespace).
        project: The Project object.
        config: Its ProjectConfig, if any.
        warehouses: Warehouses by name.
        stages: Stages by name.
        promotion_tasks: PromotionTasks by name.
        analysis_templates: Argo Rollouts AnalysisTemplates by name.
        cluster_config: The ClusterConfig, which applies to every Project, if any.
    """

    name: str
    project: Project
    config: ProjectConfig | None = None
    warehouses: dict[str, Warehouse] = field(default_factory=dict)
    stages: dict[str, Stage] = field(default_factory=dict)
    promotion_tasks: dict[str, PromotionTask] = field(default_factory=dict)
    analysis_templates: dict[str, AnalysisTemplate] = field(default_factory=dict)
    cluster_config: ClusterConfig | None = None

    @property
    def freight_links(self) -> list[Link]:
        """The deep links shown on each Freight: the ClusterConfig's, then the Project's."""
        cluster = self.cluster_config.spec.freight_links if self.cluster_config else []
        return [*cluster, *(self.config.spec.freight_links if self.config else [])]

    @property
    def stage_links(self) -> list[Link]:
        """The deep links shown on each Stage: the ClusterConfig's, then the Project's."""
        cluster = self.cluster_config.spec.stage_links if self.cluster_config else []
        return [*cluster, *(self.config.spec.stage_links if self.config else [])]

    def upstream_stages(self, stage_name: str, origin_name: str) -> list[str]:
        """The Stages that ``stage_name`` takes Freight of ``origin_name`` from.

        Args:
            stage_name: The downstream Stage.
            origin_name: The Warehouse whose Freight is requested.

        Returns:
            Upstream Stage names in manifest order; ``[]`` when the Stage takes that Freight
            only directly or does not request the origin.
        """
        stage = self.stages.get(stage_name)
        request = stage.request_for(origin_name) if stage is not None else None
        return list(request.sources.stages) if request is not None else []

    def downstream_stages(self, stage_name: str, origin_name: str) -> list[str]:
        """The Stages that take Freight of ``origin_name`` from ``stage_name``, sorted."""
        return sorted(
            name for name in self.stages if stage_name in self.upstream_stages(name, origin_name)
        )

    def stage_order(self) -> list[str]:
        """All Stage names, every Stage after all of its upstream Stages.

        Ties are broken by name, so the order is deterministic. The loader rejects cycles,
        so every Stage appears exactly once.
        """
        upstream = {
            name: {s for r in stage.spec.requested_freight for s in r.sources.stages}
            & self.stages.keys()
            for name, stage in self.stages.items()
        }
        order: list[str] = []
        placed: set[str] = set()
        while len(order) < len(upstream):
            ready = sorted(n for n, ups in upstream.items() if n not in placed and ups <= placed)
            if not ready:
                # Only reachable for a hand-built catalog with a cycle: keep the rest by name.
                ready = sorted(n for n in upstream if n not in placed)
            order.extend(ready)
            placed.update(ready)
        return order


@dataclass(frozen=True)
class Catalog:
    """Every object :func:`~kargo_dagster.spec.load_manifests` read.

    Attributes:
        projects: Projects by name.
        cluster_promotion_tasks: ClusterPromotionTasks by name.
        cluster_analysis_templates: ClusterAnalysisTemplates by name.
        cluster_config: The ClusterConfig, if any.
    """

    projects: dict[str, ProjectManifests] = field(default_factory=dict)
    cluster_promotion_tasks: dict[str, ClusterPromotionTask] = field(default_factory=dict)
    cluster_analysis_templates: dict[str, ClusterAnalysisTemplate] = field(default_factory=dict)
    cluster_config: ClusterConfig | None = None

    def find_task(
        self, project: str, ref: PromotionTaskReference
    ) -> PromotionTask | ClusterPromotionTask:
        """The task a step's ``task:`` refers to.

        Args:
            project: The Project whose Stage holds the step.
            ref: The step's ``task`` reference.

        Returns:
            The PromotionTask (in the Project) or ClusterPromotionTask.

        Raises:
            ManifestError: The task does not exist (the loader already reports this, so only
                hand-built catalogs get here).
        """
        found: PromotionTask | ClusterPromotionTask | None
        if ref.kind == "ClusterPromotionTask":
            found = self.cluster_promotion_tasks.get(ref.name)
        else:
            manifests = self.projects.get(project)
            found = manifests.promotion_tasks.get(ref.name) if manifests is not None else None
        if found is None:
            raise ManifestError(
                [
                    ManifestProblem(
                        file="<catalog>",
                        line=0,
                        kind=ref.kind,
                        name=ref.name,
                        field="",
                        message=f"no {ref.kind} {ref.name!r} in Project {project!r}",
                    )
                ]
            )
        return found
