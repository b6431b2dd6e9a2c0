"""``argocd-update`` against the fake Kubernetes API server and the Argo CD simulator: the
Applications are real objects over real HTTP, written the way Kargo writes them."""

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs

import pytest

from kargo_dagster.clients.argocd.kubernetes_api import KubernetesArgoCDApplications
from kargo_dagster.errors import RetryableStepError, StepPendingError, TerminalStepError
from kargo_dagster.promotion.builtin import builtin_registry
from kargo_dagster.promotion.engine import PromotionServices, run_promotion
from kargo_dagster.promotion.expansion import PlannedStep
from kargo_dagster.promotion.steps.argocd.update import STEP, authorized_stages
from kargo_dagster.testing.argocd_sim import application
from kargo_dagster.testing.kube_api import FakeKubeAPI
from tests.promotion.engine_support import FakeClock
from tests.promotion.steps.argocd_support import (
    CHARTS,
    REPO,
    SHA_A,
    SHA_B,
    SHA_C,
    ArgoCD,
    argocd_environment,
    drive,
    run_once,
)

TOKEN = "kube-t0ken-never-shown"


@pytest.fixture
def argocd() -> Iterator[ArgoCD]:
    with argocd_environment() as environment:
        yield environment


def to_revision(revision: str, *, repo: str = REPO, name: str = "guestbook") -> dict:
    """An argocd-update config pointing ``name``'s source at ``revision``."""
    source = {"repoURL": repo, "desiredRevision": revision, "updateTargetRevision": True}
    return {"apps": [{"name": name, "sources": [source]}]}


# Finding and syncing ---------------------------------------------------------------------------


def test_an_app_named_in_the_config_is_synced_to_the_desired_revision(argocd, tmp_path):
    argocd.add("guestbook")
    ctx = argocd.context(tmp_path)

    with pytest.raises(StepPendingError) as waiting:
        run_once(STEP, ctx, to_revision(SHA_B))
    assert 'Argo CD Application "guestbook" in namespace "argocd": sync started' in str(
        waiting.value
    )
    assert waiting.value.retry_after == argocd.client.poll_interval
    # The first look started the sync: new target, hard refresh, Kargo's operation.
    app = argocd.app("guestbook")
    assert app["spec"]["source"]["targetRevision"] == SHA_B
    assert app["metadata"]["annotations"]["argocd.argoproj.io/refresh"] == "hard"
    assert app["operation"] == {
        "initiatedBy": {"username": "kargo-controller", "automated": True},
        "info": [
            {"name": "Reason", "value": "Promotion triggered a sync of this Application resource."},
            {"name": "kargo.akuity.io/promotion", "value": ctx.promotion.name},
        ],
        "sync": {},
        "retry": {},
    }
    # Written as Kargo writes: a merge patch of the changes, locked to the version read.
    [write] = argocd.writes("guestbook")
    assert write.content_type == "application/merge-patch+json"
    assert write.body["metadata"]["resourceVersion"]
    assert set(write.body) == {"metadata", "spec", "operation"}

    argocd.sim.settle()
    outputs = drive(STEP, ctx, to_revision(SHA_B), argocd.sim)

    assert outputs == {"apps": [{"name": "guestbook", "namespace": "argocd"}]}
    status = argocd.app("guestbook")["status"]
    assert status["operationState"]["phase"] == "Succeeded"
    assert status["operationState"]["syncResult"]["revision"] == SHA_B
    assert argocd.details["healthCheck"] == {
        "kind": "argocd-update",
        "apps": [{"name": "guestbook", "namespace": "argocd", "desiredRevisions": [SHA_B]}],
    }
    [event] = argocd.events()
    assert event["message"] == f"kargo-controller initiated sync to {SHA_B}"
    assert event["involvedObject"]["name"] == "guestbook"
    assert event["metadata"]["annotations"] == {"user": "kargo-controller"}


