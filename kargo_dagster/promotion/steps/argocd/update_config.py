"""The configuration of the ``argocd-update`` promotion step.

Which Applications to update (``apps[]``, by ``name`` or label ``selector``) and how their
sources change: the revision each should be at (``desiredRevision``, optionally written as
``targetRevision``), kustomize images and Helm parameters. Field names are Kargo's.
"""

from pydantic import Field

from kargo_dagster.promotion.step import StepConfig
from kargo_dagster.promotion.steps.argocd.connection import AppSelector

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

    repo_url: str = Field(alias="repoURL", min_length=1)
    tag: str | None = None
    digest: str | None = None
    new_name: str | None = Field(default=None, min_length=1)


class KustomizeImageUpdates(StepConfig):
    """The kustomize images of an Application source."""

    images: list[KustomizeImageUpdate] | None = None


class HelmImageUpdate(StepConfig):
    """One Helm parameter of an Application source to set."""

    key: str = Field(min_length=1)
    value: str


class HelmParameterUpdates(StepConfig):
    """The Helm parameters of an Application source."""

    images: list[HelmImageUpdate]


class SourceUpdate(StepConfig):
    """Changes to the Application source with this ``repoURL`` (and ``chart``)."""

    repo_url: str = Field(alias="repoURL", min_length=1)
    chart: str | None = Field(default=None, min_length=1)
    desired_revision: str | None = None
    update_target_revision: bool = False
    kustomize: KustomizeImageUpdates | None = None
    helm: HelmParameterUpdates | None = None


class AppUpdate(StepConfig):
    """The Applications to update (by name or selector) and how."""

    name: str | None = None
    namespace: str | None = Field(default=None, min_length=1)
    selector: AppSelector | None = None
    sources: list[SourceUpdate] | None = None


class Config(StepConfig):
    """``argocd-update``'s configuration."""

    apps: list[AppUpdate] = Field(min_length=1)
