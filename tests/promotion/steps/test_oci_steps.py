"""oci-push and oci-download against real docker-registry processes on loopback."""

import io
import json
import tarfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from kargo_dagster.clients.oci import OCI_INDEX, RegistryClient
from kargo_dagster.credentials import (
    CredentialRule,
    Credentials,
    CredentialType,
    StaticCredentialStore,
)
from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.step import StepContext
from kargo_dagster.promotion.steps import oci_download, oci_push, untar
from kargo_dagster.testing.oci_push import (
    HELM_CHART_LAYER,
    chart_archive,
    digest_of,
    push_chart,
    push_image,
    push_index,
)
from kargo_dagster.testing.registry import LocalRegistry
from kargo_dagster.testing.token_auth import TokenAuthRegistry
from tests.promotion.git_support import make_ctx, schema_errors


@pytest.fixture(scope="module")
def registry() -> Iterator[LocalRegistry]:
    with LocalRegistry() as server:
        yield server


@pytest.fixture(scope="module")
def other_registry() -> Iterator[LocalRegistry]:
    with LocalRegistry() as server:
        yield server


@pytest.fixture
def ctx(tmp_path: Path) -> StepContext:
    return make_ctx(tmp_path)


def _push(ctx: StepContext, step: oci_push.OCIPush = oci_push.STEP, **config: Any) -> dict:
    return step.run(ctx, oci_push.Config.model_validate(config))


def _download(ctx: StepContext, **config: Any) -> None:
    oci_download.STEP.run(ctx, oci_download.Config.model_validate(config))


def _manifest(registry: LocalRegistry, repository: str, reference: str) -> dict:
    response = httpx.get(
        f"{registry.url}/v2/{repository}/manifests/{reference}",
        headers={"Accept": f"{OCI_INDEX}, application/vnd.oci.image.manifest.v1+json"},
    )
    response.raise_for_status()
    assert digest_of(response.content) == response.headers["docker-content-digest"]
    return response.json()


@pytest.mark.parametrize(
    ("step", "config", "path", "message"),
    [
        ("oci-push", {"destRef": "r/a:b"}, "", "'srcRef' is a required property"),
        ("oci-push", {"srcRef": "r/a:b", "destRef": "r/a"}, "destRef", "does not match"),
        ("oci-push", {"srcRef": "r/a:b", "destRef": "r/a@sha256:0"}, "destRef", "does not match"),
        ("oci-push", {"srcRef": "r/a", "destRef": "r/a:b"}, "srcRef", "does not match"),
        ("oci-download", {"imageRef": "r/a:b"}, "", "'outPath' is a required property"),
        ("oci-download", {"imageRef": "r/a:b", "outPath": "o", "mediaType": ""}, "mediaType", ""),
    ],
)
def test_invalid_configs_are_refused_by_the_schema(
    step: str, config: dict[str, Any], path: str, message: str
) -> None:
    errors = schema_errors(step, config)
    assert any(where == path and message in text for where, text in errors), errors


def test_copies_an_image_to_another_registry_keeping_its_digest(
    registry: LocalRegistry, other_registry: LocalRegistry, ctx: StepContext
) -> None:
    digest = push_image(registry, "team/app", "v1")

    outputs = _push(
        ctx,
        srcRef=f"{registry.host}/team/app:v1",
        destRef=f"{other_registry.host}/prod/app:stable",
    )

    assert outputs == {
        "image": f"{other_registry.host}/prod/app:stable",
        "digest": digest,
        "tag": "stable",
    }
    with RegistryClient() as client:
        assert client.repository(other_registry.repo_url("prod/app")).resolve("stable") == digest
        # Every blob came along: the image's metadata reads back from the copy.
        assert client.repository(other_registry.repo_url("prod/app")).get_image("stable")


