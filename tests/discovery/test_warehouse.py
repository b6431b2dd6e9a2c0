"""One discovery pass over a Warehouse and the Freight it creates (Kargo's rules)."""

from pathlib import Path

import pytest

from kargo_dagster.discovery.artifacts import DiscoveredChart, DiscoveredCommit, DiscoveredImage
from kargo_dagster.discovery.warehouse import Subscribers, discover_warehouse
from kargo_dagster.errors import RepositoryError
from kargo_dagster.spec import load_manifests

MANIFESTS = """\
apiVersion: kargo.akuity.io/v1alpha1
kind: Project
metadata:
  name: demo
---
apiVersion: kargo.akuity.io/v1alpha1
kind: Warehouse
metadata:
  name: app
  namespace: demo
spec:
  freightCreationPolicy: {policy}
  subscriptions:
  - image:
      repoURL: registry.example.com/app
  - git:
      repoURL: https://git.example.com/app.git
  - chart:
      repoURL: https://charts.example.com
      name: app
"""

IMAGES = [
    DiscoveredImage("registry.example.com/app", "v2.0.0", "sha256:" + "2" * 64),
    DiscoveredImage("registry.example.com/app", "v1.0.0", "sha256:" + "1" * 64),
]
COMMITS = [DiscoveredCommit("https://git.example.com/app.git", "c" * 40, branch="main")]
CHARTS = [DiscoveredChart("https://charts.example.com", "app", "1.2.3")]


def warehouse(tmp_path: Path, policy: str = "Automatic"):
    (tmp_path / "w.yaml").write_text(MANIFESTS.format(policy=policy))
    return load_manifests(tmp_path).projects["demo"].warehouses["app"]


def subscribers(images=IMAGES, commits=COMMITS, charts=CHARTS) -> Subscribers:
    def fail_or(value):
        def discover(_subscription):
            if isinstance(value, Exception):
                raise value
            return value

        return discover

    return Subscribers(images=fail_or(images), commits=fail_or(commits), charts=fail_or(charts))


def test_automatic_takes_the_top_of_every_subscription(tmp_path):
    result = discover_warehouse(warehouse(tmp_path), subscribers())
    assert result.freight is not None
    assert [i.tag for i in result.freight.images] == ["v2.0.0"]
    assert [c.id for c in result.freight.commits] == ["c" * 40]
    assert [c.version for c in result.freight.charts] == ["1.2.3"]
    assert result.note == f"Freight {result.freight.partition_key}"
    assert not result.failed
    # The same artifacts always make the same Freight.
    again = discover_warehouse(warehouse(tmp_path), subscribers())
    assert again.freight is not None and again.freight.id == result.freight.id


def test_no_freight_when_a_subscription_finds_nothing(tmp_path):
    result = discover_warehouse(warehouse(tmp_path), subscribers(charts=[]))
    assert result.freight is None
    assert result.note == (
        "no Freight: subscriptions[2] (chart https://charts.example.com) found nothing"
    )


def test_manual_creates_nothing(tmp_path):
    result = discover_warehouse(warehouse(tmp_path, "Manual"), subscribers())
    assert result.freight is None
    assert result.note.startswith("freightCreationPolicy is Manual: Freight ")


def test_a_failing_subscription_is_named_and_the_others_still_run(tmp_path):
    broken = RepositoryError("registry.example.com answered 429 Too Many Requests", retry_after=42)
    result = discover_warehouse(warehouse(tmp_path), subscribers(images=broken))
    assert result.freight is None
    assert result.failed
    assert result.errors == (
        "subscriptions[0] (image registry.example.com/app): "
        "registry.example.com answered 429 Too Many Requests",
    )
    assert result.retry_after == 42
    assert [len(o.found) for o in result.outcomes] == [0, 1, 1]


def test_json_summary(tmp_path):
    summary = discover_warehouse(warehouse(tmp_path), subscribers()).to_json()
    assert summary["subscriptions"][0]["found"][0] == {
        "repoURL": "registry.example.com/app",
        "tag": "v2.0.0",
        "digest": "sha256:" + "2" * 64,
    }
    assert summary["freight"]["key"].endswith(summary["freight"]["id"][:7])


@pytest.mark.parametrize("policy", ["Automatic"])
def test_creation_criteria_cannot_be_evaluated_yet(tmp_path, policy):
    text = MANIFESTS.format(policy=policy).replace(
        "  subscriptions:", "  freightCreationCriteria:\n    expression: 'true'\n  subscriptions:"
    )
    (tmp_path / "w.yaml").write_text(text)
    result = discover_warehouse(
        load_manifests(tmp_path).projects["demo"].warehouses["app"], subscribers()
    )
    assert result.freight is None
    assert "freightCreationCriteria" in result.errors[0]
