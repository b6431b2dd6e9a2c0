"""Chart discovery picks the versions Kargo's chart selectors would, in Kargo's order."""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from kargo_dagster.clients.helm_repo import ChartNotFoundError, HelmRepoClient
from kargo_dagster.clients.oci.client import RegistryClient
from kargo_dagster.discovery.artifacts import DiscoveredChart
from kargo_dagster.discovery.chart import discover_charts
from kargo_dagster.errors import DiscoveryError, RepositoryError
from kargo_dagster.freight import Chart
from kargo_dagster.spec import ChartSubscription
from kargo_dagster.testing.helm_repo import HelmRepoServer
from kargo_dagster.testing.oci_push import push_chart
from kargo_dagster.testing.registry import LocalRegistry

APP_VERSIONS = [
    "1.0.0",
    "1.2",
    "1.2.0",
    "v1.3.0",
    "1.10.0",
    "1.10.0+build.7",
    "01.4.0",
    "2.0.0-rc.1",
    "2.0.0",
    "not-a-version",
    "latest",
    "0.9.0",
]


def subscription(repo_url: str, **fields: Any) -> ChartSubscription:
    return ChartSubscription.model_validate({"repoURL": repo_url, **fields})


def no_oci(url: str) -> list[str]:
    raise AssertionError(f"an HTTP subscription listed OCI tags of {url}")


@pytest.fixture
def repo() -> Iterator[HelmRepoServer]:
    with HelmRepoServer({"app": APP_VERSIONS, "other": ["9.9.9"]}) as server:
        yield server


@pytest.fixture
def helm() -> Iterator[HelmRepoClient]:
    with HelmRepoClient(timeout=5.0) as client:
        yield client


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        # No constraint: every semver (prereleases too), loosely parsed, highest first; equal
        # precedence is ordered by the text, highest first (1.2.0 before 1.2).
        (
            {},
            [
                "2.0.0",
                "2.0.0-rc.1",
                "1.10.0+build.7",
                "1.10.0",
                "01.4.0",
                "v1.3.0",
                "1.2.0",
                "1.2",
                "1.0.0",
                "0.9.0",
            ],
        ),
        ({"discoveryLimit": 3}, ["2.0.0", "2.0.0-rc.1", "1.10.0+build.7"]),
        (
            {"semverConstraint": "^1.0.0"},
            ["1.10.0+build.7", "1.10.0", "01.4.0", "v1.3.0", "1.2.0", "1.2", "1.0.0"],
        ),
        ({"semverConstraint": "^1.0.0", "discoveryLimit": 2}, ["1.10.0+build.7", "1.10.0"]),
        ({"semverConstraint": "~1.2"}, ["1.2.0", "1.2"]),
        # A range without a prerelease excludes prereleases; one with a prerelease admits them.
        ({"semverConstraint": ">=1.5"}, ["2.0.0", "1.10.0+build.7", "1.10.0"]),
        ({"semverConstraint": ">=2.0.0-0"}, ["2.0.0", "2.0.0-rc.1"]),
        ({"semverConstraint": "<1.0.0 || >=2"}, ["2.0.0", "0.9.0"]),
        ({"semverConstraint": "1.2 - 1.3"}, ["v1.3.0", "1.2.0", "1.2"]),
        ({"semverConstraint": ">=3"}, []),
    ],
)
def test_http_chart_versions(
    repo: HelmRepoServer, helm: HelmRepoClient, fields: dict[str, Any], expected: list[str]
):
    sub = subscription(repo.url, name="app", **fields)
    found = discover_charts(sub, helm=helm, oci_tags=no_oci)
    assert [c.version for c in found] == expected
    assert all(c.repo_url == repo.url and c.name == "app" for c in found)


def test_a_discovered_chart_becomes_a_freight_chart(repo: HelmRepoServer, helm: HelmRepoClient):
    sub = subscription(repo.url, name="app", discoveryLimit=1)
    (best,) = discover_charts(sub, helm=helm, oci_tags=no_oci)
    assert best == DiscoveredChart(repo_url=repo.url, name="app", version="2.0.0")
    assert best.to_freight("charts") == Chart(
        repo_url=repo.url, name="app", version="2.0.0", subscription_name="charts"
    )


