"""Argo CD ``Application`` manifests, and what the Argo CD simulator reads from their spec.

:func:`application` writes an ``argoproj.io/v1alpha1`` Application as a user would, for
tests and demos to store in a :class:`~kargo_dagster.testing.kube_api.FakeKubeAPI`. The
other helpers derive what the simulated controller compares and reports from the spec:
the app's sources (:func:`app_sources`), ``status.sync.comparedTo``
(:func:`compared_to`) and the resources it deploys (:func:`managed_resources`).
"""

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "APPLICATION_FINALIZERS",
    "AUTHORIZED_STAGE_ANNOTATION",
    "REFRESH_ANNOTATION",
    "app_sources",
    "application",
    "compared_to",
    "managed_resources",
]

REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
AUTHORIZED_STAGE_ANNOTATION = "kargo.akuity.io/authorized-stage"
APPLICATION_FINALIZERS = (
    "resources-finalizer.argocd.argoproj.io",
    "resources-finalizer.argocd.argoproj.io/background",
    "resources-finalizer.argocd.argoproj.io/foreground",
    "post-delete-finalizer.argoproj.io",
)


def application(
    name: str,
    repo_url: str,
    target_revision: str = "HEAD",
    *,
    namespace: str = "argocd",
    path: str = ".",
    chart: str | None = None,
    sources: Sequence[Mapping[str, Any]] | None = None,
    project: str = "default",
    destination_namespace: str | None = None,
    authorized_stage: str | None = None,
    labels: Mapping[str, str] | None = None,
    sync_policy: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An ``argoproj.io/v1alpha1`` Application manifest, as a user would write one.

    Args:
        name: ``metadata.name``.
        repo_url: The single source's ``repoURL`` (ignored when ``sources`` is given).
        target_revision: The single source's ``targetRevision``.
        namespace: Where the Application lives (Argo CD's namespace).
        path: The single source's ``path`` (not set for a chart).
        chart: A Helm chart name; the source is then a chart repository.
        sources: Sources of a multi-source app (``spec.sources``), instead of one source.
        project: ``spec.project``.
        destination_namespace: ``spec.destination.namespace`` (default: ``name``).
        authorized_stage: ``kargo.akuity.io/authorized-stage`` (``project:stage``), which
            Kargo requires before it updates the app.
        labels: ``metadata.labels``.
        sync_policy: ``spec.syncPolicy``.
    """
    metadata: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        metadata["labels"] = dict(labels)
    if authorized_stage:
        metadata["annotations"] = {AUTHORIZED_STAGE_ANNOTATION: authorized_stage}
    spec: dict[str, Any] = {
        "project": project,
        "destination": {
            "server": "https://kubernetes.default.svc",
            "namespace": destination_namespace or name,
        },
    }
    if sources is not None:
        spec["sources"] = [dict(s) for s in sources]
    else:
        source: dict[str, Any] = {"repoURL": repo_url, "targetRevision": target_revision}
        if chart:
            source["chart"] = chart
        else:
            source["path"] = path
        spec["source"] = source
    if sync_policy is not None:
        spec["syncPolicy"] = dict(sync_policy)
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": metadata,
        "spec": spec,
    }


def app_sources(spec: Mapping[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The app's sources and whether it is a multi-source app."""
    if spec.get("sources"):
        return [dict(s) for s in spec["sources"]], True
    return ([dict(spec["source"])] if spec.get("source") else []), False


def compared_to(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``status.sync.comparedTo`` for a spec: its sources and destination."""
    sources, multi = app_sources(spec)
    compared: dict[str, Any] = {"destination": dict(spec.get("destination") or {})}
    if multi:
        compared["sources"] = sources
    elif sources:
        compared["source"] = sources[0]
    return compared


def managed_resources(app: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources the simulated app deploys: one Deployment named after the app."""
    destination = app["spec"].get("destination") or {}
    return [
        {
            "group": "apps",
            "version": "v1",
            "kind": "Deployment",
            "namespace": destination.get("namespace", ""),
            "name": app["metadata"]["name"],
        }
    ]
