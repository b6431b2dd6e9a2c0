"""Artifact references with a tag or digest: ``ghcr.io/org/app:v1``, ``oci://host/charts/app@sha256:…``.

Read as Kargo's OCI steps read them: an ``oci://`` prefix marks a Helm chart, whose
credentials are Helm's (looked up under the ``oci://`` URL); anything else is an image.
"""

from dataclasses import dataclass

from kargo_dagster.clients.oci.registry_ref import DOCKER_HUB_HOST, RegistryRef, parse_repo_url
from kargo_dagster.credentials import CredentialType
from kargo_dagster.errors import ArtifactError, DiscoveryError
from kargo_dagster.redaction import redact_text

__all__ = ["ArtifactReference", "parse_artifact_reference"]

_DOCKER_HUB_NAME = "index.docker.io"


@dataclass(frozen=True)
class ArtifactReference:
    """One artifact in one repository.

    Attributes:
        repo_url: The repository as written (``oci://`` kept), for credential look-ups.
        ref: The registry and repository path.
        reference: The tag, or the digest when one was given.
        kind: Which credentials apply: ``helm`` for ``oci://`` references, else ``image``.
    """

    repo_url: str
    ref: RegistryRef
    reference: str
    kind: CredentialType

    @property
    def tag(self) -> str:
        """The tag, or ``""`` for a reference by digest."""
        return "" if ":" in self.reference else self.reference

    @property
    def name(self) -> str:
        """The reference as Kargo reports it: ``host/repo:tag`` (Docker Hub as index.docker.io)."""
        host = _DOCKER_HUB_NAME if self.ref.host == DOCKER_HUB_HOST else self.ref.host
        separator = "@" if ":" in self.reference else ":"
        return f"{host}/{self.ref.repository}{separator}{self.reference}"


def parse_artifact_reference(text: str) -> ArtifactReference:
    """Split ``text`` into repository and tag or digest.

    Raises:
        ArtifactError: ``text`` names no tag or digest, or no valid repository.
    """
    kind: CredentialType = "helm" if text[:6].lower() == "oci://" else "image"
    repo_url, at, digest = text.partition("@")
    last = repo_url.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        repo_url, _, tag = repo_url.rpartition(":")
    reference = digest if at else tag
    shown = redact_text(text)
    if not reference:
        raise ArtifactError(f"reference {shown!r} names neither a tag nor a digest")
    try:
        ref = parse_repo_url(repo_url)
    except DiscoveryError as error:
        raise ArtifactError(f"invalid reference {shown!r}: {error}") from error
    return ArtifactReference(repo_url=repo_url, ref=ref, reference=reference, kind=kind)
