"""The registry client against a real docker-registry, and against scripted failures."""

import json
import time
from datetime import UTC, datetime

import pytest

from kargo_dagster.clients.oci import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    RegistryClient,
    RegistryNotFoundError,
)
from kargo_dagster.errors import RepositoryError
from kargo_dagster.testing.oci_push import (
    HELM_CONFIG,
    digest_of,
    push_blob,
    push_chart,
    push_image,
    push_index,
    push_manifest,
)
from kargo_dagster.testing.registry import LocalRegistry, free_port
from kargo_dagster.testing.scripted_registry import ScriptedRegistry
from tests.hang_alarm import hang_alarm


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_lists_tags_and_resolves_them(registry: LocalRegistry):
    pushed = {tag: push_image(registry, "client/tags", tag) for tag in ("v1", "v2", "latest")}
    with RegistryClient() as client:
        repo = client.repository(registry.repo_url("client/tags"))
        assert sorted(repo.list_tags()) == ["latest", "v1", "v2"]
        assert repo.resolve("v2") == pushed["v2"]
        assert client.request_counts == {"tags": 1, "manifest-head": 1}


@pytest.mark.parametrize(
    ("annotations", "labels", "created", "expected"),
    [
        ({}, {}, "2024-03-01T10:00:00Z", "2024-03-01T10:00:00Z"),
        ({}, {}, "2024-03-01T10:00:00.123456789Z", "2024-03-01T10:00:00.123456Z"),
        ({}, {}, "2024-03-01T12:00:00+02:00", "2024-03-01T10:00:00Z"),
        # A label-schema date later than created wins; an earlier one does not.
        (
            {},
            {"org.label-schema.build-date": "2024-05-01T00:00:00Z"},
            "2024-03-01T00:00:00Z",
            "2024-05-01T00:00:00Z",
        ),
        (
            {},
            {"org.label-schema.build-date": "2020-01-01T00:00:00Z"},
            "2024-03-01T00:00:00Z",
            "2024-03-01T00:00:00Z",
        ),
        (
            {},
            {"org.opencontainers.image.created": "2024-06-01T00:00:00Z"},
            None,
            "2024-06-01T00:00:00Z",
        ),
        # A manifest annotation is taken as it is, even when earlier.
        (
            {"org.opencontainers.image.created": "2019-01-01T00:00:00Z"},
            {},
            "2024-03-01T00:00:00Z",
            "2019-01-01T00:00:00Z",
        ),
        (
            {"org.label-schema.build-date": "2018-01-01T00:00:00Z"},
            {},
            "2024-03-01T00:00:00Z",
            "2018-01-01T00:00:00Z",
        ),
        (
            {"org.opencontainers.image.created": "yesterday"},
            {},
            "2024-03-01T00:00:00Z",
            "2024-03-01T00:00:00Z",
        ),
        ({}, {}, None, None),
        ({}, {}, "not a date", None),
    ],
)
def test_build_dates(
    registry: LocalRegistry,
    annotations: dict[str, str],
    labels: dict[str, str],
    created: str | None,
    expected: str | None,
):
    digest = push_image(
        registry, "client/dates", "t", created=created, labels=labels, annotations=annotations
    )
    with RegistryClient() as client:
        image = client.repository(registry.repo_url("client/dates")).get_image("t")
    assert image.digest == digest
    assert image.created_at == (_when(expected) if expected else None)
    assert image.annotations == annotations
    assert image.platforms == ()


