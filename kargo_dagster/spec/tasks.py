"""PromotionTask and ClusterPromotionTask: reusable step lists with declared vars."""

from typing import Any, Literal

from pydantic import Field, model_validator

from kargo_dagster.spec.base import KargoModel, KargoObject, rule_error
from kargo_dagster.spec.meta import ObjectMeta
from kargo_dagster.spec.steps import ExpressionVariable, PromotionStep

__all__ = ["ClusterPromotionTask", "PromotionTask", "PromotionTaskSpec"]


class PromotionTaskSpec(KargoModel):
    """The task's vars (a var without ``value`` must be provided by the caller) and steps."""

    vars: list[ExpressionVariable] = Field(default_factory=list)
    steps: list[PromotionStep] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_nested_tasks(self) -> "PromotionTaskSpec":
        for index, step in enumerate(self.steps):
            if step.task is not None:
                raise rule_error(
                    "a PromotionTask step cannot reference another task; copy that task's "
                    "steps here instead",
                    f"steps.{index}.task",
                )
        return self

    @property
    def required_vars(self) -> list[str]:
        """Names of the vars without a default value."""
        return [var.name for var in self.vars if var.value is None]


class PromotionTask(KargoObject):
    """A namespaced, reusable list of promotion steps."""

    api_version: Literal["kargo.akuity.io/v1alpha1"]
    kind: Literal["PromotionTask"]
    metadata: ObjectMeta
    spec: PromotionTaskSpec
    status: dict[str, Any] | None = None


class ClusterPromotionTask(KargoObject):
    """A cluster-wide PromotionTask usable from every Project."""

    api_version: Literal["kargo.akuity.io/v1alpha1"]
    kind: Literal["ClusterPromotionTask"]
    metadata: ObjectMeta
    spec: PromotionTaskSpec
    status: dict[str, Any] | None = None
