"""Model defaults and per-object rules, built directly from dicts (no files)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from kargo_dagster.spec import (
    ChartSubscription,
    ExpressionVariable,
    FreightSources,
    GitSubscription,
    ImageSubscription,
    ProjectConfig,
    PromotionStep,
    RepoSubscription,
    Stage,
    Warehouse,
)


def _warehouse(subscription: dict[str, Any], **spec: Any) -> Warehouse:
    return Warehouse.model_validate(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "w", "namespace": "p"},
            "spec": {"subscriptions": [subscription], **spec},
        }
    )


def test_warehouse_defaults() -> None:
    warehouse = _warehouse({"image": {"repoURL": "nginx"}})
    assert warehouse.spec.interval == timedelta(minutes=5)
    assert warehouse.spec.freight_creation_policy == "Automatic"
    assert warehouse.spec.freight_creation_criteria is None
    assert warehouse.spec.shard is None
    assert warehouse.metadata.labels == {}
    assert warehouse.metadata.annotations == {}
    sub = warehouse.spec.subscriptions[0]
    assert sub.kind == "image"
    assert sub.subscription is sub.image
    assert sub.name is None


def test_image_defaults() -> None:
    image = ImageSubscription.model_validate({"repoURL": "ghcr.io/a/b"})
    assert image.image_selection_strategy == "SemVer"
    assert image.strict_semvers is True
    assert image.discovery_limit == 20
    assert image.cache_by_tag is False
    assert image.insecure_skip_tls_verify is False
    assert image.constraint is None
    assert image.platform is None
    assert image.allow_tags_regexes == []
    assert image.ignore_tags_regexes == []


def test_git_defaults() -> None:
    git = GitSubscription.model_validate({"repoURL": "https://github.com/a/b.git"})
    assert git.commit_selection_strategy == "NewestFromBranch"
    assert git.strict_semvers is True
    assert git.discovery_limit == 20
    assert git.branch is None
    assert git.semver_constraint is None
    assert git.expression_filter is None
    assert git.include_paths == []
    assert git.exclude_paths == []
    assert git.since is None
    assert git.blobless is False
    assert git.insecure_skip_tls_verify is False


def test_chart_defaults() -> None:
    chart = ChartSubscription.model_validate({"repoURL": "oci://ghcr.io/a/chart"})
    assert chart.discovery_limit == 20
    assert chart.name is None
    assert chart.semver_constraint is None
    assert chart.is_oci


def test_git_since_is_a_datetime() -> None:
    git = GitSubscription.model_validate(
        {"repoURL": "https://github.com/a/b.git", "since": "2025-01-31T00:00:00Z"}
    )
    assert git.since == datetime(2025, 1, 31, tzinfo=UTC)


def test_stage_and_step_defaults() -> None:
    stage = Stage.model_validate(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Stage",
            "metadata": {"name": "s", "namespace": "p"},
            "spec": {
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "w"}, "sources": {"stages": ["a"]}}
                ],
                "promotionTemplate": {"spec": {"steps": [{"task": {"name": "t"}}]}},
            },
        }
    )
    sources = stage.spec.requested_freight[0].sources
    assert sources.direct is False
    assert sources.required_soak_time is None
    assert sources.soak_time == timedelta(0)
    assert sources.availability_strategy == "OneOf"
    assert sources.auto_promotion_options is None
    assert stage.spec.vars == []
    assert stage.spec.verification is None
    assert stage.spec.shard is None
    assert stage.source.file == "<memory>"
    step = stage.steps[0]
    assert step.task is not None and step.task.kind == "PromotionTask"
    assert (step.uses, step.as_, step.if_, step.retry, step.config) == (None,) * 5
    assert step.continue_on_error is False
    assert step.vars == []


def test_empty_availability_strategy_means_one_of() -> None:
    sources = FreightSources.model_validate({"direct": True, "availabilityStrategy": ""})
    assert sources.availability_strategy == "OneOf"


def test_auto_promotion_default_policy() -> None:
    sources = FreightSources.model_validate({"direct": True, "autoPromotionOptions": {}})
    assert sources.auto_promotion_options is not None
    assert sources.auto_promotion_options.selection_policy == "NewestFreight"


def test_step_aliases_and_retry() -> None:
    step = PromotionStep.model_validate(
        {
            "uses": "git-clone",
            "as": "clone",
            "if": "${{ always() }}",
            "continueOnError": True,
            "retry": {"errorThreshold": 3, "timeout": "1h30m"},
            "config": {"repoURL": "x"},
        }
    )
    assert step.alias == "clone"
    assert step.if_ == "${{ always() }}"
    assert step.retry is not None and step.retry.timeout == timedelta(hours=1, minutes=30)
    assert step.model_dump(mode="json", by_alias=True, exclude_defaults=True)["retry"] == {
        "errorThreshold": 3,
        "timeout": "1h30m0s",
    }


def test_python_names_work_in_code() -> None:
    # populate_by_name lets code build models with attribute names.
    step = PromotionStep(uses="fail", as_="f", if_="${{ true }}")
    assert step.as_ == "f"


def test_project_config_defaults() -> None:
    config = ProjectConfig.model_validate(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "ProjectConfig",
            "metadata": {"name": "p", "namespace": "p"},
            "spec": {
                "promotionPolicies": [
                    {"stageSelector": {"name": "glob:prod-*"}},
                    {"stage": "dev", "autoPromotionEnabled": True},
                ]
            },
        }
    )
    first, second = config.spec.promotion_policies
    assert first.auto_promotion_enabled is False
    assert first.auto_rollback is None
    assert first.stage_pattern == "glob:prod-*"
    assert second.stage_pattern == "dev"
    assert config.spec.webhook_receivers == []
    assert config.spec.promotion_windows == []


def _error(model: Any, data: dict[str, Any]) -> tuple[tuple[Any, ...], str]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    error = caught.value.errors()[0]
    ctx = error.get("ctx") or {}
    return tuple(error["loc"]) + tuple(p for p in str(ctx.get("field", "")).split(".") if p), (
        str(ctx.get("message", error["msg"]))
    )


@pytest.mark.parametrize(
    ("model", "data", "loc", "message"),
    [
        (
            ImageSubscription,
            {"repoURL": "nginx", "imageSelectionStrategy": "Digest"},
            ("constraint",),
            "must name the tag to track when imageSelectionStrategy is Digest",
        ),
        (ImageSubscription, {"repoURL": "nginx:1.0"}, ("repoURL",), "String should match"),
        (
            ImageSubscription,
            {"repoURL": "nginx", "discoveryLimit": 101},
            ("discoveryLimit",),
            "100",
        ),
        (ImageSubscription, {"repoURL": "nginx", "discoveryLimit": 0}, ("discoveryLimit",), "1"),
        (ImageSubscription, {"repoURL": "nginx", "platform": "linux"}, ("platform",), "match"),
        (
            ImageSubscription,
            {"repoURL": "nginx", "allowTagsRegexes": ["("]},
            ("allowTagsRegexes", "0"),
            "not a valid regular expression",
        ),
        (
            GitSubscription,
            {"repoURL": "https://x/y.git", "since": "2025-01-31T00:00:00"},
            ("since",),
            "RFC 3339",
        ),
        (GitSubscription, {"repoURL": "https://x/y.git", "branch": "-x"}, ("branch",), "match"),
        (
            ChartSubscription,
            {"repoURL": "https://charts.example.com"},
            ("name",),
            "is required for http(s) chart repositories",
        ),
        (
            ChartSubscription,
            {"repoURL": "oci://ghcr.io/a/chart", "name": "chart"},
            ("name",),
            "must be omitted for oci:// repositories",
        ),
        (
            RepoSubscription,
            {"image": {"repoURL": "a"}, "git": {"repoURL": "https://x/y.git"}},
            (),
            "exactly one of image, git or chart (got image, git)",
        ),
        (RepoSubscription, {}, (), "(got none)"),
        (ExpressionVariable, {"name": "x", "value": True}, ("value",), "valid string"),
        (ExpressionVariable, {"name": "1x"}, ("name",), "match"),
        (PromotionStep, {}, (), "exactly one of uses"),
        (
            PromotionStep,
            {"task": {"name": "t"}, "continueOnError": False},
            ("continueOnError",),
            "cannot set continueOnError",
        ),
        (
            PromotionStep,
            {"task": {"name": "t"}, "retry": {}},
            ("retry",),
            "cannot set retry",
        ),
    ],
)
def test_model_rules(model: Any, data: dict[str, Any], loc: tuple[str, ...], message: str) -> None:
    got_loc, got_message = _error(model, data)
    assert tuple(str(p) for p in got_loc) == loc
    assert message in got_message


def test_duplicate_subscriptions_are_rejected() -> None:
    with pytest.raises(ValidationError, match=r"already subscribed at subscriptions\.0"):
        Warehouse.model_validate(
            {
                "apiVersion": "kargo.akuity.io/v1alpha1",
                "kind": "Warehouse",
                "metadata": {"name": "w", "namespace": "p"},
                "spec": {
                    "subscriptions": [
                        {"git": {"repoURL": "https://github.com/a/b.git"}},
                        {"git": {"repoURL": "https://github.com/a/b"}},
                    ]
                },
            }
        )


def test_warehouse_interval_follows_the_crd_pattern() -> None:
    assert _warehouse({"image": {"repoURL": "a"}}, interval="1h30m").spec.interval == timedelta(
        hours=1, minutes=30
    )
    with pytest.raises(ValidationError, match="'500ms' is not a duration"):
        _warehouse({"image": {"repoURL": "a"}}, interval="500ms")


@pytest.mark.parametrize(
    ("policies", "message"),
    [
        ([{}], "exactly one of stageSelector (preferred) or stage"),
        ([{"stage": "a", "stageSelector": {"name": "a"}}], "exactly one of stageSelector"),
        ([{"stageSelector": {"name": "wild:*"}}], "unknown pattern prefix 'wild:'"),
        ([{"stageSelector": {"name": "regex:("}}], "invalid regular expression"),
        (
            [{"stage": "a"}, {"stageSelector": {"name": "a"}}],
            "Stage 'a' already has a policy at promotionPolicies.0; merge the two",
        ),
    ],
)
def test_promotion_policy_rules(policies: list[dict[str, Any]], message: str) -> None:
    _, got = _error(
        ProjectConfig,
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "ProjectConfig",
            "metadata": {"name": "p", "namespace": "p"},
            "spec": {"promotionPolicies": policies},
        },
    )
    assert message in got


def test_webhook_receiver_needs_one_provider() -> None:
    _, got = _error(
        ProjectConfig,
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "ProjectConfig",
            "metadata": {"name": "p", "namespace": "p"},
            "spec": {"webhookReceivers": [{"name": "r"}]},
        },
    )
    assert "a webhook receiver needs exactly one of github" in got