def test_image_index_lists_its_platforms(registry: LocalRegistry):
    pushed = push_index(
        registry,
        "client/multi",
        "v1",
        ["linux/amd64", "linux/arm64/v8"],
        created="2024-02-01T00:00:00Z",
        annotations={"team": "a"},
        attestation=True,
    )
    with RegistryClient() as client:
        image = client.repository(registry.repo_url("client/multi")).get_image("v1")
        # HEAD, the index, then each platform's manifest and config; no attestation.
        assert client.request_counts == {"manifest-head": 1, "manifest": 3, "blob": 2}
    assert image.digest == pushed.digest
    assert image.media_type == OCI_INDEX
    assert image.annotations == {"team": "a"}
    assert image.created_at == _when("2024-02-01T00:00:00Z")
    assert [(p.os, p.architecture, p.variant, p.digest) for p in image.platforms] == [
        ("linux", "amd64", "", pushed.platforms["linux/amd64"]),
        ("linux", "arm64", "v8", pushed.platforms["linux/arm64/v8"]),
    ]


def test_index_date_prefers_its_own_annotation(registry: LocalRegistry):
    push_index(
        registry,
        "client/multi-dated",
        "v1",
        ["linux/amd64"],
        created="2024-02-01T00:00:00Z",
        annotations={"org.opencontainers.image.created": "2023-01-01T00:00:00Z"},
    )
    with RegistryClient() as client:
        image = client.repository(registry.repo_url("client/multi-dated")).get_image("v1")
    assert image.created_at == _when("2023-01-01T00:00:00Z")


def test_docker_v2_manifests(registry: LocalRegistry):
    config = json.dumps({"created": "2022-02-02T00:00:00Z", "os": "linux"}).encode()
    config_digest = push_blob(registry, "client/docker", config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "digest": config_digest,
            "size": len(config),
        },
        "layers": [],
    }
    digest = push_manifest(registry, "client/docker", "v1", manifest)
    with RegistryClient() as client:
        image = client.repository(registry.repo_url("client/docker")).get_image("v1")
    assert (image.digest, image.media_type) == (digest, DOCKER_MANIFEST)
    assert image.created_at == _when("2022-02-02T00:00:00Z")


def test_helm_chart_manifest(registry: LocalRegistry):
    digest = push_chart(registry, "charts/demo", "1.2.3+build", created="2024-07-07T07:07:07Z")
    with RegistryClient() as client:
        repo = client.repository("oci://" + registry.repo_url("charts/demo"), kind="helm")
        assert repo.list_tags() == ["1.2.3_build"]
        manifest = repo.get_manifest("1.2.3_build")
    assert manifest.digest == digest
    assert manifest.document["config"]["mediaType"] == HELM_CONFIG
    assert manifest.document["annotations"]["org.opencontainers.image.version"] == "1.2.3+build"


def test_missing_repository_and_tag(registry: LocalRegistry):
    push_image(registry, "client/present", "v1")
    with RegistryClient() as client:
        with pytest.raises(RegistryNotFoundError) as caught:
            client.repository(registry.repo_url("client/absent")).list_tags()
        message = str(caught.value)
        assert "HTTP 404" in message and "NAME_UNKNOWN" in message
        assert repr(registry.repo_url("client/absent")) in message
        with pytest.raises(RegistryNotFoundError, match="resolving tag 'v9'"):
            client.repository(registry.repo_url("client/present")).get_image("v9")


# --- scripted answers: what real registries do only on bad days ---


def test_follows_link_pagination(scripted: ScriptedRegistry):
    scripted.script(
        "/v2/app/tags/list?n=2",
        body={"name": "app", "tags": ["a", "b"]},
        headers={"Link": '</v2/app/tags/list?n=2&last=b>; rel="next"'},
    )
    scripted.script(
        "/v2/app/tags/list?n=2&last=b",
        body={"name": "app", "tags": ["c", "d"]},
        headers={"Link": f'<{scripted.url}/v2/app/tags/list?n=2&last=d>; rel="next"'},
    )
    scripted.script("/v2/app/tags/list?n=2&last=d", body={"name": "app", "tags": ["e"]})
    with RegistryClient(page_size=2) as client:
        assert client.repository(scripted.repo_url("app")).list_tags() == list("abcde")
        assert client.requests_made == 3
    assert [path for _, path in scripted.requests] == [
        "/v2/app/tags/list?n=2",
        "/v2/app/tags/list?n=2&last=b",
        "/v2/app/tags/list?n=2&last=d",
    ]


