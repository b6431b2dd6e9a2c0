"""Freight assembled from a discovery pass's versions: the rules for choices and refusals."""

import pytest

from kargo_dagster.discovery.artifacts import DiscoveredChart, DiscoveredCommit, DiscoveredImage
from kargo_dagster.discovery.assembly import VersionChoice, assemble_freight, subscription_key
from kargo_dagster.discovery.warehouse import SubscriptionOutcome, WarehouseDiscovery
from kargo_dagster.errors import FreightError
from kargo_dagster.spec import Warehouse

IMAGE = "registry.example.com/shop/app"
CHARTS = "https://charts.example.com"
GIT = "https://git.example.com/shop/config.git"
WAREHOUSE = Warehouse.model_validate(
    {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Warehouse",
        "metadata": {"name": "app", "namespace": "shop"},
        "spec": {
            "freightCreationPolicy": "Manual",
            "subscriptions": [
                {"image": {"repoURL": IMAGE}},
                {"chart": {"repoURL": CHARTS, "name": "app"}},
                {"git": {"repoURL": GIT}, "name": "config"},
            ],
        },
    }
)
IMAGES = tuple(DiscoveredImage(IMAGE, f"v1.{n}.0", f"sha256:{n:064x}") for n in (2, 1, 0))
CHART_VERSIONS = tuple(DiscoveredChart(CHARTS, "app", v) for v in ("2.0.0", "1.0.0"))
COMMITS = tuple(DiscoveredCommit(GIT, f"{n:x}" * 40, branch="main") for n in (0xA, 0xB))


def discovery(*found: tuple, error: str | None = None) -> WarehouseDiscovery:
    outcomes = tuple(
        SubscriptionOutcome(
            index=i,
            kind=s.kind,
            repo_url=s.subscription.repo_url,
            found=found[i],
            error=error if i == 0 else None,
        )
        for i, s in enumerate(WAREHOUSE.spec.subscriptions)
    )
    return WarehouseDiscovery("app", outcomes, None, "")


FOUND = discovery(IMAGES, CHART_VERSIONS, COMMITS)


def test_subscriptions_not_chosen_take_their_newest_version():
    freight = assemble_freight(WAREHOUSE, FOUND, [VersionChoice("image", IMAGE, "v1.0.0")])
    assert [i.tag for i in freight.images] == ["v1.0.0"]
    assert freight.images[0].digest == IMAGES[2].digest
    assert [c.version for c in freight.charts] == ["2.0.0"]
    assert [c.id for c in freight.commits] == [COMMITS[0].id]
    assert freight.commits[0].subscription_name == "config"


@pytest.mark.parametrize(
    ("choice", "picked"),
    [
        (VersionChoice("chart", f"{CHARTS}/app", "1.0.0"), lambda f: f.charts[0].version),
        (VersionChoice("git", "config", "b" * 7), lambda f: f.commits[0].id),
        (VersionChoice("git", "subscriptions[2]", "B" * 40), lambda f: f.commits[0].id),
        (VersionChoice("image", IMAGE, IMAGES[1].digest), lambda f: f.images[0].tag),
    ],
    ids=["chart repo/name", "git name", "git place", "image digest"],
)
def test_a_subscription_is_named_by_repository_name_or_place(choice, picked):
    expected = {"chart": "1.0.0", "git": "b" * 40, "image": "v1.1.0"}[choice.kind]
    assert picked(assemble_freight(WAREHOUSE, FOUND, [choice])) == expected


@pytest.mark.parametrize(
    ("choices", "found", "message"),
    [
        (
            [VersionChoice("image", IMAGE, "v1.3.0")],
            FOUND,
            f"Warehouse app: subscriptions[0] (image {IMAGE}) did not discover v1.3.0; closest: "
            "v1.2.0, v1.1.0, v1.0.0 (newest found: v1.2.0, v1.1.0, v1.0.0; 3 in all)",
        ),
        (
            [VersionChoice("image", IMAGE, "v1.0.0"), VersionChoice("image", IMAGE, "v1.1.0")],
            FOUND,
            f"Warehouse app: two versions chosen for subscriptions[0] (image {IMAGE}) (v1.0.0 "
            "and v1.1.0); choose one",
        ),
        (
            [VersionChoice("chart", CHARTS, "1.0.0")],
            FOUND,
            f"Warehouse app has no chart subscription {CHARTS}; did you mean '{CHARTS}/app'? "
            f"(its chart subscriptions: {CHARTS}/app)",
        ),
        (
            [],
            discovery(IMAGES, (), COMMITS),
            f"Warehouse app: subscriptions[1] (chart {CHARTS}) found no version to put in Freight",
        ),
        (
            [],
            discovery((), CHART_VERSIONS, COMMITS, error="401 from the registry"),
            f"Warehouse app: subscriptions[0] (image {IMAGE}) could not be discovered, so no "
            "Freight can be assembled: 401 from the registry",
        ),
    ],
)
def test_refusals_name_the_warehouse_subscription_and_what_was_found(choices, found, message):
    with pytest.raises(FreightError) as raised:
        assemble_freight(WAREHOUSE, found, choices)
    assert str(raised.value) == message


def test_a_choice_is_written_subscription_equals_version():
    assert VersionChoice.parse("chart", "oci://r/c=1.2.3") == VersionChoice(
        "chart", "oci://r/c", "1.2.3"
    )
    with pytest.raises(FreightError, match="image choice 'v1': write SUBSCRIPTION=VERSION"):
        VersionChoice.parse("image", "v1")
    assert subscription_key(WAREHOUSE.spec.subscriptions[1]) == f"{CHARTS}/app"