def test_an_app_already_at_the_revision_is_synced_once_and_then_done(argocd, tmp_path):
    argocd.add("guestbook")
    ctx = argocd.context(tmp_path)
    drive(STEP, ctx, to_revision(SHA_B), argocd.sim)
    writes = len(argocd.writes("guestbook"))

    # Looking again within the same promotion changes nothing.
    assert run_once(STEP, ctx, to_revision(SHA_B))["apps"][0]["name"] == "guestbook"
    assert len(argocd.writes("guestbook")) == writes


def test_the_app_namespace_can_be_named(argocd, tmp_path):
    argocd.add("guestbook", namespace="gitops")
    config = to_revision(SHA_B)
    config["apps"][0]["namespace"] = "gitops"
    outputs = drive(STEP, argocd.context(tmp_path), config, argocd.sim)
    assert outputs == {"apps": [{"name": "guestbook", "namespace": "gitops"}]}


def test_apps_matching_a_selector_are_synced(argocd, tmp_path):
    argocd.add("guestbook-a", labels={"env": "dev", "team": "a"})
    argocd.add("guestbook-b", labels={"env": "dev", "team": "b"})
    argocd.add("guestbook-prod", labels={"env": "prod", "team": "a"})
    config = {
        "apps": [
            {
                "selector": {
                    "matchLabels": {"env": "dev"},
                    "matchExpressions": [{"key": "team", "operator": "In", "values": ["a", "b"]}],
                },
                "sources": [
                    {"repoURL": REPO, "desiredRevision": SHA_C, "updateTargetRevision": True}
                ],
            }
        ]
    }

    outputs = drive(STEP, argocd.context(tmp_path), config, argocd.sim)

    assert outputs == {
        "apps": [
            {"name": "guestbook-a", "namespace": "argocd"},
            {"name": "guestbook-b", "namespace": "argocd"},
        ]
    }
    for name in ("guestbook-a", "guestbook-b"):
        assert argocd.app(name)["status"]["sync"] == {
            **argocd.app(name)["status"]["sync"],
            "status": "Synced",
            "revision": SHA_C,
        }
    assert argocd.app("guestbook-prod")["spec"]["source"]["targetRevision"] == "main"
    selectors = {
        parse_qs(r.query)["labelSelector"][0]
        for r in argocd.kube.requests
        if r.method == "GET" and "labelSelector" in r.query
    }
    assert selectors == {"env=dev,team in (a,b)"}


def test_a_selector_matching_nothing_is_an_error_to_retry(argocd, tmp_path):
    config = {"apps": [{"selector": {"matchLabels": {"env": "dev"}}}]}
    with pytest.raises(RetryableStepError) as caught:
        run_once(STEP, argocd.context(tmp_path), config)
    assert str(caught.value) == (
        'no Argo CD Applications found matching selector in namespace "argocd"'
    )


def test_an_invalid_selector_fails_the_step(argocd, tmp_path):
    config = {"apps": [{"selector": {"matchExpressions": [{"key": "env", "operator": "In"}]}}]}
    with pytest.raises(TerminalStepError, match="error building label selector: invalid "):
        run_once(STEP, argocd.context(tmp_path), config)


def test_a_missing_app_is_an_error_to_retry(argocd, tmp_path):
    with pytest.raises(RetryableStepError) as caught:
        run_once(STEP, argocd.context(tmp_path), {"apps": [{"name": "nope"}]})
    assert str(caught.value) == 'unable to find Argo CD Application "nope" in namespace "argocd"'


def test_no_argocd_connection_fails_saying_how_to_give_one(argocd, tmp_path):
    ctx = argocd.context(tmp_path, argocd=None)
    with pytest.raises(TerminalStepError, match=r"pass PromotionServices\(argocd=\.\.\.\)"):
        run_once(STEP, ctx, {"apps": [{"name": "guestbook"}]})


