"""OCI and Docker manifests: media types, what they reference, and when an image was built.

Build dates follow Kargo: a manifest annotation (``org.opencontainers.image.created``, then
``org.label-schema.build-date``) is taken as it is, since it is written when that manifest is
authored. Otherwise the later of the config's ``created`` and the same two labels counts:
labels and timestamps can be inherited from a base image or pinned for reproducible builds,
which only ever makes them too early. An index uses its own annotation, else the newest of
its platform images.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
IMAGE_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
MANIFEST_ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST])

OCI_CREATED = "org.opencontainers.image.created"
LABEL_SCHEMA_BUILD_DATE = "org.label-schema.build-date"

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def parse_rfc3339(text: str) -> datetime | None:
    """An RFC 3339 timestamp (what Go's ``time.RFC3339`` accepts), or None if it is not one."""
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    micros = int((match.group(7) or "0")[:6].ljust(6, "0"))
    if match.group(8):
        zone = UTC
    else:
        offset = timedelta(hours=int(match.group(10)), minutes=int(match.group(11)))
        zone = timezone(offset if match.group(9) == "+" else -offset)
    try:
        return datetime(year, month, day, hour, minute, second, micros, tzinfo=zone)
    except ValueError:
        return None


def created_from_metadata(metadata: dict[str, str]) -> datetime | None:
    """The creation date claimed by annotations or labels (OCI key first), if parsable."""
    for key in (OCI_CREATED, LABEL_SCHEMA_BUILD_DATE):
        value = metadata.get(key)
        if value is not None:
            parsed = parse_rfc3339(value)
            if parsed is not None:
                return parsed
    return None


def image_created_at(
    annotations: dict[str, str], labels: dict[str, str], config_created: str | None
) -> datetime | None:
    """An image's build date from its manifest annotations, config labels and ``created``."""
    from_annotation = created_from_metadata(annotations)
    if from_annotation is not None:
        return from_annotation
    candidates = [
        d
        for d in (
            parse_rfc3339(config_created) if config_created else None,
            created_from_metadata(labels),
        )
        if d is not None
    ]
    return max(candidates) if candidates else None


@dataclass(frozen=True)
class Descriptor:
    """A reference from a manifest to a blob or another manifest."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    os: str = ""
    architecture: str = ""
    variant: str = ""


@dataclass(frozen=True)
class PlatformImage:
    """One platform of an image index, as Kargo records it.

    Attributes:
        os: ``linux``.
        architecture: ``amd64``.
        variant: ``v8`` or ``""``.
        digest: The platform image's manifest digest.
        created_at: The entry's ``created`` annotation, else the image's build date.
        annotations: The index entry's annotations.
    """

    os: str
    architecture: str
    variant: str
    digest: str
    created_at: datetime | None
    annotations: dict[str, str] = field(default_factory=dict)

    def matches(self, os: str, architecture: str, variant: str) -> bool:
        """Whether this is exactly ``os/architecture[/variant]`` (variants must be equal)."""
        return (self.os, self.architecture, self.variant) == (os, architecture, variant)


@dataclass(frozen=True)
class ImageMetadata:
    """What discovery needs to know about one manifest digest; immutable, so cacheable.

    Attributes:
        digest: The manifest digest.
        media_type: The manifest's media type.
        created_at: The build date, when one is known.
        annotations: The manifest's (or index's) annotations.
        platforms: For an index, its platform images; empty for a single image.
    """

    digest: str
    media_type: str
    created_at: datetime | None
    annotations: dict[str, str] = field(default_factory=dict)
    platforms: tuple[PlatformImage, ...] = ()

    @property
    def is_index(self) -> bool:
        """Whether this is an image index (multi-platform)."""
        return self.media_type in INDEX_TYPES


def string_map(value: Any) -> dict[str, str]:
    """``value`` if it is a JSON object of strings, keeping only the string entries."""
    if not isinstance(value, dict):
        return {}
    return {str(k): v for k, v in value.items() if isinstance(v, str)}


def parse_descriptor(value: Any) -> Descriptor | None:
    """A descriptor from its JSON form, or None when it lacks a digest."""
    if not isinstance(value, dict):
        return None
    digest = value.get("digest")
    if not isinstance(digest, str) or not digest:
        return None
    platform = value.get("platform")
    platform = platform if isinstance(platform, dict) else {}
    size = value.get("size")

    def text(key: str) -> str:
        item = platform.get(key)
        return item if isinstance(item, str) else ""

    media_type = value.get("mediaType")
    return Descriptor(
        media_type=media_type if isinstance(media_type, str) else "",
        digest=digest,
        size=size if isinstance(size, int) else -1,
        annotations=string_map(value.get("annotations")),
        os=text("os"),
        architecture=text("architecture"),
        variant=text("variant"),
    )


def is_platform_entry(descriptor: Descriptor) -> bool:
    """Whether an index entry is an image for a platform (not an attestation or unknown)."""
    return descriptor.os not in ("", "unknown") and descriptor.architecture not in ("", "unknown")


def manifest_media_type(document: dict[str, Any], content_type: str) -> str:
    """The manifest's media type: its own ``mediaType``, else the response's Content-Type."""
    declared = document.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    content_type = content_type.split(";", 1)[0].strip()
    if content_type in INDEX_TYPES | IMAGE_TYPES:
        return content_type
    # An OCI manifest may omit mediaType; its shape tells what it is.
    if isinstance(document.get("manifests"), list):
        return OCI_INDEX
    if isinstance(document.get("config"), dict):
        return OCI_MANIFEST
    return content_type
