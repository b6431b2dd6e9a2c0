"""The AnalysisRun a Stage's verification creates: templates merged, args evaluated, named."""

import copy
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from kargo_dagster.errors import ExpressionError, KargoDagsterError
from kargo_dagster.freight import Freight, FreightOrigin, GitCommit, Image
from kargo_dagster.spec import AnalysisTemplate, Stage, load_manifests
from kargo_dagster.testing.crd_schemas import CustomResourceType, bundled_crds
from kargo_dagster.verification.analysis_run import (
    CatalogTemplates,
    VerificationError,
    analysis_run_name,
    analysis_run_selector,
    build_analysis_run,
    freight_collection_id,
    new_ulid,
    shorten_label_value,
)

FIXTURES = Path(__file__).parent.parent / "fixtures"
ULID = "01J9ZX4Q8R3K7M2N5P6T0V1W2Y"
APP_REPO = "registry.example.com/demo/app"
CONFIG_REPO = "https://git.example.com/demo/config.git"
APP = Freight(
    origin=FreightOrigin(name="app"),
    images=(Image(repo_url=APP_REPO, tag="1.4.0", digest="sha256:" + "a" * 64),),
)
CONFIG = Freight(
    origin=FreightOrigin(name="config"),
    commits=(GitCommit(repo_url=CONFIG_REPO, id="c" * 40, branch="main"),),
)
COLLECTION = {"app": APP, "config": CONFIG}


def analysis_run_crd() -> CustomResourceType:
    return next(crd for crd in bundled_crds() if crd.kind == "AnalysisRun")


def assert_accepted_by_the_crd(run: dict[str, Any]) -> None:
    """The API server would store the run as built: nothing pruned, nothing invalid."""
    crd = analysis_run_crd()
    pruned = copy.deepcopy(run)
    assert crd.prune(pruned) == []
    assert crd.validate(pruned) == []
    assert pruned == run


class Templates:
    """Templates kept in memory: ``(namespace, name)`` for namespaced, ``name`` for cluster."""

    def __init__(
        self,
        namespaced: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
        cluster: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.namespaced = dict(namespaced or {})
        self.cluster = dict(cluster or {})

    def analysis_template(self, namespace: str, name: str) -> Mapping[str, Any] | None:
        return self.namespaced.get((namespace, name))

    def cluster_analysis_template(self, name: str) -> Mapping[str, Any] | None:
        return self.cluster.get(name)


def web(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "provider": {"web": {"url": f"http://app/{name}"}}, **fields}


def stage(
    *,
    name: str = "uat",
    namespace: str | None = "kargo-demo",
    templates: list[dict[str, str]] | None = None,
    args: list[dict[str, str]] | None = None,
    stage_vars: list[dict[str, str]] | None = None,
    run_metadata: dict[str, Any] | None = None,
) -> Stage:
    verification: dict[str, Any] = {"analysisTemplates": templates or [{"name": "smoke"}]}
    if args is not None:
        verification["args"] = args
    if run_metadata is not None:
        verification["analysisRunMetadata"] = run_metadata
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    return Stage.model_validate(
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Stage",
            "metadata": metadata,
            "spec": {
                "vars": stage_vars or [],
                "requestedFreight": [
                    {"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": True}},
                    {
                        "origin": {"kind": "Warehouse", "name": "config"},
                        "sources": {"direct": True},
                    },
                ],
                "verification": verification,
            },
        }
    )


def smoke_templates(**spec: Any) -> Templates:
    return Templates({("kargo-demo", "smoke"): {"metrics": [web("smoke")], **spec}})


def build(target: Stage, templates: Templates | None = None, **options: Any) -> dict[str, Any]:
    options.setdefault("ulid", lambda: ULID)
    return build_analysis_run(target, COLLECTION, templates or smoke_templates(), **options)


def arg_values(run: Mapping[str, Any]) -> dict[str, Any]:
    return {a["name"]: a.get("value", a.get("valueFrom")) for a in run["spec"].get("args", [])}


# --- The whole run, from manifests ------------------------------------------------------------