# Authorization ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "annotation",
    ["demo:dev", " demo : dev ", "demo:prod,demo:dev", "other:dev, demo:dev,", ",demo:dev"],
)
def test_apps_naming_the_stage_may_be_updated(argocd, tmp_path, annotation):
    argocd.add("guestbook", authorized=annotation)
    outputs = drive(STEP, argocd.context(tmp_path), to_revision(SHA_B), argocd.sim)
    assert outputs["apps"] == [{"name": "guestbook", "namespace": "argocd"}]


@pytest.mark.parametrize(
    ("annotation", "problem"),
    [
        (None, "it has no kargo.akuity.io/authorized-stage annotation"),
        (
            "demo:prod",
            'its kargo.akuity.io/authorized-stage annotation ("demo:prod") does not name Stage '
            "dev of Project demo",
        ),
        (
            "other:dev",
            'its kargo.akuity.io/authorized-stage annotation ("other:dev") does not name Stage '
            "dev of Project demo",
        ),
        (
            "demo:*",
            'unable to parse value of annotation "kargo.akuity.io/authorized-stage" ("demo:*"): '
            'invalid authorized Stage "demo:*": deprecated glob expressions are no longer '
            "supported",
        ),
        (
            "*:*",
            'unable to parse value of annotation "kargo.akuity.io/authorized-stage" ("*:*"): '
            'invalid authorized Stage "*:*": deprecated glob expressions are no longer supported',
        ),
        (
            "demo:dev,dev",
            'unable to parse value of annotation "kargo.akuity.io/authorized-stage" '
            '("demo:dev,dev"): invalid authorized Stage "dev": expected format '
            '"<project>:<stage>"',
        ),
        (
            " , ",
            'unable to parse value of annotation "kargo.akuity.io/authorized-stage" (" , "): '
            'no authorized Stages found in " , "',
        ),
    ],
)
def test_apps_not_naming_the_stage_are_refused(argocd, tmp_path, annotation, problem):
    argocd.add("guestbook", authorized=annotation)
    with pytest.raises(TerminalStepError) as caught:
        run_once(STEP, argocd.context(tmp_path), to_revision(SHA_B))
    assert str(caught.value) == (
        f'Argo CD Application "guestbook" in namespace "argocd" is not authorized for Stage '
        f"demo:dev: {problem}; to allow it, annotate the Application with "
        'kargo.akuity.io/authorized-stage: "demo:dev" (a comma-separated list may name '
        "several Stages)"
    )
    assert "operation" not in argocd.app("guestbook")
    assert argocd.writes("guestbook") == []


def test_unauthorized_apps_matching_a_selector_are_skipped(argocd, tmp_path):
    argocd.add("allowed", labels={"env": "dev"})
    argocd.add("other", labels={"env": "dev"}, authorized="demo:prod")
    config = {"apps": [{"selector": {"matchLabels": {"env": "dev"}}}]}

    outputs = drive(STEP, argocd.context(tmp_path), config, argocd.sim)

    assert outputs == {"apps": [{"name": "allowed", "namespace": "argocd"}]}
    assert argocd.writes("other") == []


def test_a_selector_matching_only_unauthorized_apps_is_refused(argocd, tmp_path):
    argocd.add("a", labels={"env": "dev"}, authorized=None)
    argocd.add("b", labels={"env": "dev"}, authorized="demo:prod")
    config = {"apps": [{"selector": {"matchLabels": {"env": "dev"}}}]}
    with pytest.raises(TerminalStepError) as caught:
        run_once(STEP, argocd.context(tmp_path), config)
    message = str(caught.value)
    assert message.startswith(
        'found 2 Application(s) matching selector in namespace "argocd", but none are '
        "authorized for Stage demo:dev (a: it has no kargo.akuity.io/authorized-stage "
        "annotation; b: "
    )
    assert message.endswith(
        "annotate the Application with kargo.akuity.io/authorized-stage: "
        '"demo:dev" (a comma-separated list may name several Stages)'
    )


