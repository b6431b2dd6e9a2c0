"""The Argo CD REST transport: the same steps, through Argo CD's own API and a token."""

from collections.abc import Iterator

import pytest

from kargo_dagster.clients.argocd.applications import (
    ApplicationConflictError,
    ApplicationNotFoundError,
    ArgoCDError,
)
from kargo_dagster.clients.argocd.rest_api import RestArgoCDApplications
from kargo_dagster.promotion.steps.argocd.update import STEP
from kargo_dagster.testing.argocd_rest_api import ArgoCDRestAPI
from kargo_dagster.testing.argocd_sim import ArgoCDSimulator
from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.testing.registry import free_port
from tests.promotion.steps.argocd_support import (
    REPO,
    SHA_A,
    SHA_B,
    ArgoCD,
    Clock,
    drive,
)

TOKEN = "argocd-api-t0ken-never-shown"


@pytest.fixture
def rest() -> Iterator[tuple[ArgoCD, ArgoCDRestAPI]]:
    with FakeKubeAPI(clock=Clock()) as kube, ArgoCDRestAPI(kube, token=TOKEN) as api:
        sim = ArgoCDSimulator(kube)
        sim.set_revision(REPO, "main", SHA_A)
        with RestArgoCDApplications(api.url, TOKEN, poll_interval=10.0) as client:
            yield ArgoCD(kube, sim, client), api  # type: ignore[arg-type]


def to_revision(revision: str) -> dict:
    source = {"repoURL": REPO, "desiredRevision": revision, "updateTargetRevision": True}
    return {"apps": [{"name": "guestbook", "sources": [source]}]}


def test_argocd_update_syncs_through_the_rest_api(rest, tmp_path):
    argocd, api = rest
    argocd.add("guestbook")
    ctx = argocd.context(tmp_path)
    argocd.sim.set_revision(REPO, SHA_B, SHA_B)
    output = drive(STEP, ctx, to_revision(SHA_B), argocd.sim)
    assert output["apps"] == [{"name": "guestbook", "namespace": "argocd"}]
    app = argocd.app("guestbook")
    assert app["spec"]["source"]["targetRevision"] == SHA_B
    state = app["status"]["operationState"]
    assert state["phase"] == "Succeeded"
    assert state["syncResult"]["revision"] == SHA_B
    # Argo CD starts the sync as the token's account, with Kargo's info entries.
    assert state["operation"]["initiatedBy"] == {"username": "kargo"}
    assert {"name": "kargo.akuity.io/promotion", "value": ctx.promotion.name} in state["operation"][
        "info"
    ]
    calls = [(method, path) for method, path in api.requests if method != "GET"]
    assert calls == [
        ("PATCH", "/api/v1/applications/guestbook"),
        ("POST", "/api/v1/applications/guestbook/sync"),
    ]
    assert argocd.events() == []  # Argo CD's API records its own


def test_a_sync_while_another_operation_runs_is_a_conflict_to_retry(rest):
    argocd, _ = rest
    argocd.add("guestbook")
    argocd.sim.start_foreign_sync("guestbook")
    with pytest.raises(ApplicationConflictError, match="another operation is already in progress"):
        argocd.client.patch("argocd", "guestbook", {"operation": {"sync": {}}})


def test_a_missing_application_is_reported_as_missing_or_not_permitted(rest):
    argocd, _ = rest
    with pytest.raises(ApplicationNotFoundError, match="missing or the token may not") as caught:
        argocd.client.get("argocd", "nowhere")
    assert caught.value.retryable


def test_a_refused_token_is_not_shown(rest):
    argocd, api = rest
    argocd.add("guestbook")
    with RestArgoCDApplications(api.url, "wrong-" + TOKEN) as client:
        with pytest.raises(ArgoCDError) as caught:
            client.list("argocd", "app=guestbook")
    message = str(caught.value)
    assert "answered 401" in message
    assert TOKEN not in message
    assert not caught.value.retryable


def test_an_unreachable_api_is_an_error_to_retry():
    url = f"http://127.0.0.1:{free_port()}"
    with RestArgoCDApplications(url, TOKEN, request_timeout=2) as client:
        with pytest.raises(ArgoCDError) as caught:
            client.get("argocd", "guestbook")
    assert caught.value.retryable
    assert f"cannot reach the Argo CD API at {url}" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_lists_by_selector_sorted_by_name(rest):
    argocd, _ = rest
    for name in ("b-app", "a-app"):
        argocd.add(name, labels={"team": "web"})
    argocd.add("other", labels={"team": "data"})
    names = [a["metadata"]["name"] for a in argocd.client.list("argocd", "team=web")]
    assert names == ["a-app", "b-app"]
