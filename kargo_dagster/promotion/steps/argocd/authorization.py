"""Which Argo CD Applications let a Stage's ``argocd-update`` change them.

An Application must carry ``kargo.akuity.io/authorized-stage`` naming the Stage: a
comma-separated list of ``<project>:<stage>``, parts trimmed, none empty, no ``*`` globs
(Kargo's ``api.AuthorizedStages``). :func:`authorized_applications` finds an ``apps[]``
entry's Applications (by name or label selector) and keeps those that allow the Stage; when
none does, the step fails with the annotation value that would allow it.
"""

from collections.abc import Mapping
from typing import Any

from kargo_dagster.clients.argocd.applications import ArgoCDApplications
from kargo_dagster.errors import RetryableStepError, TerminalStepError
from kargo_dagster.promotion.step import StepContext
from kargo_dagster.promotion.steps.argocd.connection import (
    app_ref,
    find_application,
    go_quote,
    list_applications,
)
from kargo_dagster.promotion.steps.argocd.messages import describe_application
from kargo_dagster.promotion.steps.argocd.update_config import AppUpdate

__all__ = ["AUTHORIZED_STAGE_ANNOTATION", "authorized_applications", "authorized_stages"]

AUTHORIZED_STAGE_ANNOTATION = "kargo.akuity.io/authorized-stage"


def authorized_stages(value: str) -> list[tuple[str, str]]:
    """The ``(project, stage)`` pairs a ``kargo.akuity.io/authorized-stage`` value names.

    Entries are comma-separated ``<project>:<stage>``, each part trimmed; empty entries are
    ignored (Kargo's ``api.AuthorizedStages``).

    Raises:
        ValueError: An entry without both parts, one with a ``*`` glob, or no entry at all.
    """
    stages: list[tuple[str, str]] = []
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            continue
        project, colon, stage = entry.partition(":")
        project, stage = project.strip(), stage.strip()
        if not colon or not project or not stage:
            raise ValueError(
                f"invalid authorized Stage {go_quote(entry)}: expected format "
                f"{go_quote('<project>:<stage>')}"
            )
        if "*" in project or "*" in stage:
            raise ValueError(
                f"invalid authorized Stage {go_quote(entry)}: deprecated glob expressions are "
                "no longer supported"
            )
        stages.append((project, stage))
    if not stages:
        raise ValueError(f"no authorized Stages found in {go_quote(value)}")
    return stages


def _authorization_problem(ctx: StepContext, app: Mapping[str, Any]) -> str:
    """Why the app does not let this Stage change it; empty when it does."""
    annotations = (app.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(AUTHORIZED_STAGE_ANNOTATION)
    project, stage = ctx.promotion.project, ctx.promotion.stage
    if value is None:
        return f"it has no {AUTHORIZED_STAGE_ANNOTATION} annotation"
    try:
        stages = authorized_stages(str(value))
    except ValueError as error:
        return (
            f"unable to parse value of annotation {go_quote(AUTHORIZED_STAGE_ANNOTATION)} "
            f"({go_quote(str(value))}): {error}"
        )
    if (project, stage) in stages:
        return ""
    return (
        f"its {AUTHORIZED_STAGE_ANNOTATION} annotation ({go_quote(str(value))}) does not name "
        f"Stage {stage} of Project {project}"
    )


def _authorization_hint(ctx: StepContext) -> str:
    wanted = f"{ctx.promotion.project}:{ctx.promotion.stage}"
    return (
        f"to allow it, annotate the Application with {AUTHORIZED_STAGE_ANNOTATION}: "
        f"{go_quote(wanted)} (a comma-separated list may name several Stages)"
    )


def authorized_applications(
    ctx: StepContext, apps: ArgoCDApplications, update: AppUpdate
) -> list[dict[str, Any]]:
    """The Applications ``update`` names that allow this Stage to change them.

    Unauthorized Applications are skipped with a log line.

    Raises:
        RetryableStepError: The named Application does not exist yet, a selector matches
            none, or the API could not be asked.
        TerminalStepError: None of the Applications found allows this Stage, the selector
            is invalid, or the API refused for good.
    """
    namespace = update.namespace or apps.default_namespace
    if update.selector is not None:
        found = list_applications(apps, namespace, update.selector)
    else:
        found = [find_application(apps, namespace, update.name or "")]
    authorized: list[dict[str, Any]] = []
    problems: list[str] = []
    for app in found:
        problem = _authorization_problem(ctx, app)
        if problem:
            ctx.log.info(
                f"argocd-update: skipping unauthorized {describe_application(app)}: {problem}"
            )
            problems.append(problem)
        else:
            authorized.append(app)
    if authorized:
        return authorized
    stage = f"{ctx.promotion.project}:{ctx.promotion.stage}"
    if update.selector is None:
        raise TerminalStepError(
            f"{describe_application(found[0])} is not authorized for Stage {stage}: "
            f"{problems[0]}; " + _authorization_hint(ctx)
        )
    if not found:
        raise RetryableStepError(
            f"no Argo CD Applications found matching selector in namespace {go_quote(namespace)}"
        )
    listed = "; ".join(
        f"{app_ref(app)['name']}: {problem}" for app, problem in zip(found, problems, strict=True)
    )
    raise TerminalStepError(
        f"found {len(found)} Application(s) matching selector in namespace "
        f"{go_quote(namespace)}, but none are authorized for Stage {stage} ({listed}); "
        + _authorization_hint(ctx)
    )
