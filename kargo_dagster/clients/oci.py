"""OCI registries: the client, its cache, and what it reads (public names in one place)."""

from kargo_dagster.clients.oci_cache import ImageCache
from kargo_dagster.clients.oci_client import RegistryClient
from kargo_dagster.clients.oci_http import RegistryNotFoundError
from kargo_dagster.clients.oci_manifest import (
    DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST,
    OCI_INDEX,
    OCI_MANIFEST,
    ImageMetadata,
    PlatformImage,
)
from kargo_dagster.clients.oci_repository import Manifest, Repository
from kargo_dagster.clients.registry_ref import RegistryRef, parse_repo_url

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