def test_copies_an_index_by_digest_annotating_the_index_and_each_image(
    registry: LocalRegistry, ctx: StepContext
) -> None:
    pushed = push_index(registry, "team/multi", "v2", ["linux/amd64", "linux/arm64"])

    outputs = _push(
        ctx,
        srcRef=f"{registry.host}/team/multi@{pushed.digest}",
        destRef=f"{registry.host}/release/multi:v2",
        annotations={"index:release": "r1", "manifest:stage": "prod", "team": "a"},
    )

    index = _manifest(registry, "release/multi", "v2")
    assert outputs["digest"] != pushed.digest
    assert digest_of(json.dumps(index, separators=(",", ":")).encode()) == outputs["digest"]
    assert index["annotations"] == {"release": "r1"}
    platforms = [entry["platform"]["architecture"] for entry in index["manifests"]]
    assert platforms == ["amd64", "arm64"]
    for entry in index["manifests"]:
        image = _manifest(registry, "release/multi", entry["digest"])
        assert image["annotations"] == {"stage": "prod", "team": "a"}
        assert entry["digest"] not in pushed.platforms.values()


def test_retags_a_helm_chart_in_place(registry: LocalRegistry, ctx: StepContext) -> None:
    digest = push_chart(registry, "charts/app", "1.0.0")

    outputs = _push(
        ctx,
        srcRef=f"oci://{registry.host}/charts/app:1.0.0",
        destRef=f"oci://{registry.host}/charts/app:prod",
    )

    assert outputs == {"image": f"{registry.host}/charts/app:prod", "digest": digest, "tag": "prod"}


def test_the_size_limit_applies_to_copies_between_repositories_only(
    registry: LocalRegistry, ctx: StepContext
) -> None:
    push_image(registry, "team/big", "v1")
    small = oci_push.OCIPush(max_artifact_bytes=10)

    with pytest.raises(TerminalStepError, match=r"exceeds the maximum allowed size of 10 bytes"):
        _push(ctx, small, srcRef=f"{registry.host}/team/big:v1", destRef=f"{registry.host}/x:v1")
    with pytest.raises(TerminalStepError, match="cross-repository push is disabled"):
        _push(
            ctx,
            oci_push.OCIPush(max_artifact_bytes=0),
            srcRef=f"{registry.host}/team/big:v1",
            destRef=f"{registry.host}/x:v1",
        )
    assert _push(
        ctx, small, srcRef=f"{registry.host}/team/big:v1", destRef=f"{registry.host}/team/big:v2"
    )


