"""Copying an image, image index or Helm chart from one repository to another, as
go-containerregistry's ``remote.Write`` does for Kargo's ``oci-push``.

The manifests are read first (an index's platform manifests too), so that the artifact's
size is known before any blob moves; then every blob the destination lacks is mounted
(same registry) or uploaded, each platform manifest is pushed by digest and the top manifest
under the destination tag. Manifests are copied byte for byte, so the digest stays the same,
unless annotations are added: those are set on each image manifest (``manifest``) and on the
index (``index``), and the changed manifests get new digests that the index then refers to.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from kargo_dagster.clients.oci.artifacts import ArtifactRepository
from kargo_dagster.clients.oci.manifest import IMAGE_TYPES, INDEX_TYPES, string_map
from kargo_dagster.clients.oci.repository import Manifest
from kargo_dagster.errors import ArtifactError

__all__ = [
    "Annotations",
    "artifact_size",
    "copy_artifact",
    "read_artifact",
    "unsupported_media_type",
]


@dataclass(frozen=True)
class Annotations:
    """Annotations to set on the copy.

    Attributes:
        index: Set on the image index (ignored for a single image).
        manifest: Set on every image manifest.
    """

    index: Mapping[str, str]
    manifest: Mapping[str, str]

    @classmethod
    def from_scoped(cls, scoped: Mapping[str, str]) -> "Annotations":
        """Split ``index:``/``manifest:`` prefixed keys; unprefixed keys are the manifest's."""
        index: dict[str, str] = {}
        manifest: dict[str, str] = {}
        for key, value in scoped.items():
            if key.startswith("index:"):
                index[key.removeprefix("index:")] = value
            else:
                manifest[key.removeprefix("manifest:")] = value
        return cls(index=index, manifest=manifest)


@dataclass(frozen=True)
class Artifact:
    """An artifact's manifests as read from its repository.

    Attributes:
        top: The manifest the reference names.
        images: The image manifests: the top one, or an index's platform manifests.
    """

    top: Manifest
    images: tuple[Manifest, ...]

    @property
    def is_index(self) -> bool:
        """Whether the top manifest is an image index."""
        return self.top.media_type in INDEX_TYPES


def unsupported_media_type(manifest: Manifest) -> ArtifactError:
    """The error for a manifest that is neither an image nor an image index."""
    return ArtifactError(
        f"unsupported media type {manifest.media_type or '(none)'!r} of manifest "
        f"{manifest.digest} (expected an OCI or Docker image or index)"
    )


def read_artifact(repository: ArtifactRepository, reference: str) -> Artifact:
    """Read the manifest ``reference`` names and, for an index, its image manifests.

    Raises:
        ArtifactError: A manifest is neither an image nor an image index of images.
        RepositoryError: Reading failed.
    """
    top = repository.get_manifest(reference)
    if top.media_type in IMAGE_TYPES:
        return Artifact(top=top, images=(top,))
    if top.media_type not in INDEX_TYPES:
        raise unsupported_media_type(top)
    images = []
    for entry in _entries(top):
        image = repository.get_manifest(str(entry.get("digest", "")))
        if image.media_type not in IMAGE_TYPES:
            raise unsupported_media_type(image)
        images.append(image)
    return Artifact(top=top, images=tuple(images))


def _entries(index: Manifest) -> list[dict]:
    entries = index.document.get("manifests")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ArtifactError(f"image index {index.digest} has no list of manifests")
    return entries


def _descriptors(image: Manifest) -> list[tuple[str, int]]:
    """``(digest, size)`` of the image's config and layers."""
    found = []
    for entry in [image.document.get("config"), *(image.document.get("layers") or [])]:
        if not isinstance(entry, dict) or not isinstance(entry.get("digest"), str):
            raise ArtifactError(f"image manifest {image.digest} has a malformed descriptor")
        size = entry.get("size")
        found.append((entry["digest"], size if isinstance(size, int) else 0))
    return found


def artifact_size(artifact: Artifact) -> int:
    """The compressed size of every config and layer, from the manifests alone."""
    return sum(size for image in artifact.images for _, size in _descriptors(image))


def _digest(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _annotated(manifest: Manifest, annotations: Mapping[str, str]) -> bytes:
    if not annotations:
        return manifest.raw
    document = dict(manifest.document)
    document["annotations"] = {**string_map(document.get("annotations")), **annotations}
    return json.dumps(document, separators=(",", ":")).encode()


def _copy_blobs(
    source: ArtifactRepository, destination: ArtifactRepository, image: Manifest
) -> None:
    for digest, size in _descriptors(image):
        if destination.has_blob(digest):
            continue
        location = destination.mount_blob(digest, source)
        if location is not None:
            destination.put_blob(location, digest, source.get_blob(digest, size))


def copy_artifact(
    source: ArtifactRepository,
    artifact: Artifact,
    destination: ArtifactRepository,
    tag: str,
    annotations: Annotations,
) -> str:
    """Copy ``artifact`` (read from ``source``) to ``destination`` as ``tag``; its new digest.

    Raises:
        ArtifactError: The artifact is malformed.
        RepositoryError: A registry refused or failed.
    """
    if not artifact.is_index:
        image = artifact.top
        _copy_blobs(source, destination, image)
        raw = _annotated(image, annotations.manifest)
        destination.put_manifest(tag, image.media_type, raw)
        return _digest(raw)
    replaced: dict[str, tuple[str, int]] = {}
    for image in artifact.images:
        _copy_blobs(source, destination, image)
        raw = _annotated(image, annotations.manifest)
        digest = _digest(raw)
        destination.put_manifest(digest, image.media_type, raw)
        replaced[image.digest] = (digest, len(raw))
    top = artifact.top
    if any(old != new for old, (new, _) in replaced.items()):
        entries = []
        for entry in _entries(top):
            digest, size = replaced[str(entry.get("digest"))]
            entries.append({**entry, "digest": digest, "size": size})
        document = {**top.document, "manifests": entries}
        raw = json.dumps(document, separators=(",", ":")).encode()
        top = Manifest(top.digest, top.media_type, document, raw)
    raw = _annotated(top, annotations.index)
    destination.put_manifest(tag, top.media_type, raw)
    return _digest(raw)
