"""Image discovery strategies and filters against a real registry, with known expected orders."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from kargo_dagster.clients.oci import RegistryClient
from kargo_dagster.discovery.image import Platform, discover_images, parse_platform
from kargo_dagster.errors import DiscoveryError
from kargo_dagster.spec.warehouse import ImageSubscription
from kargo_dagster.testing.oci_push import push_image, push_index
from kargo_dagster.testing.registry import LocalRegistry

# Tag -> build date (None: the config has no date).
APP_TAGS: dict[str, str | None] = {
    "v0.9.0": "2023-01-01T00:00:00Z",
    "v1.0.0": "2023-02-01T00:00:00Z",
    "v1.2.0": "2023-03-01T00:00:00Z",
    "1.2.0": "2023-03-01T00:00:00Z",  # the same image as v1.2.0
    "1.2": "2023-04-01T00:00:00Z",
    "v1.10.0": "2023-05-01T00:00:00Z",
    "v2.0.0-rc.1": "2023-06-01T00:00:00Z",
    "latest": "2023-07-01T00:00:00Z",
    "1234567": "2022-12-01T00:00:00Z",  # a short commit hash of digits
    "abc1234": None,
}


@pytest.fixture(scope="module")
def app(image_registry: LocalRegistry) -> Iterator[str]:
    """``disc/app`` with APP_TAGS; yields its repoURL."""
    for tag, created in APP_TAGS.items():
        push_image(image_registry, "disc/app", tag, created=created)
    yield image_registry.repo_url("disc/app")


@pytest.fixture(scope="module")
def multi(image_registry: LocalRegistry) -> Iterator[tuple[str, dict[str, str]]]:
    """``disc/multi``: indexes with different platforms and one single-platform image."""
    registry = image_registry
    digests = {
        "v1.0.0": push_index(
            registry,
            "disc/multi",
            "v1.0.0",
            ["linux/amd64", "linux/arm64"],
            created="2024-01-01T00:00:00Z",
            annotations={"org.opencontainers.image.source": "https://example.com/src"},
            platform_annotations={"linux/arm64": {"note": "arm build"}},
        ).digest,
        "v1.1.0": push_index(
            registry, "disc/multi", "v1.1.0", ["linux/amd64"], created="2024-02-01T00:00:00Z"
        ).digest,
        "v1.2.0": push_image(
            registry, "disc/multi", "v1.2.0", platform="linux/arm64", created="2024-03-01T00:00:00Z"
        ),
        "v1.3.0": push_index(
            registry,
            "disc/multi",
            "v1.3.0",
            ["linux/arm64/v8", "linux/amd64"],
            created="2024-04-01T00:00:00Z",
            attestation=True,
        ).digest,
    }
    yield registry.repo_url("disc/multi"), digests


def _sub(repo_url: str, **fields: Any) -> ImageSubscription:
    return ImageSubscription.model_validate({"repoURL": repo_url, **fields})


def _tags(repo_url: str, **fields: Any) -> list[str]:
    with RegistryClient() as client:
        return [image.tag for image in discover_images(_sub(repo_url, **fields), client)]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, ["v2.0.0-rc.1", "v1.10.0", "v1.2.0", "1.2.0", "v1.0.0", "v0.9.0"]),
        (
            {"strictSemvers": False},
            ["1234567", "v2.0.0-rc.1", "v1.10.0", "v1.2.0", "1.2.0", "1.2", "v1.0.0", "v0.9.0"],
        ),
        ({"constraint": "^1.0.0"}, ["v1.10.0", "v1.2.0", "1.2.0", "v1.0.0"]),
        ({"constraint": ">=1.2.0 <2.0.0"}, ["v1.10.0", "v1.2.0", "1.2.0"]),
        ({"constraint": "~1.2", "strictSemvers": False}, ["v1.2.0", "1.2.0", "1.2"]),
        ({"constraint": ">=2.0.0-0"}, ["v2.0.0-rc.1"]),
        ({"constraint": ">=2.0.0"}, []),
        ({"constraint": "<1.0.0 || >=1.10.0 <2.0.0"}, ["v1.10.0", "v0.9.0"]),
        ({"allowTagsRegexes": ["^v"]}, ["v2.0.0-rc.1", "v1.10.0", "v1.2.0", "v1.0.0", "v0.9.0"]),
        ({"allowTagsRegexes": ["^v1\\.", "^v0"]}, ["v1.10.0", "v1.2.0", "v1.0.0", "v0.9.0"]),
        ({"ignoreTagsRegexes": ["-rc", "^v"]}, ["1.2.0"]),
        (
            {"allowTagsRegexes": ["1\\.2"], "ignoreTagsRegexes": ["^v"], "strictSemvers": False},
            ["1.2.0", "1.2"],
        ),
        ({"discoveryLimit": 2}, ["v2.0.0-rc.1", "v1.10.0"]),
        ({"discoveryLimit": 3, "ignoreTagsRegexes": ["-rc"]}, ["v1.10.0", "v1.2.0", "1.2.0"]),
    ],
)
def test_semver(app: str, fields: dict[str, Any], expected: list[str]):
    assert _tags(app, **fields) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {},
            [
                "v2.0.0-rc.1",
                "v1.2.0",
                "v1.10.0",
                "v1.0.0",
                "v0.9.0",
                "latest",
                "abc1234",
                "1234567",
                "1.2.0",
                "1.2",
            ],
        ),
        ({"ignoreTagsRegexes": ["^v", "latest"]}, ["abc1234", "1234567", "1.2.0", "1.2"]),
        ({"allowTagsRegexes": ["^[0-9]"], "discoveryLimit": 2}, ["1234567", "1.2.0"]),
        ({"constraint": "^1.0.0", "allowTagsRegexes": ["^l"]}, ["latest"]),  # no semver here
    ],
)
def test_lexical(app: str, fields: dict[str, Any], expected: list[str]):
    assert _tags(app, imageSelectionStrategy="Lexical", **fields) == expected


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {},
            [
                "latest",
                "v2.0.0-rc.1",
                "v1.10.0",
                "1.2",
                "v1.2.0",  # same date as 1.2.0: the higher tag first
                "1.2.0",
                "v1.0.0",
                "v0.9.0",
                "1234567",
                "abc1234",  # no build date: last
            ],
        ),
        ({"discoveryLimit": 3, "ignoreTagsRegexes": ["latest"]}, ["v2.0.0-rc.1", "v1.10.0", "1.2"]),
        ({"allowTagsRegexes": ["^abc", "^v0"]}, ["v0.9.0", "abc1234"]),
    ],
)
def test_newest_build(app: str, fields: dict[str, Any], expected: list[str]):
    assert _tags(app, imageSelectionStrategy="NewestBuild", **fields) == expected


def test_discovered_images_carry_digest_and_build_date(image_registry: LocalRegistry, app: str):
    with RegistryClient() as client:
        found = discover_images(_sub(app, discoveryLimit=1), client)
        assert client.request_counts == {"tags": 1, "manifest-head": 1, "manifest": 1, "blob": 1}
        repo = client.repository(app)
        assert [(f.repo_url, f.tag, f.digest) for f in found] == [
            (app, "v2.0.0-rc.1", repo.resolve("v2.0.0-rc.1"))
        ]
    assert found[0].created_at == datetime(2023, 6, 1, tzinfo=UTC)
    assert found[0].to_freight().digest == found[0].digest


def test_digest_follows_a_repushed_tag(image_registry: LocalRegistry):
    repo_url = image_registry.repo_url("disc/mutable")
    first = push_image(image_registry, "disc/mutable", "stable", created="2024-01-01T00:00:00Z")
    push_image(image_registry, "disc/mutable", "v1.0.0", created="2024-01-02T00:00:00Z")
    for cache_by_tag in (False, True):  # Kargo never caches a Digest subscription by tag
        sub = _sub(
            repo_url, imageSelectionStrategy="Digest", constraint="stable", cacheByTag=cache_by_tag
        )
        with RegistryClient() as client:
            found = discover_images(sub, client)
            assert [(f.tag, f.digest) for f in found] == [("stable", first)]
            assert client.request_counts == {"manifest-head": 1, "manifest": 1, "blob": 1}
            second = push_image(
                image_registry,
                "disc/mutable",
                "stable",
                created=f"2024-02-0{1 + cache_by_tag}T00:00:00Z",
            )
            assert second != first
            found = discover_images(sub, client)
            assert [(f.tag, f.digest) for f in found] == [("stable", second)]
            first = second


def test_digest_of_a_missing_tag_finds_nothing(app: str):
    assert _tags(app, imageSelectionStrategy="Digest", constraint="no-such-tag") == []


def test_digest_ignores_tag_regexes(app: str):
    fields = {"constraint": "latest", "ignoreTagsRegexes": ["latest"]}
    assert _tags(app, imageSelectionStrategy="Digest", **fields) == ["latest"]


@pytest.mark.parametrize(
    ("strategy", "platform", "expected"),
    [
        # Without a platform every tag counts, indexes and single images alike.
        ("SemVer", None, ["v1.3.0", "v1.2.0", "v1.1.0", "v1.0.0"]),
        # A single-platform image lists no platforms, so a platform constraint skips it;
        # v1.3.0 offers linux/arm64/v8, which is not linux/arm64.
        ("SemVer", "linux/arm64", ["v1.0.0"]),
        ("SemVer", "linux/amd64", ["v1.3.0", "v1.1.0", "v1.0.0"]),
        ("SemVer", "windows/amd64", []),
        ("Lexical", "linux/amd64", ["v1.3.0", "v1.1.0", "v1.0.0"]),
        ("NewestBuild", "linux/amd64", ["v1.3.0", "v1.1.0", "v1.0.0"]),
        ("NewestBuild", "linux/arm64", ["v1.0.0"]),
    ],
)
def test_platform_selection(
    multi: tuple[str, dict[str, str]], strategy: str, platform: str | None, expected: list[str]
):
    repo_url, digests = multi
    fields: dict[str, Any] = {"imageSelectionStrategy": strategy}
    if platform:
        fields["platform"] = platform
    with RegistryClient() as client:
        found = discover_images(_sub(repo_url, **fields), client)
    assert [f.tag for f in found] == expected
    # The digest recorded is the index's, as a deployment would pull it.
    assert [f.digest for f in found] == [digests[t] for t in expected]


def test_platform_annotations_merge_over_the_index(multi: tuple[str, dict[str, str]]):
    repo_url, _ = multi
    with RegistryClient() as client:
        arm = discover_images(_sub(repo_url, platform="linux/arm64"), client)
        amd = discover_images(_sub(repo_url, platform="linux/amd64", constraint="1.0.0"), client)
    source = {"org.opencontainers.image.source": "https://example.com/src"}
    assert arm[0].annotations == {**source, "note": "arm build"}
    assert amd[0].annotations == source
    assert arm[0].created_at == datetime(2024, 1, 1, tzinfo=UTC)


def test_digest_strategy_with_a_missing_platform(multi: tuple[str, dict[str, str]]):
    repo_url, digests = multi
    fields = {"imageSelectionStrategy": "Digest", "constraint": "v1.1.0"}
    assert _tags(repo_url, platform="linux/arm64", **fields) == []
    with RegistryClient() as client:
        found = discover_images(_sub(repo_url, platform="linux/amd64", **fields), client)
    assert [(f.tag, f.digest) for f in found] == [("v1.1.0", digests["v1.1.0"])]


def test_platform_limit_reads_only_what_it_needs(multi: tuple[str, dict[str, str]]):
    repo_url, _ = multi
    with RegistryClient() as client:
        found = discover_images(_sub(repo_url, platform="linux/amd64", discoveryLimit=1), client)
        assert [f.tag for f in found] == ["v1.3.0"]
        # Tag list, HEAD, the index, two platform manifests and their configs.
        assert client.requests_made == 1 + 1 + 1 + 2 * 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, None),
        ("", None),
        ("linux/amd64", Platform("linux", "amd64")),
        ("linux/arm64/v8", Platform("linux", "arm64", "v8")),
    ],
)
def test_parse_platform(text: str | None, expected: Platform | None):
    assert parse_platform(text) == expected


@pytest.mark.parametrize("text", ["linux", "linux/", "/amd64"])
def test_parse_platform_rejects(text: str):
    with pytest.raises(DiscoveryError, match="<os>/<arch>"):
        parse_platform(text)


def test_bad_constraint_names_the_repository(app: str):
    with RegistryClient() as client, pytest.raises(DiscoveryError) as caught:
        discover_images(_sub(app, constraint="not a range!"), client)
    assert repr(app) in str(caught.value)
    assert client.requests_made == 0  # refused before asking the registry anything
