"""The kinds the fake Kubernetes API server serves, and how their API semantics differ.

:class:`ResourceType` describes one kind (group, version, plural, scope) together with the
API server behaviours that vary between kinds: a status subresource, generation tracking,
the rules for custom resources and the CRD schema that validates them. :data:`BUILTIN_TYPES`
are the core and batch kinds the fake serves besides the CRDs it is given, and
:class:`KindRegistry` looks kinds up by URL or by ``apiVersion`` and ``kind``.
"""

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kargo_dagster.testing.crd_schemas import CustomResourceType

__all__ = ["BUILTIN_TYPES", "KindRegistry", "ResourceType"]


@dataclass(frozen=True)
class ResourceType:
    """A kind the store serves, and the API server behaviours that differ between kinds.

    Attributes:
        group: The API group; ``""`` for the core group.
        version: The API version (``v1``, ``v1alpha1``).
        kind: The kind (``Secret``, ``Application``).
        plural: The resource name in URLs (``secrets``, ``applications``).
        namespaced: Whether objects live in a namespace.
        status_subresource: Whether ``status`` is written through ``/status`` only.
        tracks_generation: Whether ``metadata.generation`` counts changes.
        custom: A custom resource: ``kind`` is required in bodies, strategic merge patches
            are refused, and updates must carry ``metadata.resourceVersion``.
        crd: The CRD whose schema validates writes, for custom resources that have one.
        returns_deleted_object: Whether ``DELETE`` answers with the object (custom
            resources, Pods) rather than a ``Status``.
        initial_status: The ``status`` a new object gets when the kind has a status
            subresource (the API server ignores the one sent on create).
    """

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    status_subresource: bool = False
    tracks_generation: bool = False
    custom: bool = False
    crd: CustomResourceType | None = field(default=None, repr=False)
    returns_deleted_object: bool = False
    initial_status: Mapping[str, Any] | None = field(default=None, compare=False)

    @classmethod
    def from_crd(cls, crd: CustomResourceType) -> "ResourceType":
        """The custom resource a CRD defines, validated by its schema."""
        return cls(
            group=crd.group,
            version=crd.version,
            kind=crd.kind,
            plural=crd.plural,
            namespaced=crd.namespaced,
            status_subresource=crd.status_subresource,
            tracks_generation=True,
            custom=True,
            crd=crd,
            returns_deleted_object=True,
        )

    @property
    def api_version(self) -> str:
        """``apiVersion`` of its objects (``v1``, ``argoproj.io/v1alpha1``)."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        """The kind of its lists."""
        return self.crd.list_kind if self.crd else f"{self.kind}List"

    @property
    def qualified_resource(self) -> str:
        """``applications.argoproj.io`` or ``secrets``, as messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """``Application.argoproj.io`` or ``Secret``, as ``Invalid`` messages name the kind."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    def details(self, name: str, *, by_kind: bool = False) -> dict[str, Any]:
        """``Status.details`` for one object of this kind."""
        details: dict[str, Any] = {"name": name}
        if self.group:
            details["group"] = self.group
        details["kind"] = self.kind if by_kind else self.plural
        return details


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    ResourceType("", "v1", "ConfigMap", "configmaps"),
    ResourceType("", "v1", "Event", "events"),
    ResourceType(
        "",
        "v1",
        "Pod",
        "pods",
        status_subresource=True,
        returns_deleted_object=True,
        initial_status={"phase": "Pending"},
    ),
    ResourceType("", "v1", "Secret", "secrets"),
    ResourceType(
        "batch",
        "v1",
        "Job",
        "jobs",
        status_subresource=True,
        tracks_generation=True,
        initial_status={},
    ),
)


class KindRegistry:
    """The kinds a server serves, keyed by group and plural. Thread-safe."""

    def __init__(self) -> None:
        self._types_lock = threading.Lock()
        self._types: dict[tuple[str, str], ResourceType] = {}

    def register(self, rtype: ResourceType) -> ResourceType:
        """Serve ``rtype`` (replacing a registered kind with the same group and plural)."""
        with self._types_lock:
            self._types[(rtype.group, rtype.plural)] = rtype
        return rtype

    def register_crd(self, manifest: Mapping[str, Any], version: str | None = None) -> ResourceType:
        """Serve the custom resource a CRD manifest defines, validated by its schema."""
        return self.register(
            ResourceType.from_crd(CustomResourceType.from_manifest(manifest, version))
        )

    def resource_type(self, group: str, version: str, plural: str) -> ResourceType | None:
        """The kind served at ``group/version/plural``, or None."""
        with self._types_lock:
            rtype = self._types.get((group, plural))
        return rtype if rtype is not None and rtype.version == version else None

    def type_of(self, api_version: str, kind: str) -> ResourceType | None:
        """The registered kind for an object's ``apiVersion`` and ``kind``, or None."""
        group, _, version = api_version.rpartition("/")
        with self._types_lock:
            return next(
                (
                    t
                    for t in self._types.values()
                    if (t.group, t.version, t.kind) == (group, version, kind)
                ),
                None,
            )

    def types(self) -> list[ResourceType]:
        """Every kind served."""
        with self._types_lock:
            return sorted(self._types.values(), key=lambda t: (t.group, t.plural))
