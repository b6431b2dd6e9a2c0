"""Requests per discovery tick: a steady repository costs O(new tags), not O(all tags).

Exact counts, per tick, for a repository whose images each need three requests the first
time (HEAD the tag, GET the manifest by digest, GET the config).
"""

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from kargo_dagster.clients.oci import ImageCache, RegistryClient
from kargo_dagster.credentials import CredentialRule, Credentials, StaticCredentialStore
from kargo_dagster.discovery.image import discover_images
from kargo_dagster.spec.warehouse import ImageSubscription
from kargo_dagster.testing.oci_push import push_image, push_tags
from kargo_dagster.testing.registry import LocalRegistry
from kargo_dagster.testing.token_auth import TokenAuthRegistry

TAGS = [f"v1.{minor}.0" for minor in range(30)]
BIG = 2000


@pytest.fixture(scope="module")
def steady(image_registry: LocalRegistry) -> Iterator[str]:
    """``requests/steady``: 30 semver tags, each its own image."""
    push_tags(image_registry, "requests/steady", TAGS, created="2024-01-01T00:00:00Z")
    yield image_registry.repo_url("requests/steady")


@pytest.fixture(scope="module")
def big(image_registry: LocalRegistry) -> Iterator[str]:
    """``requests/big``: 2,000 tags, pushed as one config and layer plus 2,000 manifests.

    How long that takes, against pushing one image, is measured by bench/discovery.py.
    """
    push_tags(image_registry, "requests/big", [f"v1.{minor}.0" for minor in range(BIG)])
    push_tags(image_registry, "requests/big", ["latest", "main-abc1234"])
    yield image_registry.repo_url("requests/big")


def _sub(repo_url: str, **fields: Any) -> ImageSubscription:
    return ImageSubscription.model_validate({"repoURL": repo_url, **fields})


def _ticks(client: RegistryClient, sub: ImageSubscription, ticks: int) -> list[int]:
    """Requests made by each of ``ticks`` discovery passes."""
    counts = []
    for _ in range(ticks):
        before = client.requests_made
        discover_images(sub, client)
        counts.append(client.requests_made - before)
    return counts


@pytest.mark.parametrize(
    ("fields", "per_tick"),
    [
        # SemVer and Lexical read only the best discoveryLimit tags.
        ({"discoveryLimit": 5}, [1 + 5 * 3, 1 + 5, 1 + 5]),
        ({"discoveryLimit": 5, "cacheByTag": True}, [1 + 5 * 3, 1, 1]),
        ({"imageSelectionStrategy": "Lexical", "discoveryLimit": 5}, [16, 6, 6]),
        (
            {"imageSelectionStrategy": "Lexical", "discoveryLimit": 5, "cacheByTag": True},
            [16, 1, 1],
        ),
        # NewestBuild reads every candidate; configs are never read twice.
        ({"imageSelectionStrategy": "NewestBuild", "discoveryLimit": 5}, [1 + 30 * 3, 31, 31]),
        (
            {"imageSelectionStrategy": "NewestBuild", "discoveryLimit": 5, "cacheByTag": True},
            [1 + 30 * 3, 1, 1],
        ),
        # Regexes narrow the candidates before anything is read.
        (
            {"imageSelectionStrategy": "NewestBuild", "allowTagsRegexes": ["^v1\\.2[0-9]\\."]},
            [1 + 10 * 3, 11, 11],
        ),
        # Digest: one HEAD per tick once the digest is known.
        ({"imageSelectionStrategy": "Digest", "constraint": "v1.29.0"}, [3, 1, 1]),
    ],
)
def test_requests_per_tick(steady: str, fields: dict[str, Any], per_tick: list[int]):
    with RegistryClient() as client:
        assert _ticks(client, _sub(steady, **fields), 3) == per_tick


def test_a_new_tag_costs_only_its_own_requests(image_registry: LocalRegistry):
    push_tags(image_registry, "requests/growing", TAGS[:10])
    repo_url = image_registry.repo_url("requests/growing")
    with RegistryClient() as client:
        plain = _sub(repo_url, discoveryLimit=5)
        cached = _sub(repo_url, discoveryLimit=5, cacheByTag=True)
        assert _ticks(client, plain, 1) == [16]
        assert _ticks(client, cached, 1) == [1 + 5]  # digests known, tags not yet cached
        push_image(image_registry, "requests/growing", "v1.10.0")
        # The new tag: HEAD, manifest, config; the other four: HEAD (or nothing if cached).
        assert _ticks(client, plain, 1) == [1 + 5 + 2]
        assert _ticks(client, cached, 1) == [1 + 1]
        found = discover_images(cached, client)
        assert found[0].tag == "v1.10.0"


def test_the_cache_survives_serialisation(steady: str):
    sub = _sub(steady, discoveryLimit=5, cacheByTag=True)
    with RegistryClient() as client:
        first = discover_images(sub, client)
        saved = client.cache.to_json()
    with RegistryClient(cache=ImageCache.from_json(saved)) as client:
        assert discover_images(sub, client) == first
        assert client.requests_made == 1


def test_tokens_are_requested_on_the_first_tick_only(image_registry: LocalRegistry, steady: str):
    password = "tick-pass"
    store = StaticCredentialStore(
        [CredentialRule("image", r"^127\.", Credentials("bot", SecretStr(password)), is_regex=True)]
    )
    with (
        TokenAuthRegistry(image_registry, "bot", password) as front,
        RegistryClient(store) as client,
    ):
        sub = _sub(front.repo_url("requests/steady"), discoveryLimit=5, cacheByTag=True)
        # First tick: 401 challenge + token request on top of the 16 reads.
        assert _ticks(client, sub, 3) == [2 + 16, 1, 1]
        assert front.counts["token"] == 1


def test_two_thousand_tags(big: str):
    sub = _sub(big, strictSemvers=True)  # discoveryLimit defaults to 20
    with RegistryClient() as client:
        # What the first tick costs in time, against one tag list, is bench/discovery.py's.
        found = discover_images(sub, client)
        assert [f.tag for f in found] == [f"v1.{minor}.0" for minor in range(BIG - 1, BIG - 21, -1)]
        # SemVer resolves only the top 20 tags after sorting, never all 2,000.
        assert client.request_counts == {"tags": 1, "manifest-head": 20, "manifest": 20, "blob": 20}
        assert _ticks(client, sub, 1) == [1 + 20]
        assert _ticks(client, _sub(big, cacheByTag=True), 2) == [1 + 20, 1]


def test_two_thousand_tags_lexical_and_filtered_newest_build(big: str):
    with RegistryClient() as client:
        lexical = discover_images(
            _sub(big, imageSelectionStrategy="Lexical", discoveryLimit=3), client
        )
        assert [f.tag for f in lexical] == ["v1.999.0", "v1.998.0", "v1.997.0"]
        assert client.requests_made == 1 + 3 * 3
        newest = discover_images(
            _sub(big, imageSelectionStrategy="NewestBuild", allowTagsRegexes=["^main-"]), client
        )
        assert [f.tag for f in newest] == ["main-abc1234"]
