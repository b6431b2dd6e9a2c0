"""Promotion steps and variables, shared by Stage templates and PromotionTasks."""

from typing import Any, Literal

from pydantic import Field, model_validator

from kargo_dagster.spec.base import DNS1123_SUBDOMAIN, KargoModel, rule_error
from kargo_dagster.spec.durations import GoDuration

__all__ = [
    "ExpressionVariable",
    "PromotionStep",
    "PromotionStepRetry",
    "PromotionTaskReference",
]


class ExpressionVariable(KargoModel):
    """A named value for ``${{ vars.<name> }}``.

    Attributes:
        name: An identifier (``^[a-zA-Z_]\\w*$``).
        value: The value, always a string (quote ``"true"`` or ``"1"`` in YAML); ``None``
            in a PromotionTask's ``vars`` means the caller must provide it.
    """

    name: str = Field(min_length=1, pattern=r"^[a-zA-Z_]\w*$")
    value: str | None = None


class PromotionTaskReference(KargoModel):
    """``task:`` in a step: which PromotionTask or ClusterPromotionTask to inline."""

    name: str = Field(min_length=1, max_length=253, pattern=DNS1123_SUBDOMAIN)
    kind: Literal["PromotionTask", "ClusterPromotionTask"] = "PromotionTask"


class PromotionStepRetry(KargoModel):
    """``retry:`` of a step.

    Attributes:
        error_threshold: Consecutive errors tolerated before the step fails (Kargo default 1).
        timeout: Soft limit for a step that keeps returning Running (default: none).
    """

    error_threshold: int | None = Field(default=None, ge=0, le=2**31 - 1)
    timeout: GoDuration | None = None


class PromotionStep(KargoModel):
    """One step of a promotion template or PromotionTask.

    Attributes:
        uses: The step kind (``git-clone``); exactly one of ``uses`` and ``task`` is set.
        task: A PromotionTask to inline in place of this step (Stage templates only).
        as_: Alias (``as:``) under which later steps read this step's outputs.
        if_: Expression (``if:``) deciding whether the step runs.
        continue_on_error: Let later steps run although this one failed.
        retry: Error threshold and timeout.
        vars: Step-level variables, overriding template and Stage variables.
        config: The step's configuration; validated against the step schema at run time.
    """

    uses: str | None = Field(default=None, min_length=1)
    task: PromotionTaskReference | None = None
    as_: str | None = Field(default=None, validation_alias="as", serialization_alias="as")
    if_: str | None = Field(default=None, validation_alias="if", serialization_alias="if")
    continue_on_error: bool = False
    retry: PromotionStepRetry | None = None
    vars: list[ExpressionVariable] = Field(default_factory=list)
    config: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> "PromotionStep":
        if (self.uses is None) == (self.task is None):
            raise rule_error(
                "a step needs exactly one of uses (a step kind such as git-clone) or task "
                "(a PromotionTask reference)"
            )
        if self.task is not None:
            # These mirror the CRD's CEL rules and the Stage webhook: the task's own steps
            # carry these settings, so the referencing step may not.
            for attribute, key in (
                ("continue_on_error", "continueOnError"),
                ("retry", "retry"),
                ("if_", "if"),
                ("config", "config"),
            ):
                if attribute in self.model_fields_set:
                    raise rule_error(
                        f"a step referencing a task cannot set {key}; set it on the task's "
                        "steps instead, or pass values through vars",
                        key,
                    )
        return self

    @property
    def alias(self) -> str | None:
        """The ``as:`` alias, if any."""
        return self.as_