def test_the_size_limit_comes_from_the_environment_as_in_kargo(
    registry: LocalRegistry, ctx: StepContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    push_image(registry, "team/big", "v1")
    source, target = f"{registry.host}/team/big:v1", f"{registry.host}/y:v1"
    monkeypatch.setenv("MAX_OCI_PUSH_ARTIFACT_SIZE", "10")
    with pytest.raises(TerminalStepError, match=r"exceeds the maximum allowed size of 10 bytes"):
        _push(ctx, srcRef=source, destRef=target)
    monkeypatch.setenv("MAX_OCI_PUSH_ARTIFACT_SIZE", "-1")
    assert _push(ctx, srcRef=source, destRef=target)["tag"] == "v1"
    monkeypatch.setenv("MAX_OCI_PUSH_ARTIFACT_SIZE", "lots")
    with pytest.raises(TerminalStepError, match="MAX_OCI_PUSH_ARTIFACT_SIZE='lots' is not a"):
        _push(ctx, srcRef=source, destRef=f"{registry.host}/z:v1")


def test_a_missing_source_is_retried_with_a_message_naming_it(
    registry: LocalRegistry, ctx: StepContext
) -> None:
    with pytest.raises(RetryableStepError) as caught:
        _push(ctx, srcRef=f"{registry.host}/team/none:v9", destRef=f"{registry.host}/x:v9")

    assert str(caught.value).startswith(
        f"failed to push {registry.host}/team/none:v9 to {registry.host}/x:v9: registry "
        f"{registry.host} answered HTTP 404 while reading manifest 'v9' of image repository"
    )


def test_downloads_a_chart_layer_that_untar_then_unpacks(
    registry: LocalRegistry, ctx: StepContext
) -> None:
    push_chart(registry, "charts/guestbook", "0.3.0")

    _download(
        ctx,
        imageRef=f"oci://{registry.host}/charts/guestbook:0.3.0",
        outPath="downloads/chart.tgz",
        mediaType=HELM_CHART_LAYER,
    )
    untar.STEP.run(
        ctx, untar.Config(in_path="downloads/chart.tgz", out_path="chart", strip_components=1)
    )

    assert (ctx.work_dir / "downloads/chart.tgz").read_bytes() == chart_archive(
        "guestbook", "0.3.0"
    )
    assert "name: guestbook" in (ctx.work_dir / "chart/Chart.yaml").read_text()


def test_download_picks_the_first_layer_and_linux_amd64_of_an_index(
    registry: LocalRegistry, ctx: StepContext
) -> None:
    push_index(registry, "team/tools", "v1", ["linux/arm64", "linux/amd64"])

    _download(ctx, imageRef=f"{registry.host}/team/tools:v1", outPath="layer.tgz")

    with tarfile.open(fileobj=io.BytesIO((ctx.work_dir / "layer.tgz").read_bytes())) as archive:
        assert archive.getnames() == []


def test_download_failures_are_reported(registry: LocalRegistry, ctx: StepContext) -> None:
    push_chart(registry, "charts/other", "1.0.0")
    ref = f"oci://{registry.host}/charts/other:1.0.0"
    (ctx.work_dir / "there.tgz").write_text("old")

    with pytest.raises(TerminalStepError, match="no layer found with media type 'text/plain'"):
        _download(ctx, imageRef=ref, outPath="o.tgz", mediaType="text/plain")
    with pytest.raises(TerminalStepError, match=r"file already exists at there\.tgz"):
        _download(ctx, imageRef=ref, outPath="there.tgz")
    with pytest.raises(RetryableStepError, match="answered HTTP 404"):
        _download(ctx, imageRef=f"oci://{registry.host}/charts/other:9.9.9", outPath="o.tgz")

    _download(ctx, imageRef=ref, outPath="there.tgz", allowOverwrite=True)
    assert (ctx.work_dir / "there.tgz").read_bytes() == chart_archive("other", "1.0.0")
    assert sorted(p.name for p in ctx.work_dir.iterdir()) == ["there.tgz"]


PASSWORD = "s3cret-registry-passw0rd"


def _credentials(kind: CredentialType, repo_url: str, password: str) -> StaticCredentialStore:
    rule = CredentialRule(kind, repo_url, Credentials("robot", SecretStr(password)))
    return StaticCredentialStore((rule,))


def test_helm_credentials_are_used_for_oci_urls_and_never_shown(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    push_chart(registry, "private/chart", "2.0.0")
    with TokenAuthRegistry(registry, "robot", PASSWORD) as private:
        repo_url = f"oci://{private.host}/private/chart"
        ctx = replace(make_ctx(tmp_path), credentials=_credentials("helm", repo_url, PASSWORD))
        _download(ctx, imageRef=f"{repo_url}:2.0.0", outPath="chart.tgz")
        assert (ctx.work_dir / "chart.tgz").read_bytes() == chart_archive("chart", "2.0.0")

        wrong = replace(ctx, credentials=_credentials("helm", repo_url, "wr0ng-passw0rd"))
        with pytest.raises(RetryableStepError) as caught:
            _download(wrong, imageRef=f"{repo_url}:2.0.0", outPath="other.tgz")
    assert "refused the configured credentials" in str(caught.value)
    assert "wr0ng-passw0rd" not in str(caught.value)


def test_image_credentials_are_used_to_read_the_source(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    digest = push_image(registry, "private/app", "v3")
    with TokenAuthRegistry(registry, "robot", PASSWORD) as private:
        source = private.repo_url("private/app")
        ctx = replace(make_ctx(tmp_path), credentials=_credentials("image", source, PASSWORD))
        outputs = _push(ctx, srcRef=f"{source}:v3", destRef=f"{registry.host}/public/app:v3")
    assert outputs["digest"] == digest
