"""Which Warehouses a push refreshes: those subscribed to the repository whose rules would
select what was pushed, found by lookup however many Warehouses there are."""

from pathlib import Path

import pytest

from kargo_dagster.spec import ProjectManifests, load_manifests
from kargo_dagster.webhooks.inbound import RefreshRequest
from kargo_dagster.webhooks.targets import SubscriptionIndex
from tests.spec.manifests import PROJECT

WAREHOUSE = """\
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: {name}
  namespace: demo
spec:
  subscriptions:
  - {subscription}
"""
SUBSCRIPTIONS = {
    "semver": "image: {repoURL: ghcr.io/acme/app, constraint: ^1.0.0}",
    "lexical": (
        "image: {repoURL: ghcr.io/acme/app, imageSelectionStrategy: Lexical, "
        "allowTagsRegexes: ['^nightly-']}"
    ),
    "digest": (
        "image: {repoURL: ghcr.io/acme/app, imageSelectionStrategy: Digest, constraint: latest}"
    ),
    "main": "git: {repoURL: 'https://github.com/acme/app.git'}",
    "release": "git: {repoURL: 'https://github.com/acme/app', branch: release}",
    "charts-only": "git: {repoURL: 'https://github.com/acme/app', includePaths: ['charts/']}",
    "git-tags": (
        "git: {repoURL: 'https://github.com/acme/app', commitSelectionStrategy: SemVer, "
        "semverConstraint: '>=2.0.0'}"
    ),
    "chart": "chart: {repoURL: 'oci://ghcr.io/acme/app', semverConstraint: ^3.0.0}",
    "other": "image: {repoURL: ghcr.io/acme/other}",
}


def project(here: Path, warehouses: dict[str, str]) -> ProjectManifests:
    text = PROJECT + "".join(
        WAREHOUSE.format(name=name, subscription=sub) for name, sub in warehouses.items()
    )
    (here / "demo.yaml").write_text(text)
    return load_manifests(here / "demo.yaml").projects["demo"]


@pytest.fixture
def index(tmp_path) -> SubscriptionIndex:
    return SubscriptionIndex([project(tmp_path, SUBSCRIPTIONS)])


IMAGE = ("ghcr.io/acme/app",)
GIT = ("https://github.com/acme/app",)


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (RefreshRequest("push", IMAGE, ("v1.4.0",)), ["semver"]),
        (RefreshRequest("push", IMAGE, ("v2.0.0",)), []),
        (RefreshRequest("push", IMAGE, ("nightly-42",)), ["lexical"]),
        (RefreshRequest("push", IMAGE, ("latest",)), ["digest"]),
        (RefreshRequest("push", IMAGE), ["chart", "digest", "lexical", "semver"]),
        (RefreshRequest("push", ("ghcr.io/acme/app",), ("3.1.0",)), ["chart"]),
        (RefreshRequest("push", GIT, ("refs/heads/main",)), ["charts-only", "main"]),
        (RefreshRequest("push", GIT, ("refs/heads/release",)), ["release"]),
        (RefreshRequest("push", GIT, ("refs/heads/main",), ("src/app.py",)), ["main"]),
        (
            RefreshRequest("push", GIT, ("refs/heads/main",), ("charts/values.yaml",)),
            ["charts-only", "main"],
        ),
        (RefreshRequest("push", GIT, ("refs/tags/v2.1.0",)), ["git-tags"]),
        (RefreshRequest("push", GIT, ("refs/tags/v1.9.0",)), []),
        (RefreshRequest("push", ("https://github.com/acme/elsewhere",), ()), []),
    ],
)
def test_only_subscriptions_that_would_select_the_push_are_refreshed(index, request_, expected):
    assert index.warehouses_for("demo", request_) == expected


def test_another_projects_warehouses_are_never_chosen(index):
    assert index.warehouses_for("other-project", RefreshRequest("push", IMAGE)) == []


def test_hundreds_of_warehouses_are_matched_by_lookup(tmp_path):
    many = {f"w{i:03}": f"image: {{repoURL: registry.example.com/team/app{i}}}" for i in range(400)}
    index = SubscriptionIndex([project(tmp_path, many)])
    pushed = RefreshRequest("push", ("registry.example.com/team/app123",), ("v1.0.0",))
    assert index.warehouses_for("demo", pushed) == ["w123"]
    assert index.subscribed_urls("demo", "w007") == frozenset({"registry.example.com/team/app7"})


def test_a_cluster_receiver_refreshes_every_projects_subscribed_warehouses(tmp_path):
    subscribed = {"app": "image: {repoURL: ghcr.io/acme/app}", "else": "image: {repoURL: x/y}"}
    demo = project(tmp_path, subscribed)
    (tmp_path / "other").mkdir()
    other_text = (tmp_path / "demo.yaml").read_text().replace("demo", "other")
    (tmp_path / "other" / "other.yaml").write_text(other_text)
    other = load_manifests(tmp_path / "other" / "other.yaml").projects["other"]
    index = SubscriptionIndex([demo, other])
    pushed = RefreshRequest("push", IMAGE, ("v1.0.0",))
    assert index.targets_for(None, pushed) == [("demo", "app"), ("other", "app")]
    assert index.targets_for("other", pushed) == [("other", "app")]
    assert index.warehouses_for("demo", pushed) == ["app"]
