"""OCI registries: the client, its cache, and what it reads (public names in one place)."""

from kargo_dagster.clients.oci.cache import ImageCache
from kargo_dagster.clients.oci.client import RegistryClient
from kargo_dagster.clients.oci.manifest import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    ImageMetadata,
    PlatformImage,
)
from kargo_dagster.clients.oci.registry_ref import RegistryRef, parse_repo_url
from kargo_dagster.clients.oci.repository import Manifest, Repository
from kargo_dagster.clients.oci.transport import RegistryNotFoundError

__all__ = [
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "ImageCache",
    "ImageMetadata",
    "Manifest",
    "PlatformImage",
    "RegistryClient",
    "RegistryNotFoundError",
    "RegistryRef",
    "Repository",
    "parse_repo_url",
]
