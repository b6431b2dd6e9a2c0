"""The configuration of the ``argocd-update`` promotion step.

Which Applications to update (``apps[]``, by ``name`` or label ``selector``) and how their
sources change: the revision each should be at (``desiredRevision``, optionally written as
``targetRevision``), kustomize images and Helm parameters. Field names are Kargo's.
"""

from pydantic import Field, model_validator

from kargo_dagster.promotion.step import StepConfig
from kargo_dagster.promotion.steps.argocd.connection import AppSelector, check_name_or_selector

__all__ = [
    "AppUpdate",
    "Config",
    "HelmImageUpdate",
    "HelmParameterUpdates",
    "KustomizeImageUpdate",
    "KustomizeImageUpdates",
    "SourceUpdate",
]


class KustomizeImageUpdate(StepConfig):
    """A kustomize image override for an Application source."""

    repo_url: str = Field(min_length=1)
    tag: str | None = None
    digest: str | None = None
    new_name: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _tag_or_digest(self) -> "KustomizeImageUpdate":
        if self.tag and self.digest:
            raise ValueError("tag and digest are mutually exclusive")
        return self


class KustomizeImageUpdates(StepConfig):
    """The kustomize images of an Application source."""

    images: list[KustomizeImageUpdate] | None = Field(default=None, min_length=1)


class HelmImageUpdate(StepConfig):
    """One Helm parameter of an Application source to set."""

    key: str = Field(min_length=1)
    value: str


class HelmParameterUpdates(StepConfig):
    """The Helm parameters of an Application source."""

    images: list[HelmImageUpdate] = Field(min_length=1)


class SourceUpdate(StepConfig):
    """Changes to the Application source with this ``repoURL`` (and ``chart``)."""

    repo_url: str = Field(min_length=1)
    chart: str | None = Field(default=None, min_length=1)
    desired_revision: str | None = Field(default=None, min_length=1)
    update_target_revision: bool = False
    kustomize: KustomizeImageUpdates | None = None
    helm: HelmParameterUpdates | None = None

    @model_validator(mode="after")
    def _revision_to_target(self) -> "SourceUpdate":
        if self.update_target_revision and self.desired_revision is None:
            raise ValueError("updateTargetRevision needs desiredRevision")
        return self


class AppUpdate(StepConfig):
    """The Applications to update (by name or selector) and how."""

    name: str | None = Field(default=None, min_length=1)
    namespace: str | None = Field(default=None, min_length=1)
    selector: AppSelector | None = None
    sources: list[SourceUpdate] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _name_or_selector(self) -> "AppUpdate":
        check_name_or_selector(self.name, self.selector)
        return self


class Config(StepConfig):
    """``argocd-update``'s configuration."""

    apps: list[AppUpdate] = Field(min_length=1)
