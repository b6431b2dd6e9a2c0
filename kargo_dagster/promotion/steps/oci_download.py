"""``oci-download``: download one layer of an OCI artifact (a Helm chart's archive, a
bundle) to a file in the work directory.

As Kargo's ``oci-download``: ``imageRef`` names the artifact by tag or digest (``oci://``
references use Helm credentials, others image credentials); the first layer whose media type
is ``mediaType`` is written to ``outPath``, or the first layer when no type is given. An image
index resolves to its ``linux/amd64`` image, as go-containerregistry's default platform. An
existing file is an error unless ``allowOverwrite`` is set; a layer over 100 MiB fails the
step. The layer is written as stored (still compressed) through a temporary file. No outputs.
"""

from pydantic import Field

from kargo_dagster.clients.oci.artifacts import ArtifactRepository
from kargo_dagster.clients.oci.client import RegistryClient
from kargo_dagster.clients.oci.copy import unsupported_media_type
from kargo_dagster.clients.oci.manifest import IMAGE_TYPES, INDEX_TYPES, parse_descriptor
from kargo_dagster.clients.oci.reference import parse_artifact_reference
from kargo_dagster.clients.oci.repository import Manifest
from kargo_dagster.errors import ArtifactError
from kargo_dagster.promotion.download_target import output_path, write_atomically
from kargo_dagster.promotion.registry_step_errors import registry_step_errors
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.promotion.steps.schema_types import OciReference

__all__ = ["MAX_LAYER_BYTES", "STEP", "Config", "OCIDownload"]

MAX_LAYER_BYTES = 100 << 20


class Config(StepConfig):
    """``oci-download``'s configuration."""

    image_ref: OciReference
    out_path: str = Field(min_length=1)
    allow_overwrite: bool = False
    media_type: str | None = Field(default=None, min_length=1)
    insecure_skip_tls_verify: bool = False


def _image(repository: ArtifactRepository, reference: str) -> Manifest:
    manifest = repository.get_manifest(reference)
    if manifest.media_type in INDEX_TYPES:
        for entry in manifest.document.get("manifests") or []:
            descriptor = parse_descriptor(entry)
            if descriptor and descriptor.os == "linux" and descriptor.architecture == "amd64":
                return _image(repository, descriptor.digest)
        raise ArtifactError(f"image index {manifest.digest} has no linux/amd64 image")
    if manifest.media_type not in IMAGE_TYPES:
        raise unsupported_media_type(manifest)
    return manifest


def _layer(manifest: Manifest, media_type: str | None) -> tuple[str, int]:
    layers = [parse_descriptor(entry) for entry in manifest.document.get("layers") or []]
    present = [layer for layer in layers if layer is not None]
    if not present:
        raise ArtifactError(f"image {manifest.digest} has no layers")
    chosen = present[0]
    if media_type:
        chosen = next((layer for layer in present if layer.media_type == media_type), None)
    if chosen is None:
        raise ArtifactError(f"no layer found with media type {media_type!r}")
    return chosen.digest, chosen.size


class OCIDownload(StepKind[Config]):
    """Download a layer of an OCI artifact."""

    name = "oci-download"
    config_model = Config

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Download the layer to ``outPath``; no outputs."""
        target = output_path(ctx, config.out_path, config.allow_overwrite)
        with registry_step_errors(f"failed to download {config.image_ref}"):
            reference = parse_artifact_reference(config.image_ref)
            with RegistryClient(ctx.credentials) as client:
                repository = client.artifact_repository(
                    reference.repo_url,
                    kind=reference.kind,
                    insecure_skip_tls_verify=config.insecure_skip_tls_verify,
                )
                digest, size = _layer(_image(repository, reference.reference), config.media_type)
                if size > MAX_LAYER_BYTES:
                    raise ArtifactError(
                        f"layer size {size} exceeds maximum allowed size of {MAX_LAYER_BYTES} bytes"
                    )
                content = repository.get_blob(digest, MAX_LAYER_BYTES)
        write_atomically(target, [content], MAX_LAYER_BYTES)
        return {}


STEP = OCIDownload()
