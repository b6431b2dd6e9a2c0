"""``argocd-wait`` against the fake Kubernetes API server and the Argo CD simulator."""

from collections.abc import Iterator
from datetime import timedelta

import pytest

from kargo_dagster.clients.argocd.kubernetes_api import KubernetesArgoCDApplications
from kargo_dagster.errors import RetryableStepError, StepPendingError, TerminalStepError
from kargo_dagster.promotion.builtin import builtin_registry
from kargo_dagster.promotion.engine import PromotionServices, run_promotion
from kargo_dagster.promotion.expansion import PlannedStep
from kargo_dagster.promotion.steps.argocd import update as argocd_update
from kargo_dagster.promotion.steps.argocd.wait import STEP
from kargo_dagster.testing.kube_api import FakeKubeAPI
from tests.promotion.engine_support import FakeClock
from tests.promotion.steps.argocd_support import (
    REPO,
    SHA_B,
    ArgoCD,
    argocd_environment,
    drive,
    run_once,
)


@pytest.fixture
def argocd() -> Iterator[ArgoCD]:
    with argocd_environment() as environment:
        yield environment


def synced(argocd: ArgoCD, tmp_path, name: str = "guestbook", **extra) -> None:
    """``name`` deployed at SHA_B by argocd-update, and Healthy."""
    argocd.add(name, **extra)
    source = {"repoURL": REPO, "desiredRevision": SHA_B, "updateTargetRevision": True}
    config = {"apps": [{"name": name, "sources": [source]}]}
    drive(argocd_update.STEP, argocd.context(tmp_path / "update"), config, argocd.sim)
    argocd.sim.settle()


def test_a_healthy_synced_app_is_ready_at_once(argocd, tmp_path):
    synced(argocd, tmp_path)
    outputs = run_once(STEP, argocd.context(tmp_path), {"apps": [{"name": "guestbook"}]})
    assert outputs == {
        "apps": [{"name": "guestbook", "namespace": "argocd"}],
        "healthStatus": {"argocd/guestbook": "Healthy"},
    }


def test_the_step_waits_for_a_sync_in_progress_and_the_health_after_it(argocd, tmp_path):
    argocd.add("guestbook")
    argocd.sim.slow_syncs("guestbook", steps=2)
    source = {"repoURL": REPO, "desiredRevision": SHA_B, "updateTargetRevision": True}
    with pytest.raises(StepPendingError):
        run_once(
            argocd_update.STEP,
            argocd.context(tmp_path / "update"),
            {"apps": [{"name": "guestbook", "sources": [source]}]},
        )
    ctx = argocd.context(tmp_path)
    config = {"apps": [{"name": "guestbook"}]}
    reasons: list[str] = []
    delays: set[float] = set()
    for _ in range(30):
        try:
            outputs = run_once(STEP, ctx, config)
            break
        except StepPendingError as waiting:
            reasons.append(str(waiting).partition('"argocd": ')[2])
            delays.add(waiting.retry_after)
            argocd.sim.step()
    else:
        pytest.fail("argocd-wait never finished")
    assert outputs["healthStatus"] == {"argocd/guestbook": "Healthy"}
    assert reasons[0] == "operation is in progress"
    # After the sync Argo CD reports Progressing until the app is Healthy.
    assert "health is Progressing" in reasons
    assert delays == {argocd.client.poll_interval}


def test_health_assessed_before_the_last_operation_is_not_trusted(argocd, tmp_path):
    synced(argocd, tmp_path)
    argocd.sim.stall_refresh("guestbook")
    argocd.sim.start_foreign_sync("guestbook", steps=0)
    argocd.sim.settle()
    app = argocd.app("guestbook")
    assert app["status"]["reconciledAt"] < app["status"]["operationState"]["finishedAt"]
    patches_before = len(argocd.writes("guestbook"))

    with pytest.raises(StepPendingError) as waiting:
        run_once(STEP, argocd.context(tmp_path), {"apps": [{"name": "guestbook"}]})

    assert "not yet reconciled after its last operation, health status not trusted" in str(
        waiting.value
    )
    # A hard refresh is requested, as Kargo does.
    [refresh] = argocd.writes("guestbook")[patches_before:]
    assert refresh.body == {"metadata": {"annotations": {"argocd.argoproj.io/refresh": "hard"}}}
    argocd.sim.resume_refresh("guestbook")
    argocd.sim.settle()
    assert run_once(STEP, argocd.context(tmp_path), {"apps": [{"name": "guestbook"}]})


def test_an_app_turning_degraded_fails_the_step(argocd, tmp_path):
    synced(argocd, tmp_path)
    argocd.sim.set_health("guestbook", status="Progressing")
    ctx = argocd.context(tmp_path)
    config = {"apps": [{"name": "guestbook"}]}
    with pytest.raises(StepPendingError):
        run_once(STEP, ctx, config)
    argocd.sim.set_health("guestbook", status="Degraded", message="Deployment exceeded deadline")
    with pytest.raises(TerminalStepError) as caught:
        run_once(STEP, ctx, config)
    assert str(caught.value) == (
        'Argo CD Application "guestbook" in namespace "argocd" health has regressed from '
        "Progressing to Degraded"
    )


def test_an_app_degraded_from_the_start_is_waited_for(argocd, tmp_path):
    synced(argocd, tmp_path)
    argocd.sim.set_health("guestbook", status="Degraded")
    with pytest.raises(StepPendingError, match="health is Degraded"):
        run_once(STEP, argocd.context(tmp_path), {"apps": [{"name": "guestbook"}]})


