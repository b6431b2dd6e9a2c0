"""Applying ``argocd-update``'s source updates to an Argo CD Application's sources.

Each update is aimed at the source with its ``repoURL`` (and ``chart``): for Helm chart
sources both must match exactly; for git sources the URLs are compared normalised. An
update sets ``targetRevision`` (when ``updateTargetRevision``), the kustomize images (the
whole list, ``repo[=newName]:tag`` or ``@digest``) and Helm parameters (upserted by name).
The desired revisions the Stage's health check later compares against are matched as Kargo
matches them: on the exact ``repoURL`` and ``chart``.
"""

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from kargo_dagster.errors import TerminalStepError
from kargo_dagster.promotion.steps.argocd.connection import app_ref, go_quote
from kargo_dagster.promotion.steps.argocd.messages import describe_application
from kargo_dagster.promotion.steps.argocd.update_config import (
    AppUpdate,
    KustomizeImageUpdate,
    SourceUpdate,
)
from kargo_dagster.urls import normalize_git_url

__all__ = [
    "application_sources",
    "build_desired_sources",
    "check_applicable",
    "desired_revisions",
]


def application_sources(app: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The app's sources: ``spec.sources``, else ``[spec.source]``."""
    spec = app.get("spec") or {}
    if spec.get("sources"):
        return [dict(s) for s in spec["sources"]]
    return [dict(spec["source"])] if spec.get("source") else []


def _source_update_for(update: AppUpdate, source: Mapping[str, Any]) -> SourceUpdate | None:
    # Kargo matches desired revisions on the exact repoURL and chart (no normalising).
    for candidate in update.sources or []:
        if candidate.repo_url == source.get("repoURL", "") and (candidate.chart or "") == (
            source.get("chart") or ""
        ):
            return candidate
    return None


def desired_revisions(update: AppUpdate, app: Mapping[str, Any]) -> list[str]:
    """Per source of the app, the ``desiredRevision`` of the update aimed at it, else ``""``."""
    revisions: list[str] = []
    for source in application_sources(app):
        found = _source_update_for(update, source)
        revisions.append((found.desired_revision or "") if found else "")
    return revisions


def _kustomize_image(image: KustomizeImageUpdate) -> str:
    text = image.repo_url
    if image.new_name:
        text = f"{text}={image.new_name}"
    if image.digest:
        return f"{text}@{image.digest}"
    return f"{text}:{image.tag or ''}"


def _apply_source_update(
    update: SourceUpdate, desired_revision: str, source: dict[str, Any]
) -> bool:
    """Apply ``update`` to ``source`` in place if it is aimed at it; whether it was."""
    chart = update.chart or ""
    if source.get("chart") or chart:
        if source.get("repoURL", "") != update.repo_url or (source.get("chart") or "") != chart:
            return False
    elif normalize_git_url(str(source.get("repoURL", ""))) != normalize_git_url(update.repo_url):
        return False
    if update.update_target_revision and desired_revision:
        source["targetRevision"] = desired_revision
    if update.kustomize is not None and update.kustomize.images:
        kustomize = dict(source.get("kustomize") or {})
        kustomize["images"] = [_kustomize_image(image) for image in update.kustomize.images]
        source["kustomize"] = kustomize
    if update.helm is not None and update.helm.images:
        helm = dict(source.get("helm") or {})
        parameters = [dict(p) for p in helm.get("parameters") or []]
        for image in update.helm.images:
            new = {"name": image.key, "value": image.value}
            for i, parameter in enumerate(parameters):
                if parameter.get("name") == image.key:
                    parameters[i] = new
                    break
            else:
                parameters.append(new)
        helm["parameters"] = parameters
        source["helm"] = helm
    return True


def build_desired_sources(update: AppUpdate, app: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The app's sources with every source update applied.

    Raises:
        ValueError: An update is aimed at no source of the app.
    """
    sources = copy.deepcopy(application_sources(app))
    revisions = desired_revisions(update, app)
    describe = describe_application(app)
    for source_update in update.sources or []:
        if any(
            _apply_source_update(source_update, revisions[i], source)
            for i, source in enumerate(sources)
        ):
            continue
        chart = f" and chart {go_quote(source_update.chart)}" if source_update.chart else ""
        raise ValueError(
            f"no source of {describe} matched update for source with repoURL "
            f"{source_update.repo_url}{chart}"
        )
    return sources


def check_applicable(update: AppUpdate, apps: Sequence[dict[str, Any]]) -> None:
    """With several Applications, every update must fit every one before any is touched.

    Raises:
        TerminalStepError: Some update fits some Application nowhere; the message lists the
            first few.
    """
    if len(apps) <= 1:
        return
    problems: list[str] = []
    for app in apps:
        try:
            build_desired_sources(update, app)
        except ValueError as error:
            ref = app_ref(app)
            problems.append(
                f"Application {go_quote(ref['name'])} in namespace "
                f"{go_quote(ref['namespace'])}: {error}"
            )
    if not problems:
        return
    shown = problems[:3]
    count = (
        f"{len(problems)} incompatible (showing first {len(shown)})"
        if len(problems) > len(shown)
        else f"{len(problems)} incompatible"
    )
    raise TerminalStepError(
        f"selected Applications must have compatible sources; {count}. No Applications were "
        "updated:\n" + "\n".join(shown)
    )