@pytest.mark.parametrize(
    ("value", "stages"),
    [
        ("p:s", [("p", "s")]),
        (" p : s , q:t ,", [("p", "s"), ("q", "t")]),
    ],
)
def test_authorized_stages_are_parsed_as_kargo_does(value, stages):
    assert authorized_stages(value) == stages


@pytest.mark.parametrize("value", ["", ",", "p", "p:", ":s", "p:s:*", "p*:s", "p:s,q"])
def test_malformed_authorized_stages_are_rejected(value):
    with pytest.raises(ValueError):
        authorized_stages(value)


# Source updates --------------------------------------------------------------------------------


def test_kustomize_images_replace_the_source_images(argocd, tmp_path):
    manifest = application("guestbook", REPO, "main", authorized_stage="demo:dev")
    manifest["spec"]["source"]["kustomize"] = {"images": ["old:v0"], "namePrefix": "dev-"}
    argocd.kube.add(manifest)
    argocd.sim.settle()
    # The source matches after git URL normalisation (case, trailing .git).
    config = {
        "apps": [
            {
                "name": "guestbook",
                "sources": [
                    {
                        "repoURL": "https://GitHub.com/acme/deploy",
                        "kustomize": {
                            "images": [
                                {"repoURL": "ghcr.io/acme/app", "tag": "v2"},
                                {
                                    "repoURL": "ghcr.io/acme/sidecar",
                                    "newName": "mirror.example.com/sidecar",
                                    "digest": "sha256:" + "1" * 64,
                                },
                            ]
                        },
                    }
                ],
            }
        ]
    }

    drive(STEP, argocd.context(tmp_path), config, argocd.sim)

    source = argocd.app("guestbook")["spec"]["source"]
    assert source["kustomize"] == {
        "images": [
            "ghcr.io/acme/app:v2",
            "ghcr.io/acme/sidecar=mirror.example.com/sidecar@sha256:" + "1" * 64,
        ],
        "namePrefix": "dev-",
    }
    assert source["targetRevision"] == "main"
    # Without a desiredRevision nothing is required of the synced revision.
    assert argocd.details["healthCheck"]["apps"][0]["desiredRevisions"] == [""]


def test_helm_parameters_are_upserted_and_the_chart_version_set(argocd, tmp_path):
    manifest = application(
        "guestbook", CHARTS, "1.0.0", chart="guestbook", authorized_stage="demo:dev"
    )
    manifest["spec"]["source"]["helm"] = {
        "parameters": [{"name": "image.tag", "value": "v1", "forceString": True}],
        "releaseName": "gb",
    }
    argocd.kube.add(manifest)
    argocd.sim.settle()
    config = {
        "apps": [
            {
                "name": "guestbook",
                "sources": [
                    {
                        "repoURL": CHARTS,
                        "chart": "guestbook",
                        "desiredRevision": "1.1.0",
                        "updateTargetRevision": True,
                        "helm": {
                            "images": [
                                {"key": "image.tag", "value": "v2"},
                                {"key": "image.repository", "value": "ghcr.io/acme/app"},
                            ]
                        },
                    }
                ],
            }
        ]
    }

    drive(STEP, argocd.context(tmp_path), config, argocd.sim)

    app = argocd.app("guestbook")
    assert app["spec"]["source"]["targetRevision"] == "1.1.0"
    assert app["spec"]["source"]["helm"] == {
        "parameters": [
            {"name": "image.tag", "value": "v2", "forceString": True},
            {"name": "image.repository", "value": "ghcr.io/acme/app"},
        ],
        "releaseName": "gb",
    }
    assert app["status"]["operationState"]["syncResult"]["revision"] == "1.1.0"


def test_a_chart_source_must_match_repository_and_chart_exactly(argocd, tmp_path):
    argocd.kube.add(
        application("guestbook", CHARTS, "1.0.0", chart="guestbook", authorized_stage="demo:dev")
    )
    config = {"apps": [{"name": "guestbook", "sources": [{"repoURL": CHARTS, "chart": "other"}]}]}
    with pytest.raises(TerminalStepError) as caught:
        run_once(STEP, argocd.context(tmp_path), config)
    assert str(caught.value) == (
        'error building desired sources for Argo CD Application "guestbook" in namespace '
        '"argocd": no source of Argo CD Application "guestbook" in namespace "argocd" matched '
        f'update for source with repoURL {CHARTS} and chart "other"'
    )