@pytest.mark.parametrize(
    ("link", "message"),
    [
        ('<http://elsewhere.example/v2/app/tags/list?last=b>; rel="next"', "another server"),
        ('</v2/app/tags/list?n=1000>; rel="next"', "loops back"),
    ],
)
def test_rejects_bad_pagination(scripted: ScriptedRegistry, link: str, message: str):
    scripted.script("/v2/app/tags/list", body={"tags": ["a"]}, headers={"Link": link})
    with RegistryClient() as client, pytest.raises(RepositoryError, match=message):
        client.repository(scripted.repo_url("app")).list_tags()


@pytest.mark.parametrize(
    ("body", "tags_or_message"),
    [
        ({"name": "app", "tags": None}, []),
        ({"name": "app"}, []),
        ({"name": "app", "tags": "v1"}, "'tags' is not a list of strings (got str)"),
        ({"name": "app", "tags": ["v1", 2]}, "'tags' is not a list of strings (got list)"),
        (b"{not json", "malformed JSON for the tag list"),
        (["v1"], "the tag list as JSON list, not an object"),
    ],
)
def test_tag_list_shapes(scripted: ScriptedRegistry, body: object, tags_or_message: object):
    scripted.script("/v2/app/tags/list", body=body)
    with RegistryClient() as client:
        repo = client.repository(scripted.repo_url("app"))
        if isinstance(tags_or_message, list):
            assert repo.list_tags() == tags_or_message
        else:
            with pytest.raises(RepositoryError) as caught:
                repo.list_tags()
            assert str(tags_or_message) in str(caught.value)
            assert repr(scripted.repo_url("app")) in str(caught.value)


@pytest.mark.parametrize(
    ("status", "headers", "message", "retry_after"),
    [
        (429, {"Retry-After": "7"}, "rate limiting requests (HTTP 429)", 7.0),
        (429, {}, "rate limiting requests (HTTP 429)", None),
        (500, {}, "failed with HTTP 500", None),
        (503, {"Retry-After": "30"}, "failed with HTTP 503", 30.0),
        (403, {}, "denied access (HTTP 403)", None),
        (401, {}, "HTTP 401", None),
        (418, {}, "answered HTTP 418", None),
    ],
)
def test_http_failures(
    scripted: ScriptedRegistry,
    status: int,
    headers: dict[str, str],
    message: str,
    retry_after: float | None,
):
    body = {"errors": [{"code": "TOOMANYREQUESTS", "message": "slow down"}]}
    scripted.script("/v2/app/tags/list", status=status, headers=headers, body=body)
    with RegistryClient() as client, pytest.raises(RepositoryError) as caught:
        client.repository(scripted.repo_url("app")).list_tags()
    assert message in str(caught.value)
    assert "while listing the tags of image repository" in str(caught.value)
    assert "(TOOMANYREQUESTS: slow down)" in str(caught.value)
    assert caught.value.retry_after == retry_after


def test_retry_after_as_a_date(scripted: ScriptedRegistry):
    later = datetime.now(UTC).timestamp() + 120
    stamp = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(later))
    scripted.script("/v2/app/tags/list", status=429, headers={"Retry-After": stamp})
    with RegistryClient() as client, pytest.raises(RepositoryError) as caught:
        client.repository(scripted.repo_url("app")).list_tags()
    assert caught.value.retry_after is not None and 100 < caught.value.retry_after <= 120


def test_timeout(scripted: ScriptedRegistry):
    # The answer comes after a minute: a call still waiting after half of it ignored its timeout.
    scripted.script("/v2/app/tags/list", body={"tags": []}, delay=60.0)
    with (
        hang_alarm(30, "the tag list"),
        RegistryClient(timeout=0.3) as client,
        pytest.raises(RepositoryError) as caught,
    ):
        client.repository(scripted.repo_url("app")).list_tags()
    assert "did not answer within 0.3 s while listing the tags" in str(caught.value)
    assert client.requests_made == 1