def test_steady_state_polls_download_nothing(repo: HelmRepoServer, helm: HelmRepoClient):
    sub = subscription(repo.url, name="app", semverConstraint="^1")
    first = discover_charts(sub, helm=helm, oci_tags=no_oci)
    for _ in range(3):
        assert discover_charts(sub, helm=helm, oci_tags=no_oci) == first
    assert repo.index_downloads == 1
    assert repo.not_modified == 3
    repo.add_version("app", "1.11.0")
    assert discover_charts(sub, helm=helm, oci_tags=no_oci)[0].version == "1.11.0"
    assert repo.index_downloads == 2


def test_an_unknown_chart_is_an_error_naming_chart_and_repository(
    repo: HelmRepoServer, helm: HelmRepoClient
):
    with pytest.raises(ChartNotFoundError) as caught:
        discover_charts(subscription(repo.url, name="apps"), helm=helm, oci_tags=no_oci)
    assert "chart 'apps'" in str(caught.value)
    assert repr(repo.url) in str(caught.value)


def test_repository_errors_pass_through(repo: HelmRepoServer, helm: HelmRepoClient):
    repo.fail(503, headers={"Retry-After": "9"})
    with pytest.raises(RepositoryError) as caught:
        discover_charts(subscription(repo.url, name="app"), helm=helm, oci_tags=no_oci)
    assert caught.value.retry_after == 9.0


@pytest.mark.parametrize("constraint", ["^1.x.y", ">= one", "1.2 ||"])
def test_an_invalid_constraint_names_subscription_and_constraint(
    repo: HelmRepoServer, helm: HelmRepoClient, constraint: str
):
    sub = subscription(repo.url, name="app", semverConstraint=constraint)
    with pytest.raises(DiscoveryError) as caught:
        discover_charts(sub, helm=helm, oci_tags=no_oci)
    assert repr(repo.url) in str(caught.value)
    assert repr(constraint) in str(caught.value)
    assert repo.requests == []  # nothing was asked of the repository


def test_an_unknown_scheme_is_refused(helm: HelmRepoClient):
    # The manifest model already refuses such URLs; discovery does not rely on it.
    sub = ChartSubscription.model_construct(
        repo_url="ftp://user:pw@charts.example.com", name="app", discovery_limit=20
    )
    with pytest.raises(DiscoveryError, match="must start with http://, https:// or oci://") as e:
        discover_charts(sub, helm=helm, oci_tags=no_oci)
    assert "pw" not in str(e.value)


OCI_TAGS = [
    "1.0.0",
    "v1.1.0",  # strict parsing: no leading v for OCI charts
    "1.2",  # nor missing parts
    "01.3.0",  # nor leading zeros
    "1.2.0_build.5",  # Helm writes + as _ in tags
    "2.0.0-beta.1",
    "latest",
    "sha256-0123abcd.sig",
    "1.2.0",
]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, ["2.0.0-beta.1", "1.2.0+build.5", "1.2.0", "1.0.0"]),
        ({"semverConstraint": "~1.2"}, ["1.2.0+build.5", "1.2.0"]),
        ({"semverConstraint": "^1", "discoveryLimit": 1}, ["1.2.0+build.5"]),
    ],
)
def test_oci_chart_versions(helm: HelmRepoClient, fields: dict[str, Any], expected: list[str]):
    asked: list[str] = []

    def tags(url: str) -> list[str]:
        asked.append(url)
        return list(OCI_TAGS)

    sub = subscription("oci://registry.example.com/charts/app", **fields)
    found = discover_charts(sub, helm=helm, oci_tags=tags)
    assert asked == ["registry.example.com/charts/app"]
    assert [c.version for c in found] == expected
    # Kargo records the subscription's (empty) name and its repoURL, scheme included.
    assert {(c.repo_url, c.name) for c in found} == {("oci://registry.example.com/charts/app", "")}
    assert helm.requests_made == 0


def test_oci_charts_in_a_real_registry(image_registry: LocalRegistry, helm: HelmRepoClient):
    repository = f"charts/app-{uuid.uuid4().hex[:8]}"
    for version in ["0.1.0", "0.2.0+build.3", "0.3.0-rc.1", "1.0.0"]:
        push_chart(image_registry, repository, version)
    repo_url = "oci://" + image_registry.repo_url(repository)
    with RegistryClient() as registry:

        def tags(url: str) -> list[str]:
            return registry.repository(url, kind="helm").list_tags()

        sub = subscription(repo_url, semverConstraint="<1")
        found = discover_charts(sub, helm=helm, oci_tags=tags)
    assert [c.version for c in found] == ["0.2.0+build.3", "0.1.0"]
    assert all(c.repo_url == repo_url and c.name == "" for c in found)