def test_an_update_for_no_source_of_the_app_fails(argocd, tmp_path):
    argocd.add("guestbook")
    config = to_revision(SHA_B, repo="https://github.com/acme/other.git")
    with pytest.raises(TerminalStepError, match="matched update for source with repoURL "):
        run_once(STEP, argocd.context(tmp_path), config)
    assert argocd.writes("guestbook") == []


def test_every_source_of_a_multi_source_app_can_be_updated(argocd, tmp_path):
    argocd.kube.add(
        application(
            "guestbook",
            "",
            sources=[
                {"repoURL": REPO, "targetRevision": "main", "path": "env/dev"},
                {
                    "repoURL": CHARTS,
                    "chart": "redis",
                    "targetRevision": "17.0.0",
                    "helm": {"parameters": [{"name": "auth.enabled", "value": "false"}]},
                },
                {
                    "repoURL": "https://github.com/acme/values.git",
                    "targetRevision": "main",
                    "ref": "values",
                },
            ],
            authorized_stage="demo:dev",
        )
    )
    argocd.sim.set_revision("https://github.com/acme/values.git", "main", SHA_C)
    argocd.sim.settle()
    config = {
        "apps": [
            {
                "name": "guestbook",
                "sources": [
                    {"repoURL": REPO, "desiredRevision": SHA_B, "updateTargetRevision": True},
                    {
                        "repoURL": CHARTS,
                        "chart": "redis",
                        "desiredRevision": "17.1.0",
                        "updateTargetRevision": True,
                        "helm": {"images": [{"key": "image.tag", "value": "7.2"}]},
                    },
                ],
            }
        ]
    }

    drive(STEP, argocd.context(tmp_path), config, argocd.sim)

    app = argocd.app("guestbook")
    sources = app["spec"]["sources"]
    assert [s["targetRevision"] for s in sources] == [SHA_B, "17.1.0", "main"]
    assert sources[1]["helm"]["parameters"] == [
        {"name": "auth.enabled", "value": "false"},
        {"name": "image.tag", "value": "7.2"},
    ]
    assert sources[2]["ref"] == "values"
    assert app["status"]["operationState"]["syncResult"]["revisions"] == [SHA_B, "17.1.0", SHA_C]
    assert argocd.details["healthCheck"]["apps"][0]["desiredRevisions"] == [SHA_B, "17.1.0", ""]
    [event] = argocd.events()
    assert event["message"] == "kargo-controller initiated sync to 3 sources"


def test_updates_must_fit_every_app_a_selector_matches_before_any_is_touched(argocd, tmp_path):
    argocd.add("fits", labels={"env": "dev"})
    argocd.kube.add(
        application(
            "misfit", CHARTS, "1.0.0", chart="x", labels={"env": "dev"}, authorized_stage="demo:dev"
        )
    )
    argocd.sim.settle()
    config = {
        "apps": [
            {
                "selector": {"matchLabels": {"env": "dev"}},
                "sources": [
                    {"repoURL": REPO, "desiredRevision": SHA_B, "updateTargetRevision": True}
                ],
            }
        ]
    }
    with pytest.raises(TerminalStepError) as caught:
        run_once(STEP, argocd.context(tmp_path), config)
    assert str(caught.value).startswith(
        "selected Applications must have compatible sources; 1 incompatible. No Applications "
        'were updated:\nApplication "misfit" in namespace "argocd": no source of Argo CD '
        'Application "misfit"'
    )
    assert argocd.writes("fits") == argocd.writes("misfit") == []


