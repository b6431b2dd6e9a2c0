"""Stage: which Freight it requests, from where, and how it is promoted and verified."""

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from kargo_dagster.spec.base import KargoModel, KargoObject, rule_error
from kargo_dagster.spec.durations import KubeDuration
from kargo_dagster.spec.meta import ObjectMeta
from kargo_dagster.spec.steps import ExpressionVariable, PromotionStep

__all__ = [
    "AnalysisRunArgument",
    "AnalysisRunMetadata",
    "AnalysisTemplateReference",
    "AutoPromotionOptions",
    "FreightOrigin",
    "FreightRequest",
    "FreightSources",
    "PromotionTemplate",
    "PromotionTemplateSpec",
    "Stage",
    "StageSpec",
    "Verification",
]


class FreightOrigin(KargoModel):
    """Where requested Freight originates: always a Warehouse in Kargo v1.11."""

    kind: Literal["Warehouse"]
    name: str = Field(min_length=1)


class AutoPromotionOptions(KargoModel):
    """How the auto-promotion candidate is chosen.

    Attributes:
        selection_policy: ``NewestFreight`` (newest available) or ``MatchUpstream`` (what the
            single upstream Stage currently has).
    """

    selection_policy: Literal["NewestFreight", "MatchUpstream"] = "NewestFreight"


class FreightSources(KargoModel):
    """Where a Stage may take Freight of one origin from.

    Attributes:
        direct: Straight from the Warehouse.
        stages: Upstream Stages whose verified Freight becomes available.
        required_soak_time: How long the Freight must have stayed in an upstream Stage.
        availability_strategy: Verified in ``OneOf`` the upstream Stages or in ``All``.
        auto_promotion_options: Candidate selection for auto-promotion.
    """

    direct: bool = False
    stages: list[str] = Field(default_factory=list)
    required_soak_time: KubeDuration | None = None
    availability_strategy: Literal["OneOf", "All"] = "OneOf"
    auto_promotion_options: AutoPromotionOptions | None = None

    @field_validator("availability_strategy", mode="before")
    @classmethod
    def _empty_means_one_of(cls, value: Any) -> Any:
        # The CRD enum includes "" and Kargo treats it as OneOf.
        return "OneOf" if value == "" else value

    @model_validator(mode="after")
    def _check(self) -> "FreightSources":
        if not self.direct and not self.stages:
            raise rule_error(
                "Freight has nowhere to come from; set direct: true or list upstream stages"
            )
        policy = self.auto_promotion_options and self.auto_promotion_options.selection_policy
        if policy == "MatchUpstream":
            if self.direct:
                raise rule_error(
                    "MatchUpstream cannot be used with direct: true; remove direct or use "
                    "NewestFreight",
                    "autoPromotionOptions.selectionPolicy",
                )
            if len(self.stages) != 1:
                raise rule_error(
                    f"MatchUpstream needs exactly one upstream Stage (got {len(self.stages)}); "
                    "list one stage or use NewestFreight",
                    "autoPromotionOptions.selectionPolicy",
                )
        listed: set[str] = set()
        for index, stage in enumerate(self.stages):
            if stage in listed:
                raise rule_error(
                    f"upstream Stage {stage!r} is listed twice; remove one", f"stages.{index}"
                )
            listed.add(stage)
        return self

    @property
    def soak_time(self) -> timedelta:
        """``required_soak_time``, or zero when unset."""
        return self.required_soak_time or timedelta(0)


class FreightRequest(KargoModel):
    """One ``requestedFreight`` entry: an origin and its sources."""

    origin: FreightOrigin
    sources: FreightSources


class PromotionTemplateSpec(KargoModel):
    """The steps (and their shared vars) run to promote Freight into the Stage."""

    vars: list[ExpressionVariable] = Field(default_factory=list)
    steps: list[PromotionStep] = Field(min_length=1)


class PromotionTemplate(KargoModel):
    """``promotionTemplate``; the content is under ``spec`` as in Kargo."""

    spec: PromotionTemplateSpec


class AnalysisTemplateReference(KargoModel):
    """An Argo Rollouts (Cluster)AnalysisTemplate used to verify the Stage."""

    name: str = Field(min_length=1)
    kind: Literal["AnalysisTemplate", "ClusterAnalysisTemplate"] = "AnalysisTemplate"


class AnalysisRunMetadata(KargoModel):
    """Labels and annotations for the AnalysisRun that verification creates."""

    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class AnalysisRunArgument(KargoModel):
    """An argument passed to the AnalysisTemplates (``value`` may be an expression)."""

    name: str = Field(min_length=1)
    value: str


class Verification(KargoModel):
    """``spec.verification``: how Freight is verified after promotion."""

    analysis_templates: list[AnalysisTemplateReference] = Field(default_factory=list)
    analysis_run_metadata: AnalysisRunMetadata | None = None
    args: list[AnalysisRunArgument] = Field(default_factory=list)


class StageSpec(KargoModel):
    """``Stage.spec``.

    Attributes:
        shard: Controller shard (kept for fidelity).
        vars: Stage-level variables, visible to promotion steps and verification args.
        requested_freight: One entry per origin, at least one.
        promotion_template: The promotion steps; ``None`` makes a control-flow Stage.
        verification: AnalysisTemplates run after a successful promotion.
    """

    shard: str | None = None
    vars: list[ExpressionVariable] = Field(default_factory=list)
    requested_freight: list[FreightRequest] = Field(min_length=1)
    promotion_template: PromotionTemplate | None = None
    verification: Verification | None = None

    @model_validator(mode="after")
    def _unique_origins(self) -> "StageSpec":
        seen: dict[str, int] = {}
        for index, request in enumerate(self.requested_freight):
            name = request.origin.name
            if name in seen:
                raise rule_error(
                    f"Warehouse {name!r} is already requested at requestedFreight.{seen[name]}; "
                    "merge the two entries",
                    f"requestedFreight.{index}.origin.name",
                )
            seen[name] = index
        return self


class Stage(KargoObject):
    """A Kargo Stage."""

    api_version: Literal["kargo.akuity.io/v1alpha1"]
    kind: Literal["Stage"]
    metadata: ObjectMeta
    spec: StageSpec
    status: dict[str, Any] | None = None

    @property
    def steps(self) -> list[PromotionStep]:
        """The template's steps, or ``[]`` for a control-flow Stage."""
        template = self.spec.promotion_template
        return list(template.spec.steps) if template is not None else []

    @property
    def is_control_flow(self) -> bool:
        """A Stage without steps: Kargo marks its Freight verified as soon as it arrives."""
        return not self.steps

    @property
    def origins(self) -> list[str]:
        """Names of the Warehouses this Stage requests Freight from, in manifest order."""
        return [request.origin.name for request in self.spec.requested_freight]

    def request_for(self, origin_name: str) -> FreightRequest | None:
        """The request for Freight from Warehouse ``origin_name``, if any."""
        for request in self.spec.requested_freight:
            if request.origin.name == origin_name:
                return request
        return None
