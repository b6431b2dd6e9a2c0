"""What a registry client remembers between polls: image metadata by digest, digests by tag.

A manifest digest names immutable content, so its metadata (build date, annotations,
platforms) is kept for good, within an LRU bound. A tag's digest is kept only for
subscriptions that opt into ``cacheByTag``: tags can move, and a cached tag would then hide
the new image. The cache serialises to JSON so a sensor can carry it from tick to tick.
"""

import json
from collections import OrderedDict
from datetime import datetime
from typing import Any

from kargo_dagster.clients.oci.manifest import ImageMetadata, PlatformImage, string_map
from kargo_dagster.errors import DiscoveryError

DEFAULT_MAX_ENTRIES = 10_000
_FORMAT_VERSION = 1


class ImageCache:
    """Bounded LRU caches of image metadata by digest and of digests by tag.

    Args:
        max_entries: How many digests (and, separately, how many tags) to keep.
    """

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._images: OrderedDict[str, ImageMetadata] = OrderedDict()
        self._tags: OrderedDict[str, str] = OrderedDict()

    def get_image(self, digest: str) -> ImageMetadata | None:
        """The metadata of ``digest``, if known."""
        found = self._images.get(digest)
        if found is not None:
            self._images.move_to_end(digest)
        return found

    def put_image(self, image: ImageMetadata) -> None:
        """Remember ``image``; the least recently used digest goes when the cache is full."""
        self._images[image.digest] = image
        self._images.move_to_end(image.digest)
        while len(self._images) > self.max_entries:
            self._images.popitem(last=False)

    def get_tag(self, repository: str, tag: str) -> str | None:
        """The digest ``repository:tag`` had when it was cached, if it was."""
        key = f"{repository}:{tag}"
        found = self._tags.get(key)
        if found is not None:
            self._tags.move_to_end(key)
        return found

    def put_tag(self, repository: str, tag: str, digest: str) -> None:
        """Remember that ``repository:tag`` points to ``digest``."""
        key = f"{repository}:{tag}"
        self._tags[key] = digest
        self._tags.move_to_end(key)
        while len(self._tags) > self.max_entries:
            self._tags.popitem(last=False)

    @property
    def image_count(self) -> int:
        """How many digests are cached."""
        return len(self._images)

    @property
    def tag_count(self) -> int:
        """How many tags are cached."""
        return len(self._tags)

    def to_json(self) -> str:
        """The cache as a JSON document, oldest entries first."""
        return json.dumps(
            {
                "version": _FORMAT_VERSION,
                "images": [_image_to_json(i) for i in self._images.values()],
                "tags": dict(self._tags),
            },
            separators=(",", ":"),
            sort_keys=False,
        )

    @classmethod
    def from_json(cls, text: str, max_entries: int = DEFAULT_MAX_ENTRIES) -> "ImageCache":
        """A cache from :meth:`to_json` output; another format version gives an empty cache.

        Raises:
            DiscoveryError: ``text`` is not a cache document.
        """
        cache = cls(max_entries)
        try:
            data = json.loads(text)
            if not isinstance(data, dict):
                raise TypeError("not a JSON object")
            if data.get("version") != _FORMAT_VERSION:
                return cache
            for item in data.get("images", []):
                cache.put_image(_image_from_json(item))
            for key, digest in dict(data.get("tags", {})).items():
                repository, _, tag = str(key).rpartition(":")
                cache.put_tag(repository, tag, str(digest))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise DiscoveryError(f"the image cache could not be read: {exc}") from exc
        return cache


def _date_to_json(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _date_from_json(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _image_to_json(image: ImageMetadata) -> dict[str, Any]:
    return {
        "digest": image.digest,
        "mediaType": image.media_type,
        "created": _date_to_json(image.created_at),
        "annotations": image.annotations,
        "platforms": [
            {
                "os": p.os,
                "architecture": p.architecture,
                "variant": p.variant,
                "digest": p.digest,
                "created": _date_to_json(p.created_at),
                "annotations": p.annotations,
            }
            for p in image.platforms
        ],
    }


def _image_from_json(item: dict[str, Any]) -> ImageMetadata:
    return ImageMetadata(
        digest=str(item["digest"]),
        media_type=str(item["mediaType"]),
        created_at=_date_from_json(item.get("created")),
        annotations=string_map(item.get("annotations")),
        platforms=tuple(
            PlatformImage(
                os=str(p["os"]),
                architecture=str(p["architecture"]),
                variant=str(p.get("variant", "")),
                digest=str(p["digest"]),
                created_at=_date_from_json(p.get("created")),
                annotations=string_map(p.get("annotations")),
            )
            for p in item.get("platforms", [])
        ),
    )