def test_the_sync_carries_the_apps_sync_options_and_retry(argocd, tmp_path):
    policy = {"syncOptions": ["CreateNamespace=true"], "retry": {"limit": 2}}
    argocd.add("guestbook", sync_policy=policy)
    run_pending(argocd, tmp_path)
    operation = argocd.app("guestbook")["operation"]
    assert operation["sync"] == {"syncOptions": ["CreateNamespace=true"]}
    assert operation["retry"] == {"limit": 2}


def test_a_promotion_someone_asked_for_syncs_in_their_name(argocd, tmp_path):
    argocd.add("guestbook")
    ctx = argocd.context(tmp_path)
    ctx = replace(ctx, promotion=replace(ctx.promotion, actor="alice"))
    with pytest.raises(StepPendingError):
        run_once(STEP, ctx, to_revision(SHA_B))
    # Not automated: Argo CD applies its sync windows to manual syncs.
    assert argocd.app("guestbook")["operation"]["initiatedBy"] == {"username": "alice"}


def test_a_sensor_promotion_syncs_as_kargo(argocd, tmp_path):
    argocd.add("guestbook")
    ctx = argocd.context(tmp_path)
    ctx = replace(ctx, promotion=replace(ctx.promotion, actor="sensor:kargo_demo_auto"))
    with pytest.raises(StepPendingError):
        run_once(STEP, ctx, to_revision(SHA_B))
    assert argocd.app("guestbook")["operation"]["initiatedBy"] == {
        "username": "kargo-controller",
        "automated": True,
    }


def run_pending(argocd: ArgoCD, tmp_path, config: dict | None = None) -> StepPendingError:
    """Run the step once, expecting it to start a sync and wait."""
    with pytest.raises(StepPendingError) as waiting:
        run_once(STEP, argocd.context(tmp_path), config or to_revision(SHA_B))
    return waiting.value


# Operations in flight --------------------------------------------------------------------------


def test_the_last_operation_state_is_cleared_when_a_sync_starts(argocd, tmp_path):
    argocd.add("guestbook")
    drive(STEP, argocd.context(tmp_path / "one"), to_revision(SHA_B), argocd.sim)
    assert argocd.app("guestbook")["status"]["operationState"]["phase"] == "Succeeded"

    # The next promotion (another name) starts over: its write removes the old result.
    ctx = argocd.context(tmp_path / "two")
    ctx = replace(ctx, promotion=replace(ctx.promotion, name="dev.next.1234567"))
    with pytest.raises(StepPendingError):
        run_once(STEP, ctx, to_revision(SHA_C))
    assert argocd.writes("guestbook")[-1].body["status"] == {"operationState": None}
    assert "operationState" not in argocd.app("guestbook")["status"]


def test_a_conflicting_write_is_retried(argocd, tmp_path):
    argocd.add("guestbook")
    argocd.sim.conflict_on_next_write("guestbook", times=2)

    run_pending(argocd, tmp_path)

    assert [w.status for w in argocd.writes("guestbook")] == [409, 409, 200]
    assert argocd.app("guestbook")["spec"]["source"]["targetRevision"] == SHA_B


def test_writes_that_keep_conflicting_are_an_error_to_retry(argocd, tmp_path):
    argocd.add("guestbook")
    argocd.sim.conflict_on_next_write("guestbook", times=5)
    with pytest.raises(RetryableStepError) as caught:
        run_once(STEP, argocd.context(tmp_path), to_revision(SHA_B))
    assert not isinstance(caught.value, StepPendingError)
    assert str(caught.value) == (
        'error syncing Argo CD Application "guestbook" in namespace "argocd": error patching '
        "Argo CD Application \"guestbook\": cannot patch Argo CD Application 'guestbook' in "
        "namespace 'argocd': it was changed concurrently (409 Conflict)"
    )
    assert "operation" not in argocd.app("guestbook")


