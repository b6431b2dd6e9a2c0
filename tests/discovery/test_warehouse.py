"""One discovery pass over a Warehouse and the Freight it creates (Kargo's rules)."""

from pathlib import Path

import pytest

from kargo_dagster.discovery.artifacts import DiscoveredChart, DiscoveredCommit, DiscoveredImage
from kargo_dagster.discovery.warehouse import Subscribers, discover_warehouse
from kargo_dagster.errors import RepositoryError
from kargo_dagster.spec import load_manifests
from tests import manifests as kargo

SUBSCRIPTIONS = [
    {"git": {"repoURL": "https://git.example.com/app.git"}},
    {"chart": {"repoURL": "https://charts.example.com", "name": "app"}},
]


def manifests(policy: str, **spec: object) -> str:
    """Project ``demo`` and its Warehouse ``app`` subscribed to an image, a git repository
    and a chart, creating Freight by ``policy``, with other ``spec`` fields as given."""
    app = kargo.warehouse(
        "app",
        "demo",
        image="registry.example.com/app",
        subscriptions=SUBSCRIPTIONS,
        freightCreationPolicy=policy,
        **spec,
    )
    return kargo.manifests_yaml(kargo.project("demo"), app)


IMAGES = [
    DiscoveredImage("registry.example.com/app", "v2.0.0", "sha256:" + "2" * 64),
    DiscoveredImage("registry.example.com/app", "v1.0.0", "sha256:" + "1" * 64),
]
COMMITS = [DiscoveredCommit("https://git.example.com/app.git", "c" * 40, branch="main")]
CHARTS = [DiscoveredChart("https://charts.example.com", "app", "1.2.3")]


def warehouse(tmp_path: Path, policy: str = "Automatic"):
    (tmp_path / "w.yaml").write_text(manifests(policy))
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


def with_criteria(tmp_path: Path, expression: str, policy: str = "Automatic"):
    criteria = {"expression": expression}
    (tmp_path / "w.yaml").write_text(manifests(policy, freightCreationCriteria=criteria))
    return load_manifests(tmp_path).projects["demo"].warehouses["app"]


@pytest.mark.parametrize(
    "expression",
    [
        "imageFrom('registry.example.com/app').Tag == 'v2.0.0'",
        "commitFrom('https://git.example.com/app.git/').Branch == 'main'",
        "chartFrom('HTTPS://charts.example.com', 'app').Version == '1.2.3'",
        # Whatever Go's strconv.ParseBool reads as true counts, as in Kargo.
        "'T'",
        "1",
    ],
)
def test_creation_criteria_that_hold_create_freight(tmp_path, expression):
    result = discover_warehouse(with_criteria(tmp_path, expression), subscribers())
    assert result.freight is not None
    assert [i.tag for i in result.freight.images] == ["v2.0.0"]


def test_creation_criteria_that_do_not_hold_create_nothing(tmp_path):
    # The artifacts Kargo users typically tie together: the image tag must match the chart's.
    expression = "imageFrom('registry.example.com/app').Tag == 'v' + chartFrom('https://charts.example.com').Version"
    result = discover_warehouse(with_criteria(tmp_path, expression), subscribers())
    assert result.freight is None
    assert not result.failed
    assert result.note == f"no Freight: freightCreationCriteria not satisfied ({expression})"
    # A repository no subscription watches is nil.
    missing = "imageFrom('registry.example.com/other') == nil"
    assert discover_warehouse(with_criteria(tmp_path, missing), subscribers()).freight is not None


@pytest.mark.parametrize(
    ("expression", "error"),
    [
        ("imageFrom(", "spec.freightCreationCriteria.expression: "),
        (
            "'maybe'",
            "spec.freightCreationCriteria.expression: it gave 'maybe', which is not a bool",
        ),
        ("artifactFrom('x') != nil", "artifactFrom: generic subscriptions are not discovered"),
    ],
)
def test_creation_criteria_that_fail_are_an_error(tmp_path, expression, error):
    result = discover_warehouse(with_criteria(tmp_path, expression), subscribers())
    assert result.freight is None
    assert result.failed
    assert result.note == "no Freight: freightCreationCriteria could not be evaluated"
    assert error in result.errors[0]


def test_manual_warehouses_ignore_creation_criteria(tmp_path):
    result = discover_warehouse(with_criteria(tmp_path, "false", "Manual"), subscribers())
    assert result.note.startswith("freightCreationPolicy is Manual: Freight ")