@pytest.mark.parametrize(
    ("health", "wait_for", "ready"),
    [
        ("Suspended", ["suspended"], True),
        ("Suspended", ["health"], False),
        ("Suspended", ["health", "suspended"], True),
        ("Degraded", ["degraded"], True),
        ("Degraded", ["sync"], True),
        ("Healthy", ["suspended", "operation"], False),
    ],
)
def test_wait_for_picks_the_conditions(argocd, tmp_path, health, wait_for, ready):
    synced(argocd, tmp_path)
    argocd.sim.set_health("guestbook", status=health)
    config = {"apps": [{"name": "guestbook", "waitFor": wait_for}]}
    if ready:
        assert run_once(STEP, argocd.context(tmp_path), config)["apps"]
    else:
        with pytest.raises(StepPendingError, match=f"health is {health}"):
            run_once(STEP, argocd.context(tmp_path), config)


def test_an_out_of_sync_app_is_waited_for(argocd, tmp_path):
    synced(argocd, tmp_path)
    # Someone points the app elsewhere; Argo CD notices, nobody syncs.
    app = argocd.app("guestbook")
    app["spec"]["source"]["targetRevision"] = "stage"
    argocd.sim.set_revision(REPO, "stage", "e" * 40)
    argocd.kube.add(app)
    argocd.sim.settle()
    with pytest.raises(StepPendingError, match="sync status is OutOfSync"):
        run_once(STEP, argocd.context(tmp_path), {"apps": [{"name": "guestbook"}]})
    config = {"apps": [{"name": "guestbook", "waitFor": ["health"]}]}
    assert run_once(STEP, argocd.context(tmp_path), config)["apps"]


def test_an_app_with_a_comparison_error_fails_the_step(argocd, tmp_path):
    argocd.add("guestbook", target="no-such-branch")
    with pytest.raises(TerminalStepError) as caught:
        run_once(STEP, argocd.context(tmp_path), {"apps": [{"name": "guestbook"}]})
    assert str(caught.value).startswith(
        'Argo CD Application "guestbook" in namespace "argocd" has "ComparisonError" condition: '
        "Failed to load target state"
    )


def test_apps_matching_a_selector_are_all_waited_for(argocd, tmp_path):
    synced(argocd, tmp_path, "a", labels={"team": "x"})
    synced(argocd, tmp_path, "b", labels={"team": "x"})
    # No authorization annotation is needed to wait.
    app = argocd.app("a")
    del app["metadata"]["annotations"]["kargo.akuity.io/authorized-stage"]
    argocd.kube.add(app)
    argocd.sim.set_health("b", status="Progressing")
    config = {"apps": [{"selector": {"matchLabels": {"team": "x"}}, "waitFor": ["health"]}]}
    with pytest.raises(StepPendingError) as waiting:
        run_once(STEP, argocd.context(tmp_path), config)
    assert str(waiting.value) == (
        'waiting for Argo CD: Argo CD Application "b" in namespace "argocd": health is Progressing'
    )
    argocd.sim.set_health("b", status="Healthy")
    outputs = run_once(STEP, argocd.context(tmp_path), config)
    assert outputs["apps"] == [
        {"name": "a", "namespace": "argocd"},
        {"name": "b", "namespace": "argocd"},
    ]


def test_missing_apps_are_errors_to_retry(argocd, tmp_path):
    with pytest.raises(RetryableStepError) as caught:
        run_once(STEP, argocd.context(tmp_path), {"apps": [{"name": "nope", "namespace": "x"}]})
    assert str(caught.value) == 'unable to find Argo CD Application "nope" in namespace "x"'
    with pytest.raises(RetryableStepError) as caught:
        run_once(
            STEP, argocd.context(tmp_path), {"apps": [{"selector": {"matchLabels": {"a": "b"}}}]}
        )
    assert str(caught.value) == (
        'no Argo CD Applications found matching selector in namespace "argocd"'
    )


def test_an_unreachable_api_is_an_error_to_retry(argocd, tmp_path):
    with FakeKubeAPI() as gone:
        client = gone.api_client()
    ctx = argocd.context(tmp_path, argocd=KubernetesArgoCDApplications(client))
    with pytest.raises(RetryableStepError, match="Connection refused"):
        run_once(STEP, ctx, {"apps": [{"name": "guestbook"}]})


def test_no_argocd_connection_fails_saying_how_to_configure_one(argocd, tmp_path):
    with pytest.raises(TerminalStepError, match="the argocd-wait step needs a connection"):
        run_once(STEP, argocd.context(tmp_path, argocd=None), {"apps": [{"name": "guestbook"}]})


def test_an_app_that_never_gets_healthy_times_out_after_five_minutes(argocd, tmp_path):
    synced(argocd, tmp_path)
    argocd.sim.set_health("guestbook", status="Progressing")
    clock = FakeClock()
    ctx = argocd.context(tmp_path)
    result = run_promotion(
        steps=[
            PlannedStep(alias="wait", uses="argocd-wait", config={"apps": [{"name": "guestbook"}]})
        ],
        registry=builtin_registry(),
        promotion=ctx.promotion,
        services=PromotionServices(argocd=argocd.client),
        work_root=tmp_path / "promotions",
        clock=clock,
        sleep=clock.sleep,
    )
    execution = result.step("wait")
    assert execution.status == "Errored"
    assert execution.message == (
        'timed out after 5m0s: waiting for Argo CD: Argo CD Application "guestbook" in '
        'namespace "argocd": health is Progressing'
    )
    assert timedelta(seconds=execution.seconds) > timedelta(minutes=5)
