"""Pushing images, multi-platform indexes and Helm charts to a registry over its HTTP API.

Blobs are uploaded with ``POST /v2/<name>/blobs/uploads/`` then ``PUT <Location>&digest=…``
(skipped when the registry already has the blob); manifests with
``PUT /v2/<name>/manifests/<tag>``. Nothing here needs Docker, Helm or ORAS.
"""

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from kargo_dagster.clients.oci.manifest import OCI_INDEX, OCI_MANIFEST
from kargo_dagster.testing.registry import LocalRegistry, RegistryServerError

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART_LAYER = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
# An empty gzip'd tar: the same layer for every test image.
_EMPTY_LAYER = gzip.compress(b"\0" * 1024, mtime=0)

Registry = LocalRegistry | str


def _base(registry: Registry) -> str:
    return registry.url if isinstance(registry, LocalRegistry) else registry.rstrip("/")


def digest_of(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(document: Mapping[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def _timestamp(created: datetime | str | None) -> str | None:
    if created is None or isinstance(created, str):
        return created
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return created.isoformat().replace("+00:00", "Z")


def _checked(response: httpx.Response, what: str) -> httpx.Response:
    if response.status_code >= 300:
        raise RegistryServerError(
            f"pushing {what} failed: HTTP {response.status_code} {response.text[:300]}"
        )
    return response


def push_blob(
    registry: Registry, repository: str, data: bytes, *, client: httpx.Client | None = None
) -> str:
    """Upload ``data`` as a blob of ``repository`` unless it is there already; its digest."""
    digest = digest_of(data)
    base = _base(registry)
    with _session(client) as http:
        if http.head(f"{base}/v2/{repository}/blobs/{digest}").status_code == 200:
            return digest
        started = _checked(
            http.post(f"{base}/v2/{repository}/blobs/uploads/"), f"blob {digest} (start)"
        )
        location = httpx.URL(started.headers["location"])
        if not location.is_absolute_url:
            location = httpx.URL(base).join(location)
        # httpx 0.28 replaces a URL's query when given params=; the upload state lives there.
        target = location.copy_merge_params({"digest": digest})
        _checked(
            http.put(target, content=data, headers={"Content-Type": "application/octet-stream"}),
            f"blob {digest}",
        )
    return digest


def push_manifest(
    registry: Registry,
    repository: str,
    reference: str,
    manifest: Mapping[str, Any],
    *,
    media_type: str | None = None,
    client: httpx.Client | None = None,
) -> str:
    """Put ``manifest`` under ``reference`` (a tag); the manifest's digest."""
    body = _canonical(manifest)
    content_type = media_type or str(manifest.get("mediaType", OCI_MANIFEST))
    with _session(client) as http:
        _checked(
            http.put(
                f"{_base(registry)}/v2/{repository}/manifests/{reference}",
                content=body,
                headers={"Content-Type": content_type},
            ),
            f"manifest {repository}:{reference}",
        )
    return digest_of(body)


def image_config(
    *,
    created: datetime | str | None = None,
    platform: str = "linux/amd64",
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An OCI image config for ``platform`` (``os/arch[/variant]``) with a build date."""
    os_name, _, rest = platform.partition("/")
    architecture, _, variant = rest.partition("/")
    config: dict[str, Any] = {
        "architecture": architecture,
        "os": os_name,
        "rootfs": {"type": "layers", "diff_ids": [digest_of(gzip.decompress(_EMPTY_LAYER))]},
        "config": {"Labels": dict(labels or {})},
    }
    if variant:
        config["variant"] = variant
    stamp = _timestamp(created)
    if stamp is not None:
        config["created"] = stamp
    return config


def image_manifest(
    config_digest: str,
    config_size: int,
    *,
    config_media_type: str = OCI_CONFIG,
    layers: Iterable[tuple[str, int, str]] = (),
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An OCI image manifest; ``layers`` are ``(digest, size, media type)``."""
    manifest: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": config_media_type, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": m, "digest": d, "size": s} for d, s, m in layers],
    }
    if annotations:
        manifest["annotations"] = dict(annotations)
    return manifest


def push_image(
    registry: Registry,
    repository: str,
    tag: str,
    *,
    config: Mapping[str, Any] | None = None,
    created: datetime | str | None = None,
    platform: str = "linux/amd64",
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    client: httpx.Client | None = None,
) -> str:
    """Push a one-layer image under ``tag``; its manifest digest.

    Args:
        registry: The registry (or its base URL).
        repository: ``team/app``.
        tag: The tag to put it under (a digest pushes it untagged).
        config: The whole image config; built from ``created``/``platform``/``labels`` if
            omitted.
        created: The config's ``created`` build date.
        platform: ``os/arch[/variant]`` written into the config.
        labels: Config labels (e.g. ``org.label-schema.build-date``).
        annotations: Manifest annotations (e.g. ``org.opencontainers.image.created``).
        client: An HTTP client to reuse.
    """
    with _session(client) as http:
        document = config or image_config(created=created, platform=platform, labels=labels)
        config_body = _canonical(document)
        config_digest = push_blob(registry, repository, config_body, client=http)
        layer_digest = push_blob(registry, repository, _EMPTY_LAYER, client=http)
        manifest = image_manifest(
            config_digest,
            len(config_body),
            layers=[(layer_digest, len(_EMPTY_LAYER), OCI_LAYER)],
            annotations=annotations,
        )
        return push_manifest(registry, repository, tag, manifest, client=http)


@dataclass(frozen=True)
class PushedIndex:
    """An image index that was pushed.

    Attributes:
        digest: The index's digest.
        platforms: Each platform's image manifest digest, by ``os/arch[/variant]``.
    """

    digest: str
    platforms: dict[str, str]


def push_index(
    registry: Registry,
    repository: str,
    tag: str,
    platforms: Iterable[str],
    *,
    created: datetime | str | None = None,
    annotations: Mapping[str, str] | None = None,
    platform_annotations: Mapping[str, Mapping[str, str]] | None = None,
    attestation: bool = False,
    client: httpx.Client | None = None,
) -> PushedIndex:
    """Push one image per platform and an OCI index of them under ``tag``.

    Args:
        registry: The registry (or its base URL).
        repository: ``team/app``.
        tag: The index's tag.
        platforms: ``os/arch[/variant]`` entries.
        created: Every platform image's config ``created``.
        annotations: The index's annotations.
        platform_annotations: Annotations of index entries, by platform.
        attestation: Add an ``unknown/unknown`` entry, as BuildKit does for provenance.
        client: An HTTP client to reuse.
    """
    entries: list[dict[str, Any]] = []
    digests: dict[str, str] = {}
    with _session(client) as http:
        for platform in platforms:
            digest, size = _push_untagged(registry, repository, created, platform, http)
            digests[platform] = digest
            os_name, _, rest = platform.partition("/")
            architecture, _, variant = rest.partition("/")
            described: dict[str, Any] = {"os": os_name, "architecture": architecture}
            if variant:
                described["variant"] = variant
            entry: dict[str, Any] = {
                "mediaType": OCI_MANIFEST,
                "digest": digest,
                "size": size,
                "platform": described,
            }
            if platform_annotations and platform in platform_annotations:
                entry["annotations"] = dict(platform_annotations[platform])
            entries.append(entry)
        if attestation:
            digest, size = _push_untagged(registry, repository, created, "unknown/unknown", http)
            entries.append(
                {
                    "mediaType": OCI_MANIFEST,
                    "digest": digest,
                    "size": size,
                    "platform": {"os": "unknown", "architecture": "unknown"},
                    "annotations": {"vnd.docker.reference.type": "attestation-manifest"},
                }
            )
        index: dict[str, Any] = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        if annotations:
            index["annotations"] = dict(annotations)
        return PushedIndex(push_manifest(registry, repository, tag, index, client=http), digests)


def _push_untagged(
    registry: Registry,
    repository: str,
    created: datetime | str | None,
    platform: str,
    http: httpx.Client,
) -> tuple[str, int]:
    """Push a platform image by digest only (as index members are); digest and size."""
    document = image_config(created=created, platform=platform)
    config_body = _canonical(document)
    config_digest = push_blob(registry, repository, config_body, client=http)
    layer_digest = push_blob(registry, repository, _EMPTY_LAYER, client=http)
    manifest = image_manifest(
        config_digest, len(config_body), layers=[(layer_digest, len(_EMPTY_LAYER), OCI_LAYER)]
    )
    body = _canonical(manifest)
    return push_manifest(registry, repository, digest_of(body), manifest, client=http), len(body)


def push_tags(
    registry: Registry,
    repository: str,
    tags: Iterable[str],
    *,
    created: datetime | str | None = None,
    workers: int = 8,
) -> dict[str, str]:
    """Push many tags cheaply: one config and layer, one small manifest per tag.

    Each manifest carries the tag in an annotation, so every tag has its own digest.

    Returns:
        Each tag's manifest digest.
    """
    base = _base(registry)
    with httpx.Client(timeout=30.0, limits=httpx.Limits(max_connections=workers)) as http:
        config_body = _canonical(image_config(created=created))
        config_digest = push_blob(base, repository, config_body, client=http)
        layer_digest = push_blob(base, repository, _EMPTY_LAYER, client=http)

        def put(tag: str) -> tuple[str, str]:
            manifest = image_manifest(
                config_digest,
                len(config_body),
                layers=[(layer_digest, len(_EMPTY_LAYER), OCI_LAYER)],
                annotations={"org.opencontainers.image.version": tag},
            )
            return tag, push_manifest(base, repository, tag, manifest, client=http)

        with ThreadPoolExecutor(max_workers=workers) as pool:
            return dict(pool.map(put, list(tags)))


def chart_archive(name: str, version: str, app_version: str = "1.0.0") -> bytes:
    """A minimal packaged Helm chart (``<name>-<version>.tgz`` contents)."""
    files = {
        f"{name}/Chart.yaml": (
            f"apiVersion: v2\nname: {name}\nversion: {version}\nappVersion: {app_version!r}\n"
            "type: application\n"
        ),
        f"{name}/values.yaml": "replicaCount: 1\n",
    }
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped:
        with tarfile.open(fileobj=zipped, mode="w") as archive:
            for path, text in files.items():
                data = text.encode()
                info = tarfile.TarInfo(path)
                info.size = len(data)
                info.mode = 0o644
                archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def push_chart(
    registry: Registry,
    repository: str,
    version: str,
    *,
    name: str | None = None,
    app_version: str = "1.0.0",
    created: datetime | str | None = None,
    client: httpx.Client | None = None,
) -> str:
    """Push an OCI Helm chart (as ``helm push`` lays it out) tagged ``version``; its digest.

    Args:
        registry: The registry (or its base URL).
        repository: ``charts/app``; the chart's name defaults to the last component.
        version: The chart version, also the tag (``+`` becomes ``_``, as Helm does).
        name: The chart name.
        app_version: ``appVersion`` in ``Chart.yaml``.
        created: The ``org.opencontainers.image.created`` annotation.
        client: An HTTP client to reuse.
    """
    chart = name or repository.rsplit("/", 1)[-1]
    config = {
        "apiVersion": "v2",
        "name": chart,
        "version": version,
        "appVersion": app_version,
        "type": "application",
    }
    archive = chart_archive(chart, version, app_version)
    annotations = {
        "org.opencontainers.image.title": chart,
        "org.opencontainers.image.version": version,
    }
    stamp = _timestamp(created)
    if stamp is not None:
        annotations["org.opencontainers.image.created"] = stamp
    with _session(client) as http:
        config_body = _canonical(config)
        config_digest = push_blob(registry, repository, config_body, client=http)
        layer_digest = push_blob(registry, repository, archive, client=http)
        manifest = image_manifest(
            config_digest,
            len(config_body),
            config_media_type=HELM_CONFIG,
            layers=[(layer_digest, len(archive), HELM_CHART_LAYER)],
            annotations=annotations,
        )
        return push_manifest(registry, repository, version.replace("+", "_"), manifest, client=http)


@contextmanager
def _session(client: httpx.Client | None) -> Iterator[httpx.Client]:
    """The given client, or a new one closed afterwards."""
    if client is not None:
        yield client
        return
    with httpx.Client(timeout=30.0) as own:
        yield own
