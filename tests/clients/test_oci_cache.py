"""The image cache: LRU bounds, and a JSON form that a sensor can keep between ticks."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kargo_dagster.clients.oci import OCI_INDEX, OCI_MANIFEST, ImageCache, ImageMetadata
from kargo_dagster.clients.oci.manifest import PlatformImage
from kargo_dagster.errors import DiscoveryError


def _image(n: int) -> ImageMetadata:
    return ImageMetadata(digest=f"sha256:{n:064x}", media_type=OCI_MANIFEST, created_at=None)


INDEX = ImageMetadata(
    digest="sha256:" + "f" * 64,
    media_type=OCI_INDEX,
    created_at=datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    annotations={"a": "b"},
    platforms=(
        PlatformImage(
            "linux",
            "arm",
            "v7",
            "sha256:" + "e" * 64,
            datetime(2024, 1, 1, tzinfo=timezone(timedelta(hours=2))),
            {"note": "x"},
        ),
        PlatformImage("linux", "amd64", "", "sha256:" + "d" * 64, None),
    ),
)


def test_images_are_evicted_least_recently_used_first():
    cache = ImageCache(max_entries=2)
    cache.put_image(_image(1))
    cache.put_image(_image(2))
    assert cache.get_image(_image(1).digest) == _image(1)  # 1 is now the most recent
    cache.put_image(_image(3))
    assert cache.get_image(_image(2).digest) is None
    assert cache.get_image(_image(1).digest) == _image(1)
    assert cache.image_count == 2


def test_tags_are_bounded_too():
    cache = ImageCache(max_entries=2)
    for n in range(3):
        cache.put_tag("host/repo", f"v{n}", f"sha256:{n}")
    assert [cache.get_tag("host/repo", f"v{n}") for n in range(3)] == [None, "sha256:1", "sha256:2"]
    assert cache.get_tag("host/other", "v1") is None
    assert cache.tag_count == 2


def test_json_round_trip():
    cache = ImageCache()
    cache.put_image(INDEX)
    cache.put_image(_image(7))
    cache.put_tag("127.0.0.1:5000/team/app", "v1.0.0", INDEX.digest)
    restored = ImageCache.from_json(cache.to_json())
    assert restored.get_image(INDEX.digest) == INDEX
    assert restored.get_image(_image(7).digest) == _image(7)
    assert restored.get_tag("127.0.0.1:5000/team/app", "v1.0.0") == INDEX.digest
    assert restored.to_json() == cache.to_json()


def test_another_format_version_starts_empty():
    assert ImageCache.from_json('{"version": 999, "images": "whatever"}').image_count == 0


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", '{"version": 1, "images": [{"digest": "x"}]}', '{"version": 1, "tags": 3}'],
)
def test_unreadable_cache_is_a_discovery_error(text: str):
    with pytest.raises(DiscoveryError, match="image cache could not be read"):
        ImageCache.from_json(text)
