"""One repository's blobs as bytes, and writes: what copying and downloading artifacts needs.

Discovery reads parsed metadata through :class:`~kargo_dagster.clients.oci.repository.Repository`;
the ``oci-push`` and ``oci-download`` steps need blobs' bytes too (manifests keep theirs in
``Manifest.raw``, so a manifest copied unchanged keeps its digest) and, for ``oci-push``,
writes: blobs are uploaded in one
``POST``/``PUT`` pair (mounted from another repository of the same registry when the
registry allows it), manifests with one ``PUT``. Every read is checked against its digest.
"""

import httpx

from kargo_dagster.clients.oci.repository import MAX_DOCUMENT_BYTES, Repository
from kargo_dagster.clients.oci.transport import RegistryNotFoundError

__all__ = ["ArtifactRepository"]


class ArtifactRepository(Repository):
    """Byte-level access to one repository; get one from ``RegistryClient.artifact_repository``."""

    def get_blob(self, digest: str, limit: int) -> bytes:
        """A blob's bytes, checked against its digest.

        Raises:
            RepositoryError: The request failed, the blob is larger than ``limit`` or its
                bytes do not match the digest.
        """
        response = self._http.send(
            self._target, "blob", "GET", self._url(f"blobs/{digest}"), f"reading blob {digest} of"
        )
        if len(response.content) > limit:
            raise self._fail(f"served blob {digest} larger than {limit} bytes")
        self._verified_digest(response.content, digest, f"blob {digest}")
        return response.content

    def has_blob(self, digest: str) -> bool:
        """Whether the repository holds the blob.

        Raises:
            RepositoryError: The request failed (other than with 404).
        """
        try:
            self._http.send(
                self._target,
                "blob-head",
                "HEAD",
                self._url(f"blobs/{digest}"),
                f"looking for blob {digest} in",
            )
        except RegistryNotFoundError:
            return False
        return True

    def mount_blob(self, digest: str, source: Repository) -> httpx.URL | None:
        """Start an upload, asking to mount the blob from ``source`` (same registry only).

        Returns:
            None when the blob was mounted; otherwise where to upload it.

        Raises:
            RepositoryError: The request failed.
        """
        url = httpx.URL(self._url("blobs/uploads/"))
        if source.ref.host == self.ref.host:
            url = url.copy_merge_params({"mount": digest, "from": source.ref.repository})
        response = self._http.send(
            self._target, "blob-upload", "POST", url, f"starting an upload of blob {digest} to"
        )
        if response.status_code == 201:
            return None
        location = response.headers.get("location")
        if not location:
            raise self._fail("started a blob upload without a Location")
        return response.url.join(location)

    def put_blob(self, location: httpx.URL, digest: str, data: bytes) -> None:
        """Finish an upload started by :meth:`mount_blob` with the whole blob.

        Raises:
            RepositoryError: The registry refused it.
        """
        self._http.send(
            self._target,
            "blob-upload",
            "PUT",
            location.copy_add_param("digest", digest),
            f"uploading blob {digest} to",
            headers={"Content-Type": "application/octet-stream"},
            content=data,
        )

    def put_manifest(self, reference: str, media_type: str, raw: bytes) -> None:
        """Store a manifest under a tag or its digest.

        Raises:
            RepositoryError: The registry refused it (a missing blob, a bad manifest).
        """
        if len(raw) > MAX_DOCUMENT_BYTES:
            raise self._fail(f"was to receive a manifest over {MAX_DOCUMENT_BYTES} bytes")
        self._http.send(
            self._target,
            "manifest-put",
            "PUT",
            self._url(f"manifests/{reference}"),
            f"pushing manifest {reference!r} to",
            headers={"Content-Type": media_type},
            content=raw,
        )
