"""Kargo manifests as validated pydantic models (pure: never imports Dagster).

:func:`load_manifests` reads a file or directory of ordinary Kargo v1.11 manifests and
returns a :class:`Catalog`, or raises :class:`~kargo_dagster.errors.ManifestError` listing
every problem as ``file:line: Kind/name: field.path: message``.
"""

from kargo_dagster.spec.analysis import AnalysisTemplate, ClusterAnalysisTemplate
from kargo_dagster.spec.base import KargoModel, KargoObject, SourceLocation
from kargo_dagster.spec.catalog import Catalog, ProjectManifests
from kargo_dagster.spec.durations import (
    GoDuration,
    KubeDuration,
    format_go_duration,
    parse_go_duration,
)
from kargo_dagster.spec.loader import KARGO_API_VERSION, load_manifests
from kargo_dagster.spec.meta import ObjectMeta, OwnerReference
from kargo_dagster.spec.project import (
    AutoRollbackConfig,
    LabelSelectorRequirement,
    Link,
    Project,
    ProjectConfig,
    ProjectConfigSpec,
    PromotionPolicy,
    PromotionPolicySelector,
    PromotionWindow,
    WebhookReceiverConfig,
)
from kargo_dagster.spec.removed import is_removed_syntax
from kargo_dagster.spec.stage import (
    AnalysisRunArgument,
    AnalysisRunMetadata,
    AnalysisTemplateReference,
    AutoPromotionOptions,
    FreightOrigin,
    FreightRequest,
    FreightSources,
    PromotionTemplate,
    PromotionTemplateSpec,
    Stage,
    StageSpec,
    Verification,
)
from kargo_dagster.spec.step_kinds import REMOVED_STEP_KINDS, STEP_KINDS
from kargo_dagster.spec.steps import (
    ExpressionVariable,
    PromotionStep,
    PromotionStepRetry,
    PromotionTaskReference,
)
from kargo_dagster.spec.tasks import ClusterPromotionTask, PromotionTask, PromotionTaskSpec
from kargo_dagster.spec.warehouse import (
    ChartSubscription,
    FreightCreationCriteria,
    GitSubscription,
    ImageSubscription,
    RepoSubscription,
    SubscriptionKind,
    Warehouse,
    WarehouseSpec,
)

__all__ = [
    "KARGO_API_VERSION",
    "REMOVED_STEP_KINDS",
    "STEP_KINDS",
    "AnalysisRunArgument",
    "AnalysisRunMetadata",
    "AnalysisTemplate",
    "AnalysisTemplateReference",
    "AutoPromotionOptions",
    "AutoRollbackConfig",
    "Catalog",
    "ChartSubscription",
    "ClusterAnalysisTemplate",
    "ClusterPromotionTask",
    "ExpressionVariable",
    "FreightCreationCriteria",
    "FreightOrigin",
    "FreightRequest",
    "FreightSources",
    "GitSubscription",
    "GoDuration",
    "ImageSubscription",
    "KargoModel",
    "KargoObject",
    "KubeDuration",
    "LabelSelectorRequirement",
    "Link",
    "ObjectMeta",
    "OwnerReference",
    "Project",
    "ProjectConfig",
    "ProjectConfigSpec",
    "ProjectManifests",
    "PromotionPolicy",
    "PromotionPolicySelector",
    "PromotionStep",
    "PromotionStepRetry",
    "PromotionTask",
    "PromotionTaskReference",
    "PromotionTaskSpec",
    "PromotionTemplate",
    "PromotionTemplateSpec",
    "PromotionWindow",
    "RepoSubscription",
    "SourceLocation",
    "Stage",
    "StageSpec",
    "SubscriptionKind",
    "Verification",
    "Warehouse",
    "WarehouseSpec",
    "WebhookReceiverConfig",
    "format_go_duration",
    "is_removed_syntax",
    "load_manifests",
    "parse_go_duration",
]
