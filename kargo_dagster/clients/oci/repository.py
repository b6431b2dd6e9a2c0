"""One image repository through the distribution API: tags, manifests, blobs, image metadata.

Image metadata is read as Kargo reads it: a tag's manifest, then either the image config
(single image) or every platform image of an index (an index's build date is the newest of
its platforms unless it claims its own). Metadata is cached by digest; with ``cache_by_tag``
the tag's digest is cached too, so a known tag costs no request at all.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from kargo_dagster.clients.oci.cache import ImageCache
from kargo_dagster.clients.oci.manifest import (
    IMAGE_TYPES,
    INDEX_TYPES,
    MANIFEST_ACCEPT,
    ImageMetadata,
    PlatformImage,
    created_from_metadata,
    image_created_at,
    is_platform_entry,
    manifest_media_type,
    parse_descriptor,
    string_map,
)
from kargo_dagster.clients.oci.registry_ref import RegistryRef
from kargo_dagster.clients.oci.transport import RegistryHTTP, Target
from kargo_dagster.errors import RepositoryError

# Manifests and configs are small; a larger answer is not what we asked for.
MAX_DOCUMENT_BYTES = 4 * 1024 * 1024
MAX_TAG_PAGES = 10_000
_MAX_INDEX_DEPTH = 3
_LINK = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]*)*)")
_DIGEST = re.compile(r"(sha256|sha512):[a-f0-9]{64,128}")


@dataclass(frozen=True)
class Manifest:
    """A manifest as served.

    Attributes:
        digest: Its digest (computed from the bytes).
        media_type: Its media type.
        document: The parsed JSON.
        raw: The bytes, for copying the manifest unchanged.
    """

    digest: str
    media_type: str
    document: dict[str, Any]
    raw: bytes = field(default=b"", repr=False)


class Repository:
    """Read access to one repository; get one from ``RegistryClient.repository``.

    Args:
        http: The shared HTTP layer.
        target: The repository, its base URL and credentials.
        cache: Where image metadata and (with ``cache_by_tag``) tag digests are kept.
        page_size: The ``n`` sent when listing tags.
    """

    def __init__(self, http: RegistryHTTP, target: Target, cache: ImageCache, page_size: int):
        self._http = http
        self._target = target
        self._cache = cache
        self._page_size = page_size

    @property
    def ref(self) -> RegistryRef:
        """The repository's registry and path."""
        return self._target.ref

    def _url(self, suffix: str) -> str:
        return f"{self._target.base_url}/v2/{self.ref.repository}/{suffix}"

    def _fail(self, problem: str) -> RepositoryError:
        return RepositoryError(
            f"registry {self.ref.host} {problem} for image repository {self._target.label}"
        )

    def list_tags(self) -> list[str]:
        """Every tag, in the registry's order, following ``Link: <…>; rel="next"`` pages.

        Raises:
            RepositoryError: The listing failed or is malformed.
        """
        url = httpx.URL(self._url("tags/list")).copy_merge_params({"n": str(self._page_size)})
        tags: list[str] = []
        seen: set[str] = set()
        for _ in range(MAX_TAG_PAGES):
            seen.add(str(url))
            response = self._http.send(self._target, "tags", "GET", url, "listing the tags of")
            document = self._json(response.content, "the tag list")
            page = document.get("tags")
            if page is None:
                page = []
            if not isinstance(page, list) or not all(isinstance(t, str) for t in page):
                raise self._fail(
                    f"returned a tag list whose 'tags' is not a list of strings "
                    f"(got {type(page).__name__})"
                )
            tags.extend(page)
            following = _next_link(response)
            if following is None:
                return tags
            url = response.url.join(following)
            if (url.scheme, url.host, url.port) != (
                response.url.scheme,
                response.url.host,
                response.url.port,
            ):
                raise self._fail(f"sent a next-page link to another server ({url.host})")
            if str(url) in seen:
                raise self._fail("sent a next-page link that loops back to an earlier page")
        raise self._fail(f"kept paginating the tag list beyond {MAX_TAG_PAGES} pages")

    def resolve(self, reference: str) -> str:
        """The digest a tag (or digest) points to, by ``HEAD`` (``GET`` if no digest header).

        Raises:
            RegistryNotFoundError: No such tag.
            RepositoryError: The request failed.
        """
        response = self._http.send(
            self._target,
            "manifest-head",
            "HEAD",
            self._url(f"manifests/{reference}"),
            f"resolving tag {reference!r} of",
            headers={"Accept": MANIFEST_ACCEPT},
        )
        digest = response.headers.get("docker-content-digest", "")
        if _DIGEST.fullmatch(digest):
            return digest
        return self.get_manifest(reference).digest

    def get_manifest(self, reference: str) -> Manifest:
        """The manifest for a tag or digest, its digest checked against the bytes.

        Raises:
            RegistryNotFoundError: No such manifest.
            RepositoryError: The request failed or the manifest is malformed.
        """
        response = self._http.send(
            self._target,
            "manifest",
            "GET",
            self._url(f"manifests/{reference}"),
            f"reading manifest {reference!r} of",
            headers={"Accept": MANIFEST_ACCEPT},
        )
        raw = self._bounded(response, f"manifest {reference!r}")
        claimed = (
            reference
            if _DIGEST.fullmatch(reference)
            else response.headers.get("docker-content-digest", "")
        )
        digest = self._verified_digest(raw, claimed, f"manifest {reference!r}")
        document = self._json(raw, f"manifest {reference!r}")
        media_type = manifest_media_type(document, response.headers.get("content-type", ""))
        return Manifest(digest=digest, media_type=media_type, document=document, raw=raw)

    def get_blob_json(self, digest: str, what: str) -> dict[str, Any]:
        """A JSON blob (an image config), checked against its digest.

        Raises:
            RepositoryError: The request failed or the blob is malformed.
        """
        response = self._http.send(
            self._target,
            "blob",
            "GET",
            self._url(f"blobs/{digest}"),
            f"reading {what} {digest} of",
        )
        raw = self._bounded(response, f"{what} {digest}")
        self._verified_digest(raw, digest, f"{what} {digest}")
        return self._json(raw, f"{what} {digest}")

    def get_image(self, tag: str, *, cache_by_tag: bool = False) -> ImageMetadata:
        """The metadata of the image a tag points to, from the cache where possible.

        Args:
            tag: The tag.
            cache_by_tag: Trust a cached tag digest instead of asking the registry (only
                safe for immutable tags).

        Raises:
            RegistryNotFoundError: No such tag.
            RepositoryError: Reading it failed.
        """
        key = str(self.ref)
        digest = self._cache.get_tag(key, tag) if cache_by_tag else None
        if digest is None:
            digest = self.resolve(tag)
            if cache_by_tag:
                self._cache.put_tag(key, tag, digest)
        return self.image_by_digest(digest)

    def image_by_digest(self, digest: str) -> ImageMetadata:
        """The metadata of a manifest digest (cached for good once read).

        Raises:
            RepositoryError: Reading it failed or it is not an image or image index.
        """
        return self._image(digest, 0)

    def _image(self, digest: str, depth: int) -> ImageMetadata:
        cached = self._cache.get_image(digest)
        if cached is not None:
            return cached
        manifest = self.get_manifest(digest)
        if manifest.media_type in IMAGE_TYPES:
            image = self._single_image(manifest)
        elif manifest.media_type in INDEX_TYPES:
            if depth >= _MAX_INDEX_DEPTH:
                raise self._fail(f"nests image indexes deeper than {_MAX_INDEX_DEPTH} levels")
            image = self._index_image(manifest, depth)
        else:
            raise self._fail(
                f"served manifest {digest} with unsupported media type "
                f"{manifest.media_type or '(none)'!r} (expected an OCI or Docker v2 image or index)"
            )
        self._cache.put_image(image)
        return image

    def _single_image(self, manifest: Manifest) -> ImageMetadata:
        config = parse_descriptor(manifest.document.get("config"))
        if config is None:
            raise self._fail(f"served image manifest {manifest.digest} without a config")
        document = self.get_blob_json(config.digest, "image config")
        created = document.get("created")
        inner = document.get("config")
        labels = string_map(inner.get("Labels")) if isinstance(inner, dict) else {}
        annotations = string_map(manifest.document.get("annotations"))
        return ImageMetadata(
            digest=manifest.digest,
            media_type=manifest.media_type,
            created_at=image_created_at(
                annotations, labels, created if isinstance(created, str) else None
            ),
            annotations=annotations,
        )

    def _index_image(self, manifest: Manifest, depth: int) -> ImageMetadata:
        entries = manifest.document.get("manifests")
        if not isinstance(entries, list):
            raise self._fail(f"served image index {manifest.digest} without a manifests list")
        platforms: list[PlatformImage] = []
        for entry in entries:
            descriptor = parse_descriptor(entry)
            if descriptor is None or not is_platform_entry(descriptor):
                continue  # attestations and other non-image entries
            child = self._image(descriptor.digest, depth + 1)
            platforms.append(
                PlatformImage(
                    os=descriptor.os,
                    architecture=descriptor.architecture,
                    variant=descriptor.variant,
                    digest=descriptor.digest,
                    created_at=created_from_metadata(descriptor.annotations) or child.created_at,
                    annotations=descriptor.annotations,
                )
            )
        if not platforms:
            raise self._fail(
                f"served image index {manifest.digest} with no platform images (an empty "
                "index is not supported)"
            )
        annotations = string_map(manifest.document.get("annotations"))
        dates = [p.created_at for p in platforms if p.created_at is not None]
        return ImageMetadata(
            digest=manifest.digest,
            media_type=manifest.media_type,
            created_at=created_from_metadata(annotations) or (max(dates) if dates else None),
            annotations=annotations,
            platforms=tuple(platforms),
        )

    def _bounded(self, response: httpx.Response, what: str) -> bytes:
        raw = response.content
        if len(raw) > MAX_DOCUMENT_BYTES:
            raise self._fail(f"served {what} of {len(raw)} bytes (limit {MAX_DOCUMENT_BYTES})")
        return raw

    def _verified_digest(self, raw: bytes, claimed: str, what: str) -> str:
        algorithm = claimed.split(":", 1)[0] if _DIGEST.fullmatch(claimed) else "sha256"
        digest = f"{algorithm}:{hashlib.new(algorithm, raw).hexdigest()}"
        if _DIGEST.fullmatch(claimed) and claimed != digest:
            raise self._fail(f"served {what} whose content does not match its digest {claimed}")
        return digest

    def _json(self, raw: bytes, what: str) -> dict[str, Any]:
        try:
            document = json.loads(raw)
        except ValueError as exc:
            raise self._fail(f"returned malformed JSON for {what} ({exc})") from None
        if not isinstance(document, dict):
            raise self._fail(f"returned {what} as JSON {type(document).__name__}, not an object")
        return document


def _next_link(response: httpx.Response) -> str | None:
    for header in response.headers.get_list("link"):
        for match in _LINK.finditer(header):
            params = match.group(2).replace(" ", "").lower()
            if 'rel="next"' in params or "rel=next" in params:
                return match.group(1)
    return None
