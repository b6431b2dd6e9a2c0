"""Recorded Argo CD Applications replay through the fake API server unchanged.

The fixtures (see tests/fixtures/argocd/README.md) were written by real Argo CD
controllers and API servers; the bundled v3.5.1 Application CRD must accept them and the
server must hand them back as they were.
"""

import copy
import json
from pathlib import Path

import pytest
import yaml

from kargo_dagster.testing.argocd_sim import application

FIXTURES = Path(__file__).parent.parent / "fixtures" / "argocd"
APPS = ("argoproj.io", "v1alpha1")
TYPE_META = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application"}


def recorded(name: str) -> dict:
    text = (FIXTURES / name).read_text()
    obj = json.loads(text) if name.endswith(".json") else yaml.safe_load(text)
    # Argo CD's REST API leaves out apiVersion and kind; the Kubernetes API has them.
    return {**TYPE_META, **obj}


@pytest.mark.parametrize(
    "name",
    [
        "argo-cd__controller__testdata__diff-cache.yaml",
        "argo-cd__controller__testdata__live-child-application.yaml",
        "roadie__e2e__applications-test-app.json",
        "roadie__argocd-node__syncResp.json",
    ],
)
def test_recorded_applications_are_served_as_recorded(kube, custom, name):
    app = recorded(name)
    kube.add(app)
    meta = app["metadata"]
    served = custom.get_namespaced_custom_object(
        *APPS, meta["namespace"], "applications", meta["name"]
    )
    expected = copy.deepcopy(app)
    expected["metadata"]["resourceVersion"] = served["metadata"]["resourceVersion"]
    expected["metadata"].setdefault("uid", served["metadata"]["uid"])
    expected["metadata"].setdefault("creationTimestamp", served["metadata"]["creationTimestamp"])
    expected["metadata"].setdefault("generation", 1)
    assert served == expected
    assert kube.store.warnings == []


@pytest.mark.parametrize("health", ["healthy", "degraded"])
def test_recorded_health_status_fits_an_application(kube, health):
    status = yaml.safe_load(
        (FIXTURES / f"argo-cd__gitops-engine__health__application-{health}.yaml").read_text()
    )["status"]
    app = application("guestbook", "https://github.com/acme/deploy.git")
    stored = kube.add({**app, "status": status})
    assert stored["status"]["health"]["status"] == health.capitalize()
