"""Kargo and Argo Rollouts manifests for tests, built as plain dicts.

Each function returns one document (or one part of one); ``write_manifests`` writes the
documents as the YAML file that ``load_definitions`` and ``load_manifests`` read.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

KARGO = "kargo.akuity.io/v1alpha1"
ROLLOUTS = "argoproj.io/v1alpha1"

Document = dict[str, Any]


def image_tag(repo_url: str) -> str:
    """The expression a promotion step uses for the tag of the Freight's ``repo_url`` image."""
    return '${{ imageFrom("' + repo_url + '").Tag }}'


def project(name: str) -> Document:
    """A Project; its namespace has the same name."""
    return {"apiVersion": KARGO, "kind": "Project", "metadata": {"name": name}}


def project_config(project: str, *, auto_promote: Sequence[str] = ()) -> Document:
    """A ProjectConfig enabling auto-promotion for Stages matching each ``auto_promote``
    selector (a Stage name, or ``glob:``/``regex:`` pattern)."""
    policies = [{"stageSelector": {"name": s}, "autoPromotionEnabled": True} for s in auto_promote]
    return {
        "apiVersion": KARGO,
        "kind": "ProjectConfig",
        "metadata": {"name": project, "namespace": project},
        "spec": {"promotionPolicies": policies},
    }


def warehouse(
    name: str,
    namespace: str,
    *,
    image: str | None = None,
    subscriptions: Sequence[Mapping[str, Any]] = (),
    **spec: Any,
) -> Document:
    """A Warehouse subscribed to the ``image`` repository, then to ``subscriptions`` (each
    ``{"git": {...}}``, ``{"chart": {...}}``…), with other ``spec`` fields as given
    (``interval="5s"``, ``freightCreationPolicy="Manual"``)."""
    subscribed = [{"image": {"repoURL": image}}] if image is not None else []
    subscribed += [dict(s) for s in subscriptions]
    return {
        "apiVersion": KARGO,
        "kind": "Warehouse",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {**spec, "subscriptions": subscribed},
    }


def requested(warehouse: str, *, stages: Sequence[str] = ()) -> dict[str, Any]:
    """A Stage's request for ``warehouse``'s Freight: from those ``stages`` once verified
    there, or straight from the Warehouse without them."""
    sources = {"stages": list(stages)} if stages else {"direct": True}
    return {"origin": {"kind": "Warehouse", "name": warehouse}, "sources": sources}


def step(uses: str, **config: Any) -> dict[str, Any]:
    """A promotion step."""
    return {"uses": uses, "config": config}


def verification(
    *templates: str | Mapping[str, str], args: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A Stage's verification: AnalysisTemplates by name (or as references, for a
    ClusterAnalysisTemplate) and the ``args`` passed to them."""
    references = [{"name": t} if isinstance(t, str) else dict(t) for t in templates]
    return {
        "analysisTemplates": references,
        "args": [{"name": name, "value": value} for name, value in (args or {}).items()],
    }


def stage(
    name: str,
    namespace: str,
    *,
    requested: Sequence[Mapping[str, Any]],
    steps: Sequence[Mapping[str, Any]] = (),
    verification: Mapping[str, Any] | None = None,
) -> Document:
    """A Stage; without ``steps`` it has no promotion template, without ``verification`` no
    verification."""
    spec: dict[str, Any] = {"requestedFreight": [dict(r) for r in requested]}
    if steps:
        spec["promotionTemplate"] = {"spec": {"steps": [dict(s) for s in steps]}}
    if verification is not None:
        spec["verification"] = dict(verification)
    return {
        "apiVersion": KARGO,
        "kind": "Stage",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


def job_metric(
    name: str,
    image: str,
    *,
    command: Sequence[str] = (),
    container: str | None = None,
    env: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A ``job`` metric: one pod running ``image`` once, with no retries.

    Its container is named ``container``, or after the metric; ``labels`` go on the Job.
    """
    spec: dict[str, Any] = {"name": container or name, "image": image}
    if command:
        spec["command"] = list(command)
    if env:
        spec["env"] = [{"name": key, "value": value} for key, value in env.items()]
    pod = {"restartPolicy": "Never", "containers": [spec]}
    job: dict[str, Any] = {"metadata": {"labels": dict(labels)}} if labels else {}
    job["spec"] = {"backoffLimit": 0, "template": {"spec": pod}}
    return {"name": name, "provider": {"job": job}}


def smoke_metric(url: str) -> dict[str, Any]:
    """A ``web`` metric asking ``url``'s ``/healthz?v=<version>`` and passing when the
    answer's ``status`` is ``ok``; its template takes the Freight's tag as ``version``."""
    web = {"jsonPath": "{$.status}", "url": url + "/healthz?v={{args.version}}"}
    return {"name": "up", "successCondition": 'result == "ok"', "provider": {"web": web}}


def analysis_template(
    name: str, namespace: str, *metrics: Mapping[str, Any], args: Sequence[str] = ()
) -> Document:
    """An AnalysisTemplate declaring ``args`` for its ``metrics`` to use."""
    return {
        "apiVersion": ROLLOUTS,
        "kind": "AnalysisTemplate",
        "metadata": {"name": name, "namespace": namespace},
        "spec": _analysis_spec(metrics, args),
    }


def cluster_analysis_template(
    name: str, *metrics: Mapping[str, Any], args: Sequence[str] = ()
) -> Document:
    """A ClusterAnalysisTemplate declaring ``args`` for its ``metrics`` to use."""
    return {
        "apiVersion": ROLLOUTS,
        "kind": "ClusterAnalysisTemplate",
        "metadata": {"name": name},
        "spec": _analysis_spec(metrics, args),
    }


def _analysis_spec(metrics: Sequence[Mapping[str, Any]], args: Sequence[str]) -> dict[str, Any]:
    spec: dict[str, Any] = {"args": [{"name": a} for a in args]} if args else {}
    return {**spec, "metrics": [dict(m) for m in metrics]}


def manifests_yaml(*documents: Mapping[str, Any]) -> str:
    """``documents`` as one multi-document YAML stream, what a manifest file holds."""
    # Unsorted, so the file reads in the usual apiVersion, kind, metadata, spec order.
    return yaml.safe_dump_all([dict(d) for d in documents], sort_keys=False)


def write_manifests(path: Path, *documents: Mapping[str, Any]) -> Path:
    """Write ``documents`` to ``path`` as one multi-document manifest file; return ``path``."""
    path.write_text(manifests_yaml(*documents))
    return path


def verified_stage_manifests(path: Path, repo_url: str, metric: Mapping[str, Any]) -> Path:
    """Project ``shop`` with Warehouse ``app`` (image ``repo_url``) and Stage ``dev``, verified
    by AnalysisTemplate ``smoke`` measuring ``metric`` with the Freight's tag as ``version``."""
    return write_manifests(
        path,
        project("shop"),
        warehouse("app", "shop", image=repo_url),
        analysis_template("smoke", "shop", metric, args=["version"]),
        stage(
            "dev",
            "shop",
            requested=[requested("app")],
            steps=[step("compose-output", image=image_tag(repo_url))],
            verification=verification("smoke", args={"version": image_tag(repo_url)}),
        ),
    )
