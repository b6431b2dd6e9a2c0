"""Where ``configMap()``, ``secret()`` and their shared forms read their data.

Kargo reads a ConfigMap or Secret named in an expression from the Project's namespace, or,
for ``sharedConfigMap()``/``sharedSecret()``, from its shared resources namespace
(``kargo-shared-resources`` unless configured otherwise). kargo-dagster reads them from one
or more sources, asked in order, the first that has the object answering:

* :class:`StaticResourceData`: maps given in the ``kargo`` resource, for users without a
  cluster;
* :class:`~kargo_dagster.clients.kube.resource_data.KubernetesResourceData`: the objects
  themselves, through the Kubernetes API.

A source answers ``None`` for an object it does not hold; the functions then give an empty
map, as Kargo does for an object that is not found.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from kargo_dagster.errors import KargoDagsterError, ResourceDataError

__all__ = [
    "CRED_TYPE_LABEL",
    "GENERIC_CRED_TYPE",
    "SHARED_RESOURCES_NAMESPACE",
    "SYSTEM_RESOURCES_NAMESPACE",
    "ChainedResourceData",
    "LazyResourceData",
    "ResourceData",
    "ResourceKind",
    "ResourceRef",
    "StaticResourceData",
    "StoredObject",
]

SHARED_RESOURCES_NAMESPACE = "kargo-shared-resources"
"""Kargo's default shared resources namespace (Helm value ``global.sharedResources``)."""

SYSTEM_RESOURCES_NAMESPACE = "kargo-system-resources"
"""Kargo's default namespace for what cluster-scoped objects reference, such as the Secrets of
the ClusterConfig's webhook receivers (Helm value ``global.systemResources``)."""

CRED_TYPE_LABEL = "kargo.akuity.io/cred-type"
GENERIC_CRED_TYPE = "generic"
"""The credential type ``sharedSecret()`` may read: other shared Secrets stay hidden."""

ResourceKind = Literal["ConfigMap", "Secret"]


@dataclass(frozen=True)
class ResourceRef:
    """One ConfigMap or Secret an expression names.

    Attributes:
        kind: ``ConfigMap`` or ``Secret``.
        project: The Project whose namespace holds it; None for the shared namespace.
        name: The object's name.
    """

    kind: ResourceKind
    project: str | None
    name: str

    def __str__(self) -> str:
        owner = self.project if self.project is not None else "shared"
        return f"{self.kind} {owner}/{self.name}"


@dataclass(frozen=True)
class StoredObject:
    """What a source holds for a :class:`ResourceRef`: its data (decoded) and labels."""

    data: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)


class ResourceData(Protocol):
    """A source of ConfigMaps and Secrets."""

    def read(self, ref: ResourceRef) -> StoredObject | None:
        """The object ``ref`` names, or None when this source does not hold it.

        Raises:
            ResourceDataError: The source could not be read (the message never holds data).
        """
        ...


@dataclass(frozen=True)
class StaticResourceData:
    """ConfigMaps and Secrets given as maps, keyed ``"<project>/<name>"`` (shared: ``name``).

    Every shared Secret counts as a generic credential: listing it is what shares it.

    Examples:
        >>> data = StaticResourceData(config_maps={"shop/settings": {"env": "dev"}})
        >>> data.read(ResourceRef("ConfigMap", "shop", "settings"))
        StoredObject(data={'env': 'dev'}, labels={})
    """

    config_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    secrets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    shared_config_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    shared_secrets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def read(self, ref: ResourceRef) -> StoredObject | None:
        """The object from the maps, or None when no map has it."""
        if ref.project is None:
            maps = self.shared_secrets if ref.kind == "Secret" else self.shared_config_maps
            data = maps.get(ref.name)
        else:
            maps = self.secrets if ref.kind == "Secret" else self.config_maps
            data = maps.get(f"{ref.project}/{ref.name}")
        if data is None:
            return None
        shared_secret = ref.project is None and ref.kind == "Secret"
        labels = {CRED_TYPE_LABEL: GENERIC_CRED_TYPE} if shared_secret else {}
        return StoredObject(dict(data), labels)


@dataclass(frozen=True)
class ChainedResourceData:
    """Sources asked in order; the first that holds the object answers."""

    sources: Sequence[ResourceData]

    def read(self, ref: ResourceRef) -> StoredObject | None:
        """The first source's object, or None when none holds it."""
        for source in self.sources:
            found = source.read(ref)
            if found is not None:
                return found
        return None


class LazyResourceData:
    """A source made on its first read (connecting may fail, and most promotions never read).

    Args:
        connect: Makes the source; a :class:`~kargo_dagster.errors.KargoDagsterError` it
            raises (no kubeconfig, a bad setting) is reported as a failed read.
    """

    def __init__(self, connect: Callable[[], ResourceData]) -> None:
        self._connect = connect
        self._source: ResourceData | None = None

    def read(self, ref: ResourceRef) -> StoredObject | None:
        """The object, from the source made on the first call."""
        if self._source is None:
            try:
                self._source = self._connect()
            except ResourceDataError:
                raise
            except KargoDagsterError as error:
                raise ResourceDataError(f"cannot read {ref}: {error}") from None
        return self._source.read(ref)
