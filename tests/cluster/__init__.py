"""The opt-in suite that runs the simulated scenarios against a real cluster.

Every test here is marked ``cluster``. Without ``KUBECONFIG`` they are skipped; with it,
they need Argo CD and Argo Rollouts in that cluster and fail (never skip) when either is
missing. Each test makes a Project namespace of its own (``kargo-dagster-<hex>``) and
removes everything it created: the namespace, its Argo CD Applications, cluster-scoped
templates and the git branch it pushed.

Environment:

* ``KUBECONFIG``: the cluster (a kubeconfig path, or several separated by ``:``);
* ``KARGO_DAGSTER_ARGOCD_NAMESPACE``: where Argo CD and its Applications live (``argocd``);
* ``KARGO_DAGSTER_CLUSTER_GIT_URL``: a git repository as Argo CD reads it (from inside the
  cluster, e.g. ``http://gitea-http.gitea.svc:3000/kargo/cluster-tests.git``); needed by
  the scenarios that sync an Application;
* ``KARGO_DAGSTER_CLUSTER_GIT_PUSH_URL``: the same repository as this machine reaches it to
  push, credentials in the URL if it needs them
  (``http://kargo:secret@127.0.0.1:3000/kargo/cluster-tests.git``); they are handed to the
  promotion as repository credentials, never written into a manifest.

This module holds what the test modules share: the Freight, the manifests and the checks.
"""

import secrets
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

from kargo_dagster.freight import Freight, FreightOrigin, Image

ARGOCD_NAMESPACE_ENV = "KARGO_DAGSTER_ARGOCD_NAMESPACE"
GIT_URL_ENV = "KARGO_DAGSTER_CLUSTER_GIT_URL"
GIT_PUSH_URL_ENV = "KARGO_DAGSTER_CLUSTER_GIT_PUSH_URL"
ARGO = ("argoproj.io", "v1alpha1")
# The Freight's image is only a value written into the GitOps repository; nothing pulls it.
IMAGE = "registry.example.com/kargo-dagster/app"
TAG = '${{ imageFrom("' + IMAGE + '").Tag }}'
# Job metrics run this image's `true` or `false`, so the verdict is the exit status alone.
BUSYBOX = "busybox:1.36"


def unique_name(prefix: str = "kargo-dagster") -> str:
    """A name no other run of the suite uses, valid for namespaces and labels."""
    return f"{prefix}-{secrets.token_hex(4)}"


def freight(tag: str) -> Freight:
    """Freight of the Project's ``app`` Warehouse: one image at ``tag``."""
    image = Image(repo_url=IMAGE, tag=tag, digest="sha256:" + secrets.token_hex(32))
    return Freight(origin=FreightOrigin(name="app"), images=(image,))


def stage(
    project: str,
    name: str,
    steps: Sequence[Mapping[str, Any]],
    *,
    templates: Sequence[Mapping[str, str]] = (),
    args: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """A Stage taking the ``app`` Warehouse's Freight directly, verified by ``templates``."""
    spec: dict[str, Any] = {
        "requestedFreight": [
            {"origin": {"kind": "Warehouse", "name": "app"}, "sources": {"direct": True}}
        ],
        "promotionTemplate": {"spec": {"steps": [dict(s) for s in steps]}},
    }
    if templates:
        spec["verification"] = {
            "analysisTemplates": [dict(t) for t in templates],
            "args": [dict(a) for a in args],
        }
    return {
        "apiVersion": "kargo.akuity.io/v1alpha1",
        "kind": "Stage",
        "metadata": {"name": name, "namespace": project},
        "spec": spec,
    }


def job_metric(name: str, command: str) -> dict[str, Any]:
    """A ``job`` metric whose pod runs busybox ``command`` once (no retries)."""
    container = {"name": name, "image": BUSYBOX, "command": [command]}
    pod = {"restartPolicy": "Never", "containers": [container]}
    job = {"spec": {"backoffLimit": 0, "template": {"spec": pod}}}
    return {"name": name, "provider": {"job": job}}


def analysis_template(
    namespace: str | None, name: str, metrics: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """An AnalysisTemplate (a ClusterAnalysisTemplate when ``namespace`` is None) declaring
    the ``version`` argument its metrics may use."""
    metadata = {"name": name} if namespace is None else {"name": name, "namespace": namespace}
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate" if namespace is not None else "ClusterAnalysisTemplate",
        "metadata": metadata,
        "spec": {"args": [{"name": "version"}], "metrics": [dict(m) for m in metrics]},
    }


def write_manifests(directory: Path, project: str, documents: Iterable[Mapping[str, Any]]) -> Path:
    """The Project, its ``app`` Warehouse and ``documents``, as one manifest file."""
    head = [
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Project",
            "metadata": {"name": project},
        },
        {
            "apiVersion": "kargo.akuity.io/v1alpha1",
            "kind": "Warehouse",
            "metadata": {"name": "app", "namespace": project},
            "spec": {"subscriptions": [{"image": {"repoURL": IMAGE}}]},
        },
    ]
    path = directory / "stages.yaml"
    path.write_text(yaml.safe_dump_all([*head, *(dict(d) for d in documents)], sort_keys=False))
    return path


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    """The run's check evaluations by check name."""
    return {e.check_name: e for e in result.get_asset_check_evaluations()}
