"""Argo CD Applications through the Kubernetes API: the real ``kubernetes`` client against the
fake API server, which validates writes against Argo CD's CRD and answers as a cluster does."""

import socket
from collections.abc import Iterator
from typing import Any

import kubernetes
import pytest

from kargo_dagster.clients.argocd.applications import (
    ApplicationConflictError,
    ApplicationNotFoundError,
    ArgoCDError,
    label_selector,
    update_application,
)
from kargo_dagster.clients.argocd.kubernetes_api import KubernetesArgoCDApplications
from kargo_dagster.clients.kube.merge_patch import merge_patch
from kargo_dagster.testing.argocd_sim import application
from kargo_dagster.testing.kube_api import FakeKubeAPI

REPO = "https://github.com/acme/deploy.git"
TOKEN = "kube-t0ken-never-shown"


@pytest.fixture
def kube() -> Iterator[FakeKubeAPI]:
    with FakeKubeAPI() as server:
        server.add(application("guestbook", REPO, "main", labels={"env": "dev", "team": "a"}))
        server.add(application("payments", REPO, "main", labels={"env": "prod", "team": "a"}))
        server.add(application("legacy", REPO, "main", labels={"env": "dev"}))
        server.add(application("elsewhere", REPO, "main", namespace="gitops"))
        yield server


@pytest.fixture
def apps(kube) -> Iterator[KubernetesArgoCDApplications]:
    with KubernetesArgoCDApplications(kube.api_client()) as client:
        yield client


def with_token(kube: FakeKubeAPI) -> KubernetesArgoCDApplications:
    """A client sending a bearer token, as a service account's would."""
    api_client = kube.api_client()
    api_client.configuration.api_key = {"authorization": TOKEN}
    api_client.configuration.api_key_prefix = {"authorization": "Bearer"}
    return KubernetesArgoCDApplications(api_client)


def test_the_defaults_are_kargos(apps):
    assert apps.default_namespace == "argocd"
    assert apps.poll_interval == 5.0


# Reading -------------------------------------------------------------------------------------


def test_get_returns_the_application_as_stored(apps, kube):
    app = apps.get("argocd", "guestbook")
    assert app is not None
    assert app["spec"]["source"]["repoURL"] == REPO
    assert app["metadata"]["resourceVersion"]
    assert (
        kube.requests[-1].path
        == "/apis/argoproj.io/v1alpha1/namespaces/argocd/applications/guestbook"
    )


def test_get_of_a_missing_application_is_none(apps):
    assert apps.get("argocd", "nope") is None
    assert apps.get("gitops", "guestbook") is None


@pytest.mark.parametrize(
    ("selector", "names"),
    [
        ("env=dev", ["guestbook", "legacy"]),
        ("env=dev,team in (a)", ["guestbook"]),
        ("!team", ["legacy"]),
        ("team,env notin (prod)", ["guestbook"]),
        ("", ["guestbook", "legacy", "payments"]),
    ],
)
def test_list_filters_by_label_selector_in_one_namespace(apps, selector, names):
    assert [a["metadata"]["name"] for a in apps.list("argocd", selector)] == names


def test_a_cluster_without_argo_cd_is_named_as_such():
    with FakeKubeAPI(crds=[]) as bare, KubernetesArgoCDApplications(bare.api_client()) as apps:
        with pytest.raises(ArgoCDError) as caught:
            apps.get("argocd", "guestbook")
        assert not caught.value.retryable
        assert str(caught.value) == (
            "cannot get Argo CD Application 'guestbook' in namespace 'argocd': the Kubernetes "
            f"API at {bare.url} does not serve Argo CD Applications (argoproj.io/v1alpha1); is "
            "Argo CD installed there? (the server could not find the requested resource)"
        )
        with pytest.raises(ArgoCDError, match="does not serve Argo CD Applications"):
            apps.list("argocd", "env=dev")


# Writing -------------------------------------------------------------------------------------


def test_patch_applies_a_merge_patch_locked_to_a_resource_version(apps, kube):
    app = apps.get("argocd", "guestbook")
    assert app is not None
    written = apps.patch(
        "argocd",
        "guestbook",
        {
            "metadata": {"resourceVersion": app["metadata"]["resourceVersion"]},
            "spec": {"source": {"targetRevision": "v2"}},
        },
    )
    assert written["spec"]["source"] == {"repoURL": REPO, "targetRevision": "v2", "path": "."}
    assert kube.requests[-1].content_type == "application/merge-patch+json"
    with pytest.raises(ApplicationConflictError) as caught:
        apps.patch("argocd", "guestbook", {"metadata": {"resourceVersion": "1"}, "spec": {}})
    assert caught.value.status == 409
    assert caught.value.retryable