def test_an_operation_someone_else_started_is_waited_out(argocd, tmp_path):
    argocd.add("guestbook")
    argocd.sim.start_foreign_sync("guestbook", username="admin", steps=3)

    with pytest.raises(StepPendingError) as waiting:
        run_once(STEP, argocd.context(tmp_path), to_revision(SHA_B))

    assert 'current operation was initiated by "admin": waiting for operation to complete' in str(
        waiting.value
    )
    app = argocd.app("guestbook")
    assert app["operation"]["initiatedBy"] == {"username": "admin"}
    assert app["spec"]["source"]["targetRevision"] == "main"
    assert argocd.writes("guestbook") == []
    # Once it completes, ours starts and finishes.
    outputs = drive(STEP, argocd.context(tmp_path), to_revision(SHA_B), argocd.sim)
    assert outputs["apps"] == [{"name": "guestbook", "namespace": "argocd"}]
    history = argocd.app("guestbook")["status"]["history"]
    assert [h["initiatedBy"].get("username") for h in history] == ["admin", "kargo-controller"]


def test_another_promotions_operation_is_waited_out(argocd, tmp_path):
    argocd.add("guestbook")
    argocd.sim.slow_syncs("guestbook", steps=3)
    earlier = argocd.context(tmp_path / "earlier")
    earlier = replace(earlier, promotion=replace(earlier.promotion, name="dev.earlier.7654321"))
    with pytest.raises(StepPendingError):
        run_once(STEP, earlier, to_revision(SHA_C))
    argocd.sim.step()
    argocd.sim.step()

    with pytest.raises(StepPendingError) as waiting:
        run_once(STEP, argocd.context(tmp_path / "later"), to_revision(SHA_B))
    assert (
        "current operation was not initiated for Promotion dev.01jabcdefghijk.1234567: waiting "
        "for operation to complete"
    ) in str(waiting.value)
    assert argocd.app("guestbook")["spec"]["source"]["targetRevision"] == SHA_C

    drive(STEP, argocd.context(tmp_path / "later"), to_revision(SHA_B), argocd.sim)
    assert argocd.app("guestbook")["status"]["sync"]["revision"] == SHA_B


def test_a_sync_at_another_revision_is_started_again(argocd, tmp_path):
    argocd.add("guestbook")
    # desiredRevision without updateTargetRevision: Argo CD syncs main, which is at A.
    config = {
        "apps": [{"name": "guestbook", "sources": [{"repoURL": REPO, "desiredRevision": SHA_B}]}]
    }
    ctx = argocd.context(tmp_path)
    with pytest.raises(StepPendingError):
        run_once(STEP, ctx, config)
    argocd.sim.settle()
    assert argocd.app("guestbook")["status"]["operationState"]["syncResult"]["revision"] == SHA_A
    # Meanwhile main moves to B; the step sees A, not B, and syncs again.
    argocd.sim.set_revision(REPO, "main", SHA_B)
    with pytest.raises(StepPendingError) as waiting:
        run_once(STEP, ctx, config)
    assert "sync started" in str(waiting.value)
    # Until Argo CD starts it, the step waits for the sync it wrote.
    with pytest.raises(StepPendingError) as waiting:
        run_once(STEP, ctx, config)
    assert "sync requested, waiting for Argo CD to start it" in str(waiting.value)

    drive(STEP, ctx, config, argocd.sim)

    assert len(argocd.events()) == 2
    assert argocd.app("guestbook")["status"]["operationState"]["syncResult"]["revision"] == SHA_B


@pytest.mark.parametrize("phase", ["Failed", "Error"])
def test_a_failed_sync_fails_the_step_with_argo_cds_message(argocd, tmp_path, phase):
    argocd.add("guestbook")
    argocd.sim.fail_next_sync("guestbook", phase=phase, message="one or more objects failed")
    with pytest.raises(TerminalStepError) as caught:
        drive(STEP, argocd.context(tmp_path), to_revision(SHA_B), argocd.sim)
    assert str(caught.value) == (
        'Argo CD Application "guestbook" in namespace "argocd" failed with: '
        "one or more objects failed"
    )


# Argo CD out of reach --------------------------------------------------------------------------