def test_the_run_for_a_stage_loaded_from_manifests():
    catalog = load_manifests(FIXTURES / "analysis")
    uat = catalog.projects["kargo-demo"].stages["uat"]
    run = build_analysis_run(
        uat, COLLECTION, CatalogTemplates(catalog), ulid=lambda: ULID, promotion="uat.01j9zx.e9a"
    )

    collection_id = freight_collection_id(COLLECTION)
    assert run["apiVersion"] == "argoproj.io/v1alpha1"
    assert run["kind"] == "AnalysisRun"
    assert run["metadata"] == {
        "name": f"uat.{ULID.lower()}.{collection_id[:7]}",
        "namespace": "kargo-demo",
        "labels": {
            "team": "payments",
            # Kargo's own labels win over analysisRunMetadata's.
            "kargo.akuity.io/stage": "uat",
            "kargo.akuity.io/freight-collection": collection_id,
        },
        "annotations": {
            "example.com/dashboard": "https://grafana.example.com/d/uat",
            "kargo.akuity.io/promotion": "uat.01j9zx.e9a",
        },
    }
    spec = run["spec"]
    # Namespaced templates first, in reference order, then the cluster-scoped one.
    assert [m["name"] for m in spec["metrics"]] == ["smoke", "p99-latency", "error-rate"]
    assert spec["metrics"][1]["provider"]["prometheus"]["address"] == (
        "http://prometheus.monitoring:9090"
    )
    assert spec["dryRun"] == [{"metricName": "smoke"}]
    assert spec["measurementRetention"] == [{"metricName": "p99-latency", "limit": 20}]
    assert spec["args"] == [
        {"name": "url", "value": "https://uat.example.com/healthz"},
        {"name": "image-tag", "value": "1.4.0"},
        {"name": "stage", "value": "kargo-demo/uat"},
        {"name": "commit", "value": "c" * 40},
        {
            "name": "api-token",
            "valueFrom": {"secretKeyRef": {"name": "prometheus", "key": "token"}},
        },
        {"name": "namespace", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
    ]
    assert "terminate" not in spec
    assert_accepted_by_the_crd(run)


def test_building_does_not_change_the_templates():
    catalog = load_manifests(FIXTURES / "analysis")
    uat = catalog.projects["kargo-demo"].stages["uat"]
    before = copy.deepcopy(catalog.projects["kargo-demo"].analysis_templates["smoke"].spec)
    run = build_analysis_run(uat, COLLECTION, CatalogTemplates(catalog), ulid=lambda: ULID)
    run["spec"]["metrics"][0]["count"] = 99
    assert catalog.projects["kargo-demo"].analysis_templates["smoke"].spec == before


def test_a_published_kargo_example_builds_a_valid_run():
    # Only the Stage and the template: the example's Warehouse uses a field Kargo removed.
    example = FIXTURES / "kargo-examples" / "akuity" / "kargo-advanced" / "kargo"
    stages = list(yaml.safe_load_all((example / "stages.yaml").read_text()))
    ab_test = Stage.model_validate(next(s for s in stages if s["metadata"]["name"] == "ab-test-a"))
    template = AnalysisTemplate.model_validate(
        yaml.safe_load((example / "analysis.yaml").read_text())
    )
    templates = Templates({("kargo-advanced", "pokemon-xp"): template.spec})
    guestbook = Freight(
        origin=FreightOrigin(name="guestbook"),
        images=(Image(repo_url="ghcr.io/akuity/guestbook", tag="v0.0.1", digest="sha256:0f"),),
    )
    run = build_analysis_run(ab_test, {"guestbook": guestbook}, templates, ulid=lambda: ULID)
    assert run["metadata"]["namespace"] == "kargo-advanced"
    assert run["metadata"]["name"].startswith(f"ab-test-a.{ULID.lower()}.")
    assert run["spec"]["args"] == [{"name": "pokemon", "value": "pikachu"}]
    assert [m["name"] for m in run["spec"]["metrics"]] == ["pokemon-xp"]
    assert_accepted_by_the_crd(run)


# --- Names, labels, annotations ---------------------------------------------------------------


def test_the_collection_id_is_kargos_sha1_of_the_sorted_freight_names():
    names = sorted([APP.id, CONFIG.id])
    expected = hashlib.sha1(",".join(names).encode()).hexdigest()
    assert freight_collection_id(COLLECTION) == expected
    assert freight_collection_id([CONFIG, APP]) == expected
    assert freight_collection_id({"app": APP}) == hashlib.sha1(APP.id.encode()).hexdigest()


def test_the_name_is_stage_ulid_and_collection_prefix_in_lower_case():
    run = build(stage(name="uat"))
    stage_part, ulid_part, collection_part = run["metadata"]["name"].split(".")
    assert (stage_part, ulid_part) == ("uat", ULID.lower())
    assert collection_part == freight_collection_id(COLLECTION)[:7]
    assert (
        build(stage(), ulid=lambda: "01J9ZX4Q8R3K7M2N5P6T0V1W2Z")["metadata"]["name"]
        != (run["metadata"]["name"])
    )


def test_a_long_stage_name_is_cut_to_fit_253_characters():
    long_name = "s" * 253
    name = analysis_run_name(long_name, "f" * 40, ULID)
    assert len(name) == 253
    assert name.endswith(f".{ULID.lower()}.fffffff")


def test_a_stage_name_too_long_for_a_label_is_hashed_and_kept_in_an_annotation():
    long_name = "payments-" + "x" * 70
    run = build(stage(name=long_name))
    label = run["metadata"]["labels"]["kargo.akuity.io/stage"]
    digest = hashlib.sha256(long_name.encode()).hexdigest()[:8]
    assert len(label) == 63
    assert label == f"{long_name[:54]}-{digest}"
    assert run["metadata"]["annotations"]["kargo.akuity.io/stage"] == long_name
    assert shorten_label_value(long_name + "y") != label
    assert_accepted_by_the_crd(run)


def test_shortening_does_not_leave_a_double_dash():
    value = "a" * 53 + "-" + "b" * 20
    assert (
        shorten_label_value(value)
        == "a" * 53 + "-" + hashlib.sha256(value.encode()).hexdigest()[:8]
    )


def test_the_selector_finds_the_runs_of_a_stage_and_collection():
    run = build(stage())
    selector = analysis_run_selector("uat", freight_collection_id(COLLECTION))
    labels = run["metadata"]["labels"]
    assert selector == ",".join(
        f"{key}={labels[key]}"
        for key in ("kargo.akuity.io/stage", "kargo.akuity.io/freight-collection")
    )


def test_without_promotion_or_run_metadata_there_are_only_kargos_labels():
    run = build(stage())
    assert set(run["metadata"]["labels"]) == {
        "kargo.akuity.io/stage",
        "kargo.akuity.io/freight-collection",
    }
    assert "annotations" not in run["metadata"]


def test_the_rollouts_controller_instance_label():
    run = build(stage(), controller_instance_id="shard-a")
    assert run["metadata"]["labels"]["argo-rollouts.argoproj.io/controller-instance-id"] == (
        "shard-a"
    )


def test_the_project_defaults_to_the_stage_namespace_and_can_be_given():
    assert build(stage())["metadata"]["namespace"] == "kargo-demo"
    templates = Templates({("other", "smoke"): {"metrics": [web("smoke")]}})
    run = build(stage(namespace=None), templates, project="other")
    assert run["metadata"]["namespace"] == "other"


def test_ulids_are_26_crockford_characters_ordered_by_time():
    assert new_ulid(clock=lambda: 0.0, randomness=bytes) == "0" * 26
    top = new_ulid(clock=lambda: (2**48 - 1) / 1000, randomness=lambda n: b"\xff" * n)
    assert top == "7" + "Z" * 25
    earlier = new_ulid(clock=lambda: 1_700_000_000.0, randomness=lambda n: b"\xff" * n)
    later = new_ulid(clock=lambda: 1_700_000_000.001, randomness=bytes)
    assert earlier < later
    made = {new_ulid() for _ in range(50)}
    assert len(made) == 50
    assert all(len(u) == 26 and set(u) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for u in made)


# --- Args ---------------------------------------------------------------------------------------


def with_args(*names: str, **values: str) -> Templates:
    args = [{"name": n} for n in names] + [{"name": n, "value": v} for n, v in values.items()]
    return smoke_templates(args=args)


def test_args_see_ctx_the_stage_vars_and_the_freight():
    target = stage(
        stage_vars=[
            {"name": "registry", "value": "registry.example.com"},
            {"name": "repo", "value": "${{ vars.registry }}/demo/app"},
        ],
        args=[
            {"name": "where", "value": "${{ ctx.project }}:${{ ctx.stage }}"},
            {"name": "tag", "value": "${{ imageFrom(vars.repo).Tag }}"},
            {"name": "digest", "value": "${{ imageFrom(vars.repo, warehouse('app')).Digest }}"},
            {"name": "branch", "value": f"${{{{ commitFrom('{CONFIG_REPO}').Branch }}}}"},
            {"name": "missing", "value": "${{ imageFrom('elsewhere/app') ?? 'none' }}"},
        ],
    )
    run = build(target, with_args("where", "tag", "digest", "branch", "missing"))
    assert arg_values(run) == {
        "where": "kargo-demo:uat",
        "tag": "1.4.0",
        "digest": "sha256:" + "a" * 64,
        "branch": "main",
        "missing": "none",
    }


def test_a_stage_arg_replaces_the_template_value_and_unknown_args_are_dropped():
    target = stage(args=[{"name": "threshold", "value": "0.5"}, {"name": "extra", "value": "x"}])
    run = build(target, with_args(threshold="0.9"))
    assert run["spec"]["args"] == [{"name": "threshold", "value": "0.5"}]


def test_a_literal_value_stays_text_but_an_expression_must_give_text():
    # Without ${{ }}, "0.5" is not evaluated; computed, it becomes a number, which Kargo
    # refuses as an argument value.
    with pytest.raises(VerificationError) as caught:
        build(
            stage(args=[{"name": "threshold", "value": "${{ 0.25 * 2 }}"}]), with_args("threshold")
        )
    message = str(caught.value)
    assert "Stage kargo-demo/uat spec.verification.args[0] (threshold)" in message
    assert "float64, not a string" in message
    assert "quote()" in message
    run = build(
        stage(args=[{"name": "threshold", "value": "${{ quote(0.25 * 2) }}"}]),
        with_args("threshold"),
    )
    assert arg_values(run) == {"threshold": "0.5"}


def test_an_arg_without_value_leaves_the_template_value():
    run = build(stage(args=[{"name": "threshold", "value": ""}]), with_args(threshold="0.9"))
    assert arg_values(run) == {"threshold": "0.9"}


def test_a_stage_value_overrides_a_template_value_from():
    templates = smoke_templates(
        args=[{"name": "token", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}]
    )
    run = build(stage(args=[{"name": "token", "value": "literal"}]), templates)
    # Argo Rollouts keeps valueFrom beside the new value; its controller prefers value.
    assert run["spec"]["args"] == [
        {
            "name": "token",
            "value": "literal",
            "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}},
        }
    ]
    assert_accepted_by_the_crd(run)


def test_a_broken_expression_names_the_stage_and_arg():
    with pytest.raises(ExpressionError) as caught:
        build(stage(args=[{"name": "tag", "value": "${{ imageFrom( }}"}]), with_args("tag"))
    assert caught.value.where == "Stage kargo-demo/uat spec.verification.args[0] (tag)"


def test_a_broken_var_names_the_stage_and_var():
    target = stage(
        stage_vars=[{"name": "bad", "value": "${{ nope() }}"}],
        args=[{"name": "x", "value": "y"}],
    )
    with pytest.raises(ExpressionError) as caught:
        build(target, with_args("x"))
    assert caught.value.where == "Stage kargo-demo/uat vars.bad"
    assert "unknown function nope()" in str(caught.value)


def test_step_status_functions_are_not_available_to_verification():
    target = stage(args=[{"name": "ok", "value": "${{ quote(success()) }}"}])
    with pytest.raises(ExpressionError, match=r"unknown function success\(\)"):
        build(target, with_args("ok"))


def test_extra_functions_such_as_secret_can_be_supplied():
    def secret(name: str) -> dict[str, str]:
        return {"token": f"value-of-{name}"}

    target = stage(args=[{"name": "token", "value": "${{ secret('prometheus').token }}"}])
    run = build(target, with_args("token"), functions={"secret": secret})
    assert arg_values(run) == {"token": "value-of-prometheus"}


def test_an_argument_nobody_sets_is_an_error_naming_it():
    with pytest.raises(VerificationError) as caught:
        build(stage(), with_args("url", "tag", threshold="1"))
    assert str(caught.value) == (
        "Stage kargo-demo/uat: no value for the template arguments 'url', 'tag'; set it in "
        "spec.verification.args or give it a value or valueFrom in the template"
    )


# --- Merging templates ------------------------------------------------------------------------


def two_templates(first: dict[str, Any], second: dict[str, Any]) -> Templates:
    return Templates({("kargo-demo", "a"): first, ("kargo-demo", "b"): second})


TWO = [{"name": "a"}, {"name": "b"}]


def test_a_metric_defined_in_two_templates_is_an_error_naming_both():
    templates = two_templates({"metrics": [web("up")]}, {"metrics": [web("up")]})
    with pytest.raises(VerificationError) as caught:
        build(stage(templates=TWO), templates)
    assert str(caught.value) == (
        "AnalysisTemplate 'b' in namespace 'kargo-demo': metric 'up' is defined also in "
        "AnalysisTemplate 'a' in namespace 'kargo-demo'; metric names must be unique across "
        "the templates a Stage uses"
    )


def test_a_metric_twice_in_one_template_is_an_error():
    templates = smoke_templates(metrics=[web("up"), web("up")])
    with pytest.raises(VerificationError, match="metric 'up' is defined twice in it"):
        build(stage(), templates)


def test_dry_run_and_retention_entries_must_be_unique_too():
    templates = two_templates(
        {"metrics": [web("a")], "dryRun": [{"metricName": "*"}]},
        {"metrics": [web("b")], "dryRun": [{"metricName": "*"}]},
    )
    with pytest.raises(VerificationError, match="dry-run metric '\\*' is defined also in"):
        build(stage(templates=TWO), templates)
    templates = two_templates(
        {"metrics": [web("a")], "measurementRetention": [{"metricName": "a", "limit": 1}]},
        {"metrics": [web("b")], "measurementRetention": [{"metricName": "a", "limit": 2}]},
    )
    with pytest.raises(VerificationError, match="measurement retention metric 'a'"):
        build(stage(templates=TWO), templates)


def test_template_args_merge_by_name():
    templates = two_templates(
        {"metrics": [web("a")], "args": [{"name": "url"}, {"name": "env", "value": "uat"}]},
        {"metrics": [web("b")], "args": [{"name": "url", "value": "http://x"}, {"name": "env"}]},
    )
    run = build(stage(templates=TWO), templates)
    assert run["spec"]["args"] == [
        {"name": "url", "value": "http://x"},
        {"name": "env", "value": "uat"},
    ]


def test_template_args_with_different_values_conflict():
    templates = two_templates(
        {"metrics": [web("a")], "args": [{"name": "env", "value": "uat"}]},
        {"metrics": [web("b")], "args": [{"name": "env", "value": "prod"}]},
    )
    with pytest.raises(VerificationError) as caught:
        build(stage(templates=TWO), templates)
    assert str(caught.value) == (
        "AnalysisTemplate 'b' in namespace 'kargo-demo': argument 'env' has a different value "
        "in AnalysisTemplate 'a' in namespace 'kargo-demo'; give it the same value in both or "
        "none"
    )


def test_a_missing_template_names_the_stage_and_template():
    with pytest.raises(VerificationError) as caught:
        build(stage(templates=[{"name": "smoke"}, {"name": "gone"}]))
    assert str(caught.value) == (
        "Stage kargo-demo/uat: spec.verification.analysisTemplates refers to AnalysisTemplate "
        "'gone' in namespace 'kargo-demo', which does not exist; create it or remove the "
        "reference"
    )
    with pytest.raises(VerificationError, match="ClusterAnalysisTemplate 'shared'"):
        build(stage(templates=[{"name": "shared", "kind": "ClusterAnalysisTemplate"}]))


def test_templates_are_looked_up_in_the_project_only():
    templates = Templates({("elsewhere", "smoke"): {"metrics": [web("smoke")]}})
    with pytest.raises(VerificationError, match="'smoke' in namespace 'kargo-demo'"):
        build(stage(), templates)


def test_a_source_that_fails_is_reported_with_the_template():
    class Failing(Templates):
        def analysis_template(self, namespace: str, name: str) -> Mapping[str, Any] | None:
            raise KargoDagsterError("the API server said 503")

    with pytest.raises(VerificationError) as caught:
        build(stage(), Failing())
    assert str(caught.value) == (
        "Stage kargo-demo/uat: cannot read AnalysisTemplate 'smoke' in namespace 'kargo-demo': "
        "the API server said 503"
    )


def test_a_malformed_template_is_reported():
    with pytest.raises(VerificationError, match=r"spec\.metrics\[0\] needs a name"):
        build(stage(), smoke_templates(metrics=[{"provider": {}}]))
    with pytest.raises(VerificationError, match=r"spec\.args must be a list"):
        build(stage(), smoke_templates(args={"name": "x"}))


def test_a_stage_without_verification_or_project_cannot_build_a_run():
    bare = stage().model_copy(
        update={"spec": stage().spec.model_copy(update={"verification": None})}
    )
    with pytest.raises(VerificationError, match=r"has no spec\.verification"):
        build(bare)
    with pytest.raises(VerificationError, match="has no namespace"):
        build(stage(namespace=None))