def test_connection_dropped(scripted: ScriptedRegistry):
    scripted.script("/v2/app/tags/list", drop=True)
    with RegistryClient() as client, pytest.raises(RepositoryError) as caught:
        client.repository(scripted.repo_url("app")).list_tags()
    assert f"registry {scripted.host} failed while listing the tags" in str(caught.value)
    assert "disconnected" in str(caught.value)


def test_connection_refused():
    repo_url = f"127.0.0.1:{free_port()}/app"
    with RegistryClient() as client, pytest.raises(RepositoryError) as caught:
        client.repository(repo_url).list_tags()
    assert f"could not connect to registry {repo_url.split('/')[0]}" in str(caught.value)
    assert "refused" in str(caught.value).lower()


def _serve_manifest(scripted: ScriptedRegistry, reference: str, document: dict, digest: str):
    scripted.script(
        f"/v2/app/manifests/{reference}",
        body=document,
        headers={
            "Content-Type": str(document.get("mediaType", "")),
            "Docker-Content-Digest": digest,
        },
    )


def test_rejects_content_that_does_not_match_its_digest(scripted: ScriptedRegistry):
    document = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"digest": "x"}}
    wrong = digest_of(b"something else")
    _serve_manifest(scripted, "v1", document, wrong)
    _serve_manifest(scripted, wrong, document, wrong)
    with RegistryClient() as client, pytest.raises(RepositoryError, match="does not match"):
        client.repository(scripted.repo_url("app")).get_image("v1")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {
                "schemaVersion": 1,
                "mediaType": "application/vnd.docker.distribution.manifest.v1+json",
            },
            "unsupported media type",
        ),
        ({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}, "no platform images"),
        ({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "layers": []}, "without a config"),
    ],
)
def test_rejects_unusable_manifests(scripted: ScriptedRegistry, document: dict, message: str):
    digest = digest_of(json.dumps(document).encode())
    _serve_manifest(scripted, "v1", document, digest)
    _serve_manifest(scripted, digest, document, digest)
    with RegistryClient() as client, pytest.raises(RepositoryError, match=message):
        client.repository(scripted.repo_url("app")).get_image("v1")


def test_follows_blob_redirects_and_counts_them(scripted: ScriptedRegistry):
    config = json.dumps({"created": "2021-01-01T00:00:00Z"}).encode()
    config_digest = digest_of(config)
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "x", "digest": config_digest, "size": len(config)},
    }
    digest = digest_of(json.dumps(document).encode())
    _serve_manifest(scripted, "v1", document, digest)
    _serve_manifest(scripted, digest, document, digest)
    scripted.script(
        f"/v2/app/blobs/{config_digest}",
        status=307,
        headers={"Location": f"{scripted.url}/storage/config"},
    )
    scripted.script("/storage/config", body=config)
    with RegistryClient() as client:
        image = client.repository(scripted.repo_url("app")).get_image("v1")
        assert client.request_counts == {"manifest-head": 1, "manifest": 1, "blob": 2}
    assert image.created_at == _when("2021-01-01T00:00:00Z")


def test_falls_back_to_get_when_head_has_no_digest(scripted: ScriptedRegistry):
    config = b"{}"
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "x", "digest": digest_of(config), "size": 2},
    }
    raw = json.dumps(document).encode()
    scripted.script("/v2/app/manifests/v1", body=raw, headers={"Content-Type": OCI_MANIFEST})
    _serve_manifest(scripted, digest_of(raw), document, digest_of(raw))
    scripted.script(f"/v2/app/blobs/{digest_of(config)}", body=config)
    with RegistryClient() as client:
        assert client.repository(scripted.repo_url("app")).resolve("v1") == digest_of(raw)
        assert client.request_counts == {"manifest-head": 1, "manifest": 1}
