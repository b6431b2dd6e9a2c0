"""Kubernetes ``metadata`` as it may appear in a manifest."""

from typing import Any

from pydantic import Field

from kargo_dagster.spec.base import DNS1123_SUBDOMAIN, KargoModel

__all__ = ["ObjectMeta", "OwnerReference"]


class OwnerReference(KargoModel):
    """An ``ownerReferences`` entry, kept so exported objects still load."""

    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(KargoModel):
    """The standard Kubernetes object metadata.

    Only ``name``, ``namespace``, ``labels`` and ``annotations`` matter to kargo-dagster; the
    other standard fields are accepted so that ``kubectl get -o yaml`` output loads, while
    unknown keys are still rejected.
    """

    name: str = Field(max_length=253, pattern=DNS1123_SUBDOMAIN)
    namespace: str | None = Field(default=None, max_length=63, pattern=DNS1123_SUBDOMAIN)
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    generate_name: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    deletion_grace_period_seconds: int | None = None
    finalizers: list[str] = Field(default_factory=list)
    owner_references: list[OwnerReference] = Field(default_factory=list)
    managed_fields: list[dict[str, Any]] = Field(default_factory=list)
    self_link: str | None = None
