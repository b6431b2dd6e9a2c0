"""ClusterConfig: Kargo's cluster-wide settings (one object, named ``cluster``)."""

from typing import Any, Literal

from pydantic import Field, model_validator

from kargo_dagster.spec.base import KargoModel, KargoObject, rule_error
from kargo_dagster.spec.meta import ObjectMeta
from kargo_dagster.spec.project import Link, SecretReference, WebhookReceiverConfig

__all__ = ["CLUSTER_CONFIG_NAME", "ClusterConfig", "ClusterConfigSpec", "GitClientConfig"]

CLUSTER_CONFIG_NAME = "cluster"


class GitClientConfig(KargoModel):
    """Who commits when a step does not say, and the key that signs commits."""

    name: str | None = None
    email: str | None = None
    signing_key_secret: SecretReference | None = None


class ClusterConfigSpec(KargoModel):
    """``ClusterConfig.spec``."""

    webhook_receivers: list[WebhookReceiverConfig] = Field(default_factory=list)
    freight_links: list[Link] = Field(default_factory=list)
    stage_links: list[Link] = Field(default_factory=list)
    git_client: GitClientConfig | None = None


class ClusterConfig(KargoObject):
    """Settings for every Project: deep links shown before each Project's own, and more."""

    api_version: Literal["kargo.akuity.io/v1alpha1"]
    kind: Literal["ClusterConfig"]
    metadata: ObjectMeta
    spec: ClusterConfigSpec = Field(default_factory=ClusterConfigSpec)
    status: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _named_cluster(self) -> "ClusterConfig":
        if self.metadata.name != CLUSTER_CONFIG_NAME:
            # Kargo reads only the ClusterConfig named "cluster"; another would do nothing.
            raise rule_error(
                f"Kargo reads only the ClusterConfig named {CLUSTER_CONFIG_NAME!r}; write "
                f"name: {CLUSTER_CONFIG_NAME}",
                "metadata.name",
            )
        return self
