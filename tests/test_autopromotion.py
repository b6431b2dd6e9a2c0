"""Which Stages auto-promote, and when a candidate is promoted: Kargo's rules."""

import pytest

from kargo_dagster.autopromotion import auto_promotion_enabled, decide, selector_matches
from kargo_dagster.spec import PromotionPolicy, PromotionPolicySelector, Stage

STAGE = {
    "apiVersion": "kargo.akuity.io/v1alpha1",
    "kind": "Stage",
    "metadata": {"name": "prod-eu", "namespace": "shop", "labels": {"tier": "prod"}},
    "spec": {
        "requestedFreight": [
            {"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": True}}
        ]
    },
}


def stage() -> Stage:
    return Stage.model_validate(STAGE)


def policy(enabled: bool = True, **selector) -> PromotionPolicy:
    return PromotionPolicy.model_validate(
        {"stageSelector": selector, "autoPromotionEnabled": enabled}
    )


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ({"name": "prod-eu"}, True),
        ({"name": "prod"}, False),
        ({"name": "glob:prod-*"}, True),
        ({"name": "glob:dev-*"}, False),
        ({"name": "regex:^prod-(eu|us)$"}, True),
        ({"name": "regexp:-us$"}, False),
        ({"matchLabels": {"tier": "prod"}}, True),
        ({"matchLabels": {"tier": "dev"}}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["prod"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["prod"]}]}, False),
        ({"matchExpressions": [{"key": "region", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "region", "operator": "Exists"}]}, False),
        ({"name": "glob:prod-*", "matchLabels": {"tier": "dev"}}, False),
    ],
)
def test_selectors_match_by_name_pattern_and_labels(selector, matches):
    parsed = PromotionPolicySelector.model_validate(selector)
    assert selector_matches(parsed, "prod-eu", {"tier": "prod"}) is matches


def test_the_first_matching_policy_decides():
    assert auto_promotion_enabled(
        stage(), [policy(name="glob:prod-*"), policy(False, name="prod-eu")]
    )
    assert not auto_promotion_enabled(
        stage(), [policy(False, name="prod-eu"), policy(name="glob:*")]
    )
    assert not auto_promotion_enabled(stage(), [policy(name="dev")])
    assert not auto_promotion_enabled(stage(), [])
    legacy = PromotionPolicy.model_validate({"stage": "prod-eu", "autoPromotionEnabled": True})
    assert auto_promotion_enabled(stage(), [legacy])


def test_decide_promotes_the_candidate_unless_something_stops_it():
    base = {"stage": "dev", "candidate": "b", "current": "a", "in_flight": set(),
            "candidate_failed": False, "held_for": None}  # fmt: skip
    assert decide(**base).freight == "b"
    assert decide(**{**base, "candidate": None}).reason == "no Freight is available to Stage dev"
    assert decide(**{**base, "current": "b"}).reason == "Stage dev already has b"
    assert "is under way" in decide(**{**base, "in_flight": {"c"}}).reason
    assert "it is not retried automatically" in decide(**{**base, "candidate_failed": True}).reason
    held = decide(**{**base, "held_for": "a"})
    assert held.freight is None
    assert held.reason == (
        "Stage dev is on hold: a was promoted by hand; promote b or lift the hold "
        "(kargo-dagster hold --lift) to resume auto-promotion"
    )