def test_patch_of_a_missing_application_says_so(apps):
    with pytest.raises(ApplicationNotFoundError) as caught:
        apps.patch("argocd", "nope", {"metadata": {"labels": {"a": "b"}}})
    assert str(caught.value) == (
        "cannot patch Argo CD Application 'nope' in namespace 'argocd': it does not exist"
    )


def test_a_patch_the_crd_rejects_is_not_retried(apps):
    with pytest.raises(ArgoCDError) as caught:
        apps.patch("argocd", "guestbook", {"spec": {"project": 7}})
    assert caught.value.status == 422
    assert not caught.value.retryable
    assert "refused to patch Argo CD Application 'guestbook' in namespace 'argocd' (422" in str(
        caught.value
    )


def test_events_are_created(apps, kube):
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "guestbook.1", "namespace": "argocd"},
        "involvedObject": {"kind": "Application", "name": "guestbook", "namespace": "argocd"},
        "reason": "OperationStarted",
        "message": "kargo-controller initiated sync to v2",
        "type": "Normal",
    }
    apps.create_event("argocd", event)
    [stored] = kube.list_objects("v1", "Event", "argocd")
    assert stored["message"] == "kargo-controller initiated sync to v2"


# The optimistic-lock loop ----------------------------------------------------------------------


def retarget(revision: str):
    def modify(app: dict[str, Any]) -> None:
        app["spec"]["source"]["targetRevision"] = revision
        app["metadata"].setdefault("annotations", {})["argocd.argoproj.io/refresh"] = "hard"

    return modify


def test_update_sends_only_the_changes_with_the_version_read(apps, kube):
    version = kube.get("argoproj.io/v1alpha1", "Application", "argocd", "guestbook")["metadata"][
        "resourceVersion"
    ]
    written = update_application(apps, "argocd", "guestbook", retarget("v3"))
    assert written["spec"]["source"]["targetRevision"] == "v3"
    assert kube.requests[-1].body == {
        "metadata": {
            "annotations": {"argocd.argoproj.io/refresh": "hard"},
            "resourceVersion": version,
        },
        "spec": {"source": {"targetRevision": "v3"}},
    }


def test_update_reads_again_after_a_conflict(apps, kube):
    kube.fail_next("patch", "applications", "guestbook", code=409, times=4)
    sleeps: list[float] = []
    update_application(apps, "argocd", "guestbook", retarget("v4"), sleep=sleeps.append)
    patches = [r.status for r in kube.requests if r.method == "PATCH"]
    assert patches == [409, 409, 409, 409, 200]
    assert sleeps == [0.01] * 4


def test_update_gives_up_after_five_conflicts(apps, kube):
    kube.fail_next("patch", "applications", "guestbook", code=409, times=5)
    with pytest.raises(ApplicationConflictError):
        update_application(apps, "argocd", "guestbook", retarget("v5"), sleep=lambda s: None)
    assert (
        kube.get("argoproj.io/v1alpha1", "Application", "argocd", "guestbook")["spec"]["source"][
            "targetRevision"
        ]
        == "main"
    )


def test_update_of_a_missing_application_says_so(apps):
    with pytest.raises(ApplicationNotFoundError):
        update_application(apps, "argocd", "nope", retarget("v1"))


# Failures ------------------------------------------------------------------------------------


def test_an_unreachable_api_is_retryable_and_says_where():
    with FakeKubeAPI() as gone:
        apps = with_token(gone)
    with pytest.raises(ArgoCDError) as caught:
        apps.get("argocd", "guestbook")
    assert caught.value.retryable
    assert str(caught.value) == (
        f"cannot reach the Kubernetes API at {gone.url} to get Argo CD Application "
        "'guestbook' in namespace 'argocd': Connection refused"
    )


@pytest.mark.parametrize(
    ("code", "reason", "retry_after"),
    [
        (500, "500 Internal Server Error", None),
        (503, "503 Service Unavailable", None),
        (429, "429 Too Many Requests", 1.0),
    ],
)
def test_server_errors_and_throttling_are_retryable(kube, code, reason, retry_after):
    apps = with_token(kube)
    kube.fail_next("list", "applications", code=code)
    with pytest.raises(ArgoCDError) as caught:
        apps.list("argocd", "env=dev")
    assert caught.value.retryable
    assert caught.value.status == code
    assert caught.value.retry_after == retry_after
    assert str(caught.value).startswith(
        f"the Kubernetes API at {kube.url} refused to list Argo CD Applications in namespace "
        f"'argocd' ({reason})"
    )


