"""Project and ProjectConfig.

A Project has no ``spec`` since Kargo v1.7; its promotion policies live in the ProjectConfig
of the same name (in the Project's namespace).
"""

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from kargo_dagster.spec.base import DNS1123_SUBDOMAIN, KargoModel, KargoObject, rule_error
from kargo_dagster.spec.meta import ObjectMeta

__all__ = [
    "ArtifactoryReceiver",
    "AutoRollbackConfig",
    "GenericReceiver",
    "GenericTargetSelection",
    "GenericWebhookAction",
    "IndexSelector",
    "IndexSelectorRequirement",
    "LabelSelector",
    "LabelSelectorRequirement",
    "Link",
    "Project",
    "ProjectConfig",
    "ProjectConfigSpec",
    "PromotionPolicy",
    "PromotionPolicySelector",
    "PromotionWindow",
    "ReceiverSecret",
    "SecretReference",
    "WebhookReceiverConfig",
]

_DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class Project(KargoObject):
    """A Kargo Project; its name is also its namespace."""

    api_version: Literal["kargo.akuity.io/v1alpha1"]
    kind: Literal["Project"]
    metadata: ObjectMeta
    status: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _name_is_a_namespace(self) -> "Project":
        if len(self.metadata.name) > 63 or not re.match(_DNS1123_LABEL, self.metadata.name):
            raise rule_error(
                "a Project name becomes a namespace name: use at most 63 lowercase letters, "
                "digits and '-'",
                "metadata.name",
            )
        return self


class LabelSelectorRequirement(KargoModel):
    """A Kubernetes label selector expression."""

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)


class PromotionPolicySelector(KargoModel):
    """Selects Stages by name (exact, ``glob:`` or ``regex:``/``regexp:``) and labels."""

    name: str | None = None
    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_pattern(self) -> "PromotionPolicySelector":
        if self.name and ":" in self.name:
            prefix, _, body = self.name.partition(":")
            if prefix not in ("glob", "regex", "regexp"):
                raise rule_error(
                    f"unknown pattern prefix {prefix + ':'!r}; use glob:, regex: or an exact "
                    "Stage name",
                    "name",
                )
            if prefix != "glob":
                try:
                    re.compile(body)
                except re.error as exc:
                    raise rule_error(f"invalid regular expression ({exc})", "name") from exc
        return self


class AutoRollbackConfig(KargoModel):
    """Automatic rollback (Kargo Enterprise; kept for fidelity).

    Attributes:
        on_promotion: Promotion phases that trigger a rollback (default none).
        on_verification: Verification phases that trigger one (empty means ``[Failed]``).
    """

    on_promotion: list[Literal["Failed", "Errored"]] = Field(default_factory=list, max_length=2)
    on_verification: list[Literal["Failed", "Error"]] = Field(default_factory=list, max_length=2)


class PromotionPolicy(KargoModel):
    """Auto-promotion settings for the Stages a selector matches.

    Attributes:
        stage: Deprecated exact Stage name; use ``stage_selector``.
        stage_selector: Which Stages the policy covers.
        auto_promotion_enabled: Promote new candidates automatically (default false).
        auto_rollback: Enterprise rollback settings.
    """

    stage: str | None = Field(default=None, pattern=DNS1123_SUBDOMAIN)
    stage_selector: PromotionPolicySelector | None = None
    auto_promotion_enabled: bool = False
    auto_rollback: AutoRollbackConfig | None = None

    @model_validator(mode="after")
    def _one_selector(self) -> "PromotionPolicy":
        if (self.stage is None) == (self.stage_selector is None):
            raise rule_error(
                "a promotion policy needs exactly one of stageSelector (preferred) or stage"
            )
        return self

    @property
    def stage_pattern(self) -> str | None:
        """The Stage name or pattern this policy selects by, whichever field holds it."""
        return self.stage if self.stage is not None else (self.stage_selector or _EMPTY).name


_EMPTY = PromotionPolicySelector()


class SecretReference(KargoModel):
    """A reference to a Secret in the Project namespace."""

    name: str = ""


class ReceiverSecret(KargoModel):
    """A webhook receiver's ``secretRef``: the Secret (in the Project namespace) it relies on."""

    secret_ref: SecretReference


class ArtifactoryReceiver(ReceiverSecret):
    """An Artifactory receiver; ``virtualRepoName`` replaces the payload's local repository."""

    virtual_repo_name: str | None = None


class IndexSelectorRequirement(KargoModel):
    """A generic receiver's index requirement: ``subscribedURLs`` or ``receiverPaths``."""

    key: Literal["subscribedURLs", "receiverPaths"]
    operator: Literal["Equal", "NotEqual"]
    value: str


class IndexSelector(KargoModel):
    """Requirements on the indices Kargo keeps of its resources, all of which must hold."""

    match_indices: list[IndexSelectorRequirement] = Field(default_factory=list, min_length=1)


class LabelSelector(KargoModel):
    """A Kubernetes label selector; its values may be expressions over the request."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list)


class GenericTargetSelection(KargoModel):
    """Which resources a generic receiver's action applies to (every criterion must hold)."""

    kind: Literal["Warehouse"]
    name: str | None = None
    label_selector: LabelSelector | None = None
    index_selector: IndexSelector | None = None