def test_an_unreachable_api_is_an_error_to_retry(argocd, tmp_path):
    with FakeKubeAPI() as gone:
        client = gone.api_client()
    client.configuration.api_key = {"authorization": TOKEN}
    client.configuration.api_key_prefix = {"authorization": "Bearer"}
    unreachable = KubernetesArgoCDApplications(client, request_timeout=2)
    ctx = argocd.context(tmp_path, argocd=unreachable)
    with pytest.raises(RetryableStepError) as caught:
        run_once(STEP, ctx, to_revision(SHA_B))
    assert str(caught.value) == (
        'error finding Argo CD Application "guestbook" in namespace "argocd": cannot reach '
        f"the Kubernetes API at {gone.url} to get Argo CD Application 'guestbook' in namespace "
        "'argocd': Connection refused"
    )
    assert TOKEN not in str(caught.value)


def test_a_server_error_is_an_error_to_retry(argocd, tmp_path):
    argocd.add("guestbook")
    argocd.kube.fail_next("get", "applications", "guestbook", code=500)
    with pytest.raises(RetryableStepError) as caught:
        run_once(STEP, argocd.context(tmp_path), to_revision(SHA_B))
    assert str(caught.value) == (
        'error finding Argo CD Application "guestbook" in namespace "argocd": the Kubernetes '
        f"API at {argocd.kube.url} refused to get Argo CD Application 'guestbook' in namespace "
        "'argocd' (500 Internal Server Error): Internal error occurred: injected failure"
    )


# Through the engine ----------------------------------------------------------------------------


def promote(argocd: ArgoCD, tmp_path, config: dict, clock: FakeClock, **step_fields):
    """Run the step in a promotion; each wait advances the clock and lets Argo CD move."""

    def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        argocd.sim.step()

    ctx = argocd.context(tmp_path)
    return run_promotion(
        steps=[PlannedStep(alias="sync", uses="argocd-update", config=config, **step_fields)],
        registry=builtin_registry(),
        promotion=ctx.promotion,
        services=PromotionServices(argocd=argocd.client),
        work_root=tmp_path / "promotions",
        clock=clock,
        sleep=sleep,
    )


def test_a_promotion_waits_for_the_sync_and_records_the_health_check(argocd, tmp_path):
    argocd.add("guestbook")
    argocd.sim.slow_syncs("guestbook", steps=2)
    result = promote(argocd, tmp_path, to_revision(SHA_B), FakeClock())
    execution = result.step("sync")
    assert (execution.status, execution.message) == ("Succeeded", "")
    assert execution.attempts > 2
    assert execution.outputs == {"apps": [{"name": "guestbook", "namespace": "argocd"}]}
    assert execution.details["healthCheck"]["apps"] == [
        {"name": "guestbook", "namespace": "argocd", "desiredRevisions": [SHA_B]}
    ]


def test_a_sync_that_does_not_finish_times_out_after_five_minutes(argocd, tmp_path):
    argocd.add("guestbook")
    argocd.sim.start_foreign_sync("guestbook", username="admin", steps=10**6)
    clock = FakeClock()
    result = promote(argocd, tmp_path, to_revision(SHA_B), clock)
    execution = result.step("sync")
    assert execution.status == "Errored"
    assert execution.message == (
        'timed out after 5m0s: waiting for Argo CD: Argo CD Application "guestbook" in namespace '
        '"argocd": current operation was initiated by "admin": waiting for operation to complete'
    )
    assert timedelta(minutes=5) < timedelta(seconds=execution.seconds) < timedelta(minutes=6)


def test_the_step_timeout_can_be_shortened(argocd, tmp_path):
    argocd.add("guestbook")
    argocd.sim.start_foreign_sync("guestbook", steps=10**6)
    result = promote(
        argocd, tmp_path, to_revision(SHA_B), FakeClock(), timeout=timedelta(seconds=30)
    )
    assert result.step("sync").message.startswith("timed out after 30s: waiting for Argo CD")
