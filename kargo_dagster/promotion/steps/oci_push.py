"""``oci-push``: copy an image, image index or OCI Helm chart to another repository or tag.

As Kargo's ``oci-push``: ``srcRef`` names the artifact by tag or digest, ``destRef`` the
repository and tag to push it to (the same repository retags it, another repository or
registry copies it); ``oci://`` references are Helm charts and use Helm credentials, others
image credentials, from the promotion's credential store. ``annotations`` are set on the
copy: ``index:``-prefixed keys on an image index, ``manifest:``-prefixed and unprefixed
keys on each image manifest. A copy to another repository is refused when the artifact's
compressed size (from its manifests) exceeds ``MAX_OCI_PUSH_ARTIFACT_SIZE`` bytes, read from
the environment as Kargo's controller reads it (default 1 GiB; 0 refuses every such copy,
-1 lifts the limit).

Outputs: ``image`` (the destination reference, ``host/repo:tag``), ``digest`` (of the pushed
manifest) and ``tag``.
"""

import os

from kargo_dagster.clients.oci.client import RegistryClient
from kargo_dagster.clients.oci.copy import Annotations, artifact_size, copy_artifact, read_artifact
from kargo_dagster.clients.oci.reference import ArtifactReference, parse_artifact_reference
from kargo_dagster.errors import ArtifactError
from kargo_dagster.promotion.registry_step_errors import registry_step_errors
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.schema_types import OciReference, OciTagReference

__all__ = ["DEFAULT_MAX_ARTIFACT_BYTES", "MAX_ARTIFACT_SIZE_ENV", "STEP", "Config", "OCIPush"]

DEFAULT_MAX_ARTIFACT_BYTES = 1 << 30
MAX_ARTIFACT_SIZE_ENV = "MAX_OCI_PUSH_ARTIFACT_SIZE"


class Config(StepConfig):
    """``oci-push``'s configuration."""

    src_ref: OciReference
    dest_ref: OciTagReference
    annotations: dict[str, str] | None = None
    insecure_skip_tls_verify: bool = False


class OCIPush(StepKind[Config]):
    """Copy or retag an OCI artifact.

    Args:
        max_artifact_bytes: The largest artifact copied to another repository; 0 refuses
            every such copy, -1 lifts the limit, None reads ``MAX_OCI_PUSH_ARTIFACT_SIZE``
            when the step runs (1 GiB when it is not set).
    """

    name = "oci-push"
    config_model = Config

    def __init__(self, max_artifact_bytes: int | None = None) -> None:
        self.max_artifact_bytes = max_artifact_bytes

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Copy ``srcRef`` to ``destRef``; outputs ``image``, ``digest`` and ``tag``."""
        with registry_step_errors(f"failed to push {config.src_ref} to {config.dest_ref}"):
            source_ref = parse_artifact_reference(config.src_ref)
            dest_ref = parse_artifact_reference(config.dest_ref)
            if not dest_ref.tag:
                raise ArtifactError(f"destRef {config.dest_ref!r} must name a tag")
            with RegistryClient(ctx.credentials) as client:
                source = client.artifact_repository(
                    source_ref.repo_url,
                    kind=source_ref.kind,
                    insecure_skip_tls_verify=config.insecure_skip_tls_verify,
                )
                destination = client.artifact_repository(
                    dest_ref.repo_url,
                    kind=dest_ref.kind,
                    insecure_skip_tls_verify=config.insecure_skip_tls_verify,
                    push=True,
                )
                artifact = read_artifact(source, source_ref.reference)
                self._check_size(source_ref, dest_ref, artifact_size(artifact))
                annotations = Annotations.from_scoped(config.annotations or {})
                digest = copy_artifact(source, artifact, destination, dest_ref.tag, annotations)
        ctx.log.info(f"pushed {config.src_ref} to {dest_ref.name} ({digest})")
        return {"image": dest_ref.name, "digest": digest, "tag": dest_ref.tag}

    def _check_size(self, source: ArtifactReference, dest: ArtifactReference, size: int) -> None:
        # Within one repository every blob is there already; only copies move bytes.
        limit = self._limit()
        if limit < 0 or str(source.ref) == str(dest.ref):
            return
        if limit == 0:
            raise ArtifactError("cross-repository push is disabled")
        if size > limit:
            raise ArtifactError(
                f"compressed artifact size {size} bytes exceeds the maximum allowed size of "
                f"{limit} bytes"
            )

    def _limit(self) -> int:
        if self.max_artifact_bytes is not None:
            return self.max_artifact_bytes
        given = os.environ.get(MAX_ARTIFACT_SIZE_ENV, "").strip()
        if not given:
            return DEFAULT_MAX_ARTIFACT_BYTES
        try:
            return int(given)
        except ValueError:
            raise ArtifactError(
                f"{MAX_ARTIFACT_SIZE_ENV}={given!r} is not a number of bytes"
            ) from None


STEP = OCIPush()