class GenericWebhookAction(KargoModel):
    """One action of a generic receiver: ``Refresh`` the selected Warehouses when
    ``whenExpression`` (an expression over the request) holds."""

    action: Literal["Refresh"]
    when_expression: str | None = None
    parameters: dict[str, str] = Field(default_factory=dict)
    target_selection_criteria: list[GenericTargetSelection] = Field(
        default_factory=list, min_length=1
    )


class GenericReceiver(ReceiverSecret):
    """A generic receiver: any POST to its URL runs its ``actions``."""

    actions: list[GenericWebhookAction] = Field(default_factory=list, min_length=1)


class WebhookReceiverConfig(KargoModel):
    """A webhook receiver; exactly one provider key is set.

    ``kargo-dagster receive`` serves it at a URL derived, as Kargo derives it, from the
    Project, the receiver's name and its Secret.
    """

    name: str = Field(min_length=1, max_length=253, pattern=DNS1123_SUBDOMAIN)
    github: ReceiverSecret | None = None
    gitlab: ReceiverSecret | None = None
    gitea: ReceiverSecret | None = None
    bitbucket: ReceiverSecret | None = None
    dockerhub: ReceiverSecret | None = None
    quay: ReceiverSecret | None = None
    harbor: ReceiverSecret | None = None
    artifactory: ArtifactoryReceiver | None = None
    azure: ReceiverSecret | None = None
    generic: GenericReceiver | None = None

    @model_validator(mode="after")
    def _one_provider(self) -> "WebhookReceiverConfig":
        providers = [key for key in _PROVIDERS if getattr(self, key) is not None]
        if len(providers) != 1:
            raise rule_error(
                f"a webhook receiver needs exactly one of {', '.join(_PROVIDERS)} "
                f"(got {', '.join(providers) or 'none'})"
            )
        if not self.details.secret_ref.name:
            path = f"{providers[0]}.secretRef.name"
            raise rule_error("name the Secret: secretRef: {name: <secret>}", path)
        return self

    @property
    def provider(self) -> str:
        """The provider key that is set (``github``, ``harbor``...)."""
        return next(key for key in _PROVIDERS if getattr(self, key) is not None)

    @property
    def details(self) -> ReceiverSecret:
        """The provider's settings (its ``secretRef``, and more for some)."""
        details = getattr(self, self.provider)
        assert isinstance(details, ReceiverSecret)
        return details


_PROVIDERS = (
    "github",
    "gitlab",
    "gitea",
    "bitbucket",
    "dockerhub",
    "quay",
    "harbor",
    "artifactory",
    "azure",
    "generic",
)


class Link(KargoModel):
    """A deep link on Freight or Stages: ``url`` is a Go template, ``if`` an expression."""

    title: str = Field(min_length=1)
    url: str = Field(min_length=1)
    description: str = ""
    if_: str | None = Field(default=None, validation_alias="if", serialization_alias="if")


class PromotionWindow(KargoModel):
    """A time window allowing or denying promotions (Kargo Enterprise, newer than v1.11)."""

    name: str
    kind: Literal["Allow", "Deny"]
    rrule: str | None = None
    dtstart: str | None = None
    dtend: str | None = None
    stage_selector: PromotionPolicySelector | None = None
    project_selector: PromotionPolicySelector | None = None


class ProjectConfigSpec(KargoModel):
    """``ProjectConfig.spec``."""

    promotion_policies: list[PromotionPolicy] = Field(default_factory=list)
    webhook_receivers: list[WebhookReceiverConfig] = Field(default_factory=list)
    freight_links: list[Link] = Field(default_factory=list)
    stage_links: list[Link] = Field(default_factory=list)
    promotion_windows: list[PromotionWindow] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> "ProjectConfigSpec":
        seen: dict[str, int] = {}
        for index, policy in enumerate(self.promotion_policies):
            pattern = policy.stage_pattern
            if not pattern or ":" in pattern:
                continue
            if pattern in seen:
                raise rule_error(
                    f"Stage {pattern!r} already has a policy at promotionPolicies.{seen[pattern]};"
                    " merge the two",
                    f"promotionPolicies.{index}",
                )
            seen[pattern] = index
        names: dict[str, int] = {}
        for index, receiver in enumerate(self.webhook_receivers):
            if receiver.name in names:
                raise rule_error(
                    f"webhook receiver name {receiver.name!r} is already used at "
                    f"webhookReceivers.{names[receiver.name]}; pick another",
                    f"webhookReceivers.{index}.name",
                )
            names[receiver.name] = index
        return self


class ProjectConfig(KargoObject):
    """A Project's configuration; named like the Project and in its namespace."""

    api_version: Literal["kargo.akuity.io/v1alpha1"]
    kind: Literal["ProjectConfig"]
    metadata: ObjectMeta
    spec: ProjectConfigSpec = Field(default_factory=ProjectConfigSpec)
    status: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _named_like_namespace(self) -> "ProjectConfig":
        namespace = self.metadata.namespace
        if namespace is not None and self.metadata.name != namespace:
            raise rule_error(
                f"a ProjectConfig must be named like its Project; write name: {namespace}",
                "metadata.name",
            )
        return self