@pytest.mark.parametrize(("code", "reason"), [(401, "Unauthorized"), (403, "Forbidden")])
def test_refusals_are_not_retryable_and_never_show_the_token(kube, code, reason):
    apps = with_token(kube)
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "message": 'applications.argoproj.io "guestbook" is forbidden: User "system:anonymous" '
        'cannot get resource "applications"',
        "reason": reason,
        "code": code,
    }
    kube.fail_next("get", "applications", code=code, body=body)
    with pytest.raises(ArgoCDError) as caught:
        apps.get("argocd", "guestbook")
    assert not caught.value.retryable
    assert caught.value.status == code
    # The API's own message is kept: it says who was refused what.
    assert str(caught.value) == (
        f"the Kubernetes API at {kube.url} refused to get Argo CD Application 'guestbook' in "
        f"namespace 'argocd' ({code} {reason}): {body['message']}"
    )
    assert TOKEN not in str(caught.value)


def test_credentials_in_the_api_address_are_masked():
    with FakeKubeAPI() as gone:
        api_client = gone.api_client()
    api_client.configuration.host = gone.url.replace("http://", f"http://kargo:{TOKEN}@")
    apps = KubernetesArgoCDApplications(api_client)
    with pytest.raises(ArgoCDError) as caught:
        apps.get("argocd", "guestbook")
    assert TOKEN not in str(caught.value)
    assert "http://kargo:xxxxx@127.0.0.1" in str(caught.value)


def test_an_api_that_does_not_answer_times_out():
    with socket.socket() as silent:
        # Connections are accepted by the kernel, but nobody ever answers.
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        configuration = kubernetes.client.Configuration()
        configuration.host = f"http://127.0.0.1:{silent.getsockname()[1]}"
        apps = KubernetesArgoCDApplications(
            kubernetes.client.ApiClient(configuration), request_timeout=0.2
        )
        with pytest.raises(ArgoCDError) as caught:
            apps.list("argocd", "")
    assert caught.value.retryable
    assert str(caught.value).endswith(
        "to list Argo CD Applications in namespace 'argocd': the request timed out"
    )


# Selectors and patches -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "expressions", "expected"),
    [
        ({"env": "dev"}, [], "env=dev"),
        (
            {"team": "a", "app.kubernetes.io/name": "gb"},
            [("env", "In", ["test", "dev", "dev"]), ("legacy", "DoesNotExist", [])],
            "app.kubernetes.io/name=gb,env in (dev,test),!legacy,team=a",
        ),
        (None, [("tier", "NotIn", ["db"]), ("owner", "Exists", [])], "owner,tier notin (db)"),
    ],
)
def test_label_selectors_are_written_as_kubernetes_writes_them(labels, expressions, expected):
    assert label_selector(labels, expressions) == expected


@pytest.mark.parametrize(
    ("labels", "expressions", "problem"),
    [
        ({}, [], "selector must have at least one match criterion"),
        ({"env": "a b"}, [], "invalid matchLabel env=a b: label value 'a b' must consist of"),
        ({"-env": "dev"}, [], "invalid matchLabel -env=dev: label key '-env': name part"),
        ({"Acme.io/env": "dev"}, [], "prefix part must be a lowercase DNS subdomain"),
        (None, [("env", "In", [])], "values set can't be empty"),
        (None, [("env", "Exists", ["x"])], "values set must be empty"),
        (None, [("env", "Near", ["x"])], "invalid operator: Near"),
        ({"env": "x" * 64}, [], "must be no more than 63 characters"),
    ],
)
def test_invalid_label_selectors_are_refused(labels, expressions, problem):
    with pytest.raises(ValueError, match=problem.replace("(", r"\(")):
        label_selector(labels, expressions)


@pytest.mark.parametrize(
    ("original", "modified", "patch"),
    [
        ({"a": 1}, {"a": 1}, {}),
        ({"a": 1, "b": 2}, {"a": 1}, {"b": None}),
        ({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}}, {"a": {"c": 3}}),
        ({"a": [1, 2]}, {"a": [1]}, {"a": [1]}),
        ({"a": {"b": 1}}, {"a": None}, {"a": None}),
        ({}, {"a": None}, {}),
        ({"a": "x"}, {"a": {"b": 1}}, {"a": {"b": 1}}),
    ],
)
def test_merge_patches_carry_only_the_differences(original, modified, patch):
    assert merge_patch(original, modified) == patch
