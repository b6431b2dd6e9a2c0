"""``argocd-update``: point Argo CD Applications at what was promoted, sync them, and wait.

As Kargo's step (``pkg/promotion/runner/builtin/argocd_updater.go``, v1.11), through the
connection in :attr:`~kargo_dagster.promotion.step.StepContext.argocd`:

1. **Find** each ``apps[]`` entry's Applications, by ``name`` or by label ``selector``, in
   ``namespace`` (default: the connection's, ``argocd``). A missing Application, or a
   selector matching none, is a retryable error (an ApplicationSet may yet create it).
2. **Authorize.** An Application must carry ``kargo.akuity.io/authorized-stage`` naming
   this Stage: a comma-separated list of ``<project>:<stage>``, parts trimmed, none empty,
   no ``*`` globs. Others are skipped; if none remain the step fails, saying which
   annotation value would allow it.
3. **Check** that, with a selector, every source update fits every matched Application
   before any is touched.
4. **Decide** from ``status.operationState``: no operation, or a completed one that another
   initiator or another promotion started, means sync now; another's operation still in
   progress is waited out, never replaced; our own operation still running is waited for;
   ours completed without a ``syncResult``, or synced to revisions other than the desired
   ones (``desiredRevision``), means sync again; otherwise its phase stands. A sync this step
   wrote that Argo CD has not started yet is waited for, not written again (Kargo is woken
   only once the operation moves; this step polls).
5. **Sync**: the sources get their updates (matched by ``repoURL`` and ``chart``; git URLs
   normalised): ``targetRevision`` when ``updateTargetRevision``, kustomize images
   (``repo[=newName]:tag`` or ``@digest``, the whole list), Helm parameters (upserted); the
   annotation ``argocd.argoproj.io/refresh: hard``; ``.operation`` with Kargo's initiator
   and info entries (the promotion's name under ``kargo.akuity.io/promotion``) and the
   app's ``syncPolicy`` options and retry, but no revision, so Argo CD syncs the new
   target; ``status.operationState`` cleared (argo-cd#20875). The write is a JSON merge
   patch carrying the resourceVersion read, redone on conflict. An ``OperationStarted``
   Event records it, as Argo CD's API server would.
6. **Report**: any operation Failed or Error fails the step with Argo CD's message; any
   still Running (ours, or another's being waited out) keeps the step waiting
   (:class:`~kargo_dagster.errors.StepPendingError`, looking again after the connection's
   poll interval) until its timeout, five minutes by default; all Succeeded succeeds.

The operation's initiator is the promotion's actor, without ``automated``, so Argo CD
applies its sync windows to a promotion someone asked for; a promotion nobody asked for
(auto-promotion sensors, unknown actors) is ``kargo-controller`` with ``automated: true``.

Outputs: ``apps``, ``[{name, namespace}]`` of the Applications updated (as Kargo's later
releases report). The health criterion Kargo records on the Promotion is reported as the
step's ``healthCheck`` detail (:data:`HEALTH_CHECK_DETAIL`):
``{"kind": "argocd-update", "apps": [{name, namespace, desiredRevisions}]}``, for the
Stage's ``health`` check.
"""

import copy
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from time import time_ns
from typing import Any, ClassVar, NamedTuple, cast

from pydantic import Field

from kargo_dagster.clients.argocd_applications import (
    APPLICATION_API_VERSION,
    ArgoCDApplications,
    ArgoCDError,
    update_application,
)
from kargo_dagster.errors import RetryableStepError, StepPendingError, TerminalStepError
from kargo_dagster.promotion.argocd_apps import (
    OPERATION_COMPLETED,
    AppSelector,
    app_ref,
    argocd_connection,
    find_application,
    go_quote,
    list_applications,
    step_error,
)
from kargo_dagster.promotion.step import StepConfig, StepContext, StepKind, StepOutput
from kargo_dagster.urls import normalize_git_url

__all__ = [
    "AUTHORIZED_STAGE_ANNOTATION",
    "HEALTH_CHECK_DETAIL",
    "PROMOTION_INFO_KEY",
    "REFRESH_ANNOTATION",
    "STEP",
    "ArgoCDUpdate",
    "Config",
    "authorized_stages",
]

AUTHORIZED_STAGE_ANNOTATION = "kargo.akuity.io/authorized-stage"
REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
PROMOTION_INFO_KEY = "kargo.akuity.io/promotion"
OPERATION_INITIATOR = "kargo-controller"
SYNC_REASON = "Promotion triggered a sync of this Application resource."
# The key of the step detail holding the health criterion (Kargo's HealthCheckStep).
HEALTH_CHECK_DETAIL = "healthCheck"

# Which phase speaks for several Applications: the first in this order (Kargo's
# ByOperationPhase); unknown phases come after these, alphabetically.
_PHASE_ORDER = {"Failed": 0, "Error": 1, "Running": 2, "Terminating": 3, "Succeeded": 4}
# Actors that stand for no one in particular: their promotions sync as Kargo's controller.
_NOBODY = ("", "unknown")
_AUTOMATIC_ACTOR_PREFIXES = ("sensor:",)


class KustomizeImageUpdate(StepConfig):
    """A kustomize image override for an Application source."""

    repo_url: str = Field(alias="repoURL", min_length=1)
    tag: str | None = None
    digest: str | None = None
    new_name: str | None = Field(default=None, min_length=1)


class KustomizeImageUpdates(StepConfig):
    """The kustomize images of an Application source."""

    images: list[KustomizeImageUpdate] | None = None


class HelmImageUpdate(StepConfig):
    """One Helm parameter of an Application source to set."""

    key: str = Field(min_length=1)
    value: str


class HelmParameterUpdates(StepConfig):
    """The Helm parameters of an Application source."""

    images: list[HelmImageUpdate]


class SourceUpdate(StepConfig):
    """Changes to the Application source with this ``repoURL`` (and ``chart``)."""

    repo_url: str = Field(alias="repoURL", min_length=1)
    chart: str | None = Field(default=None, min_length=1)
    desired_revision: str | None = None
    update_target_revision: bool = False
    kustomize: KustomizeImageUpdates | None = None
    helm: HelmParameterUpdates | None = None


class AppUpdate(StepConfig):
    """The Applications to update (by name or selector) and how."""

    name: str | None = None
    namespace: str | None = Field(default=None, min_length=1)
    selector: AppSelector | None = None
    sources: list[SourceUpdate] | None = None


class Config(StepConfig):
    """``argocd-update``'s configuration."""

    apps: list[AppUpdate] = Field(min_length=1)


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


def _describe(app: Mapping[str, Any]) -> str:
    ref = app_ref(dict(app))
    return f"Argo CD Application {go_quote(ref['name'])} in namespace {go_quote(ref['namespace'])}"


def _go_list(values: Sequence[str]) -> str:
    # Go's %v of a []string.
    return "[" + " ".join(values) + "]"


def _sources(app: Mapping[str, Any]) -> list[dict[str, Any]]:
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
    for source in _sources(app):
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
    sources = copy.deepcopy(_sources(app))
    revisions = desired_revisions(update, app)
    describe = _describe(app)
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


def _check_applicable(update: AppUpdate, apps: Sequence[dict[str, Any]]) -> None:
    """With several Applications, every update must fit every one before any is touched."""
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


class _Decision(NamedTuple):
    """Whether to start a sync, and otherwise the phase that stands."""

    phase: str
    must_update: bool
    reason: str = ""


def _promotion_of(operation: Any) -> str | None:
    """The promotion an operation was started for, None when Kargo did not start it."""
    if not isinstance(operation, Mapping):
        return None
    infos = cast(Mapping[str, Any], operation).get("info") or []
    for info in cast(list[Any], infos):
        if isinstance(info, Mapping):
            entry = cast(Mapping[str, Any], info)
            if entry.get("name") == PROMOTION_INFO_KEY:
                return str(entry.get("value", ""))
    return None


def _decide(ctx: StepContext, update: AppUpdate, app: Mapping[str, Any]) -> _Decision:
    """Kargo's ``mustPerformUpdate``: what the app's last operation means for this step."""
    op_state = (app.get("status") or {}).get("operationState")
    if not op_state:
        if _promotion_of(app.get("operation")) == ctx.promotion.name:
            # Our sync is written but Argo CD has not started it yet. Kargo is not woken
            # before the operation moves; a poll may be, and must not write it again.
            return _Decision("Running", False, "sync requested, waiting for Argo CD to start it")
        return _Decision("", True)
    phase = str(op_state.get("phase") or "")
    completed = phase in OPERATION_COMPLETED
    operation = op_state.get("operation") or {}
    promotion = _promotion_of(operation)
    if promotion is None:
        if not completed:
            username = (operation.get("initiatedBy") or {}).get("username", "")
            return _Decision(
                phase,
                False,
                f"current operation was initiated by {go_quote(str(username))}: waiting for "
                "operation to complete",
            )
        return _Decision("", True, "the last operation, not Kargo's, has completed")
    if promotion != ctx.promotion.name:
        if not completed:
            return _Decision(
                phase,
                False,
                f"current operation was not initiated for Promotion {ctx.promotion.name}: "
                "waiting for operation to complete",
            )
        return _Decision("", True, "the last operation, another promotion's, has completed")
    if not completed:
        return _Decision(phase, False, f"operation {phase or 'pending'}")
    result = op_state.get("syncResult")
    if result is None:
        return _Decision("", True, "operation completed without a sync result")
    desired = desired_revisions(update, app)
    if not desired:
        return _Decision(phase, False)
    observed = [str(r) for r in result.get("revisions") or [result.get("revision") or ""]]
    for i, revision in enumerate(observed):
        wanted = desired[i] if i < len(desired) else ""
        if wanted and revision != wanted:
            return _Decision(
                "",
                True,
                f"sync result revisions {_go_list(observed)} do not match desired revisions "
                f"{_go_list(desired)}",
            )
    return _Decision(phase, False)


def _source_view(source: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of a source Kargo's Application model has, as it would serialise them."""
    view: dict[str, Any] = {"repoURL": source.get("repoURL", "")}
    if source.get("targetRevision"):
        view["targetRevision"] = source["targetRevision"]
    if source.get("helm") is not None:
        parameters = [
            {k: p[k] for k in ("name", "value") if p.get(k)}
            for p in source["helm"].get("parameters") or []
        ]
        view["helm"] = {"parameters": parameters} if parameters else {}
    if source.get("kustomize") is not None:
        images = list(source["kustomize"].get("images") or [])
        view["kustomize"] = {"images": images} if images else {}
    if source.get("chart"):
        view["chart"] = source["chart"]
    return view


def _retry_view(retry: Mapping[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {}
    if retry.get("limit"):
        view["limit"] = retry["limit"]
    backoff = retry.get("backoff")
    if backoff is not None:
        view["backoff"] = {
            k: backoff[k] for k in ("duration", "factor", "maxDuration") if backoff.get(k)
        }
    return view


def _spec_view(spec: Mapping[str, Any], desired: list[dict[str, Any]]) -> dict[str, Any]:
    """The spec Kargo merges into the live Application: its model's fields only."""
    view: dict[str, Any] = {}
    multi = bool(spec.get("sources"))
    if spec.get("source"):
        view["source"] = _source_view(spec["source"] if multi else desired[0])
    if multi:
        view["sources"] = [_source_view(s) for s in desired]
    policy = spec.get("syncPolicy")
    if policy is not None:
        policy_view: dict[str, Any] = {}
        if policy.get("syncOptions"):
            policy_view["syncOptions"] = list(policy["syncOptions"])
        if policy.get("retry") is not None:
            policy_view["retry"] = _retry_view(policy["retry"])
        view["syncPolicy"] = policy_view
    return view


def _merge(source: Any, target: Any) -> Any:
    """Kargo's ``recursiveMerge``: maps merge key by key, lists item by item (the result has
    the source's length), anything else is the source's value."""
    if isinstance(source, Mapping):
        if not isinstance(target, dict):
            return copy.deepcopy(source)
        for key, value in source.items():
            target[key] = _merge(value, target[key]) if key in target else copy.deepcopy(value)
        return target
    if isinstance(source, list):
        if not isinstance(target, list):
            return copy.deepcopy(source)
        return [
            _merge(value, target[i]) if i < len(target) else copy.deepcopy(value)
            for i, value in enumerate(source)
        ]
    return source


def _initiator(actor: str) -> dict[str, Any]:
    if actor in _NOBODY or actor.startswith(_AUTOMATIC_ACTOR_PREFIXES):
        return {"username": OPERATION_INITIATOR, "automated": True}
    # Someone asked for this promotion: a manual sync, so Argo CD's sync windows apply.
    return {"username": actor}


def _operation(ctx: StepContext, spec: Mapping[str, Any]) -> dict[str, Any]:
    policy = spec.get("syncPolicy") or {}
    sync: dict[str, Any] = {}
    if policy.get("syncOptions"):
        sync["syncOptions"] = list(policy["syncOptions"])
    return {
        "initiatedBy": _initiator(ctx.promotion.actor),
        "info": [
            {"name": "Reason", "value": SYNC_REASON},
            {"name": PROMOTION_INFO_KEY, "value": ctx.promotion.name},
        ],
        "sync": sync,
        "retry": _retry_view(policy["retry"]) if policy.get("retry") is not None else {},
    }


def _sync_message(app: Mapping[str, Any], desired: list[dict[str, Any]]) -> str:
    spec = app.get("spec") or {}
    if spec.get("sources"):
        if len(desired) == 1:
            return f"initiated sync to {desired[0].get('targetRevision', '')}"
        return f"initiated sync to {len(desired)} sources"
    if spec.get("source"):
        return f"initiated sync to {desired[0].get('targetRevision', '')}"
    return "initiated sync"


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _record_event(
    ctx: StepContext, apps: ArgoCDApplications, app: Mapping[str, Any], message: str
) -> None:
    """An ``OperationStarted`` Event, as Argo CD's API server records when a sync starts."""
    meta = app.get("metadata") or {}
    name, namespace = str(meta.get("name", "")), str(meta.get("namespace", ""))
    now = _timestamp()
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{name}.{time_ns():x}",
            "namespace": namespace,
            "annotations": {"user": OPERATION_INITIATOR},
        },
        "source": {"component": OPERATION_INITIATOR},
        "involvedObject": {
            "apiVersion": APPLICATION_API_VERSION,
            "kind": "Application",
            "namespace": namespace,
            "name": name,
            "uid": meta.get("uid", ""),
            "resourceVersion": meta.get("resourceVersion", ""),
        },
        "firstTimestamp": now,
        "lastTimestamp": now,
        "count": 1,
        "message": f"{OPERATION_INITIATOR} {message}",
        "type": "Normal",
        "reason": "OperationStarted",
    }
    try:
        apps.create_event(namespace, event)
    except ArgoCDError as error:
        # As in Kargo, the sync has started; a missing Event is only worth a log line.
        ctx.log.warning(f"unable to create event for {_describe(app)}: {error}")


def _sync(
    ctx: StepContext,
    apps: ArgoCDApplications,
    app: Mapping[str, Any],
    desired: list[dict[str, Any]],
) -> None:
    """Write the new sources, the hard refresh and the operation; record the Event."""
    meta = app.get("metadata") or {}
    name, namespace = str(meta.get("name", "")), str(meta.get("namespace", ""))
    annotations = dict(meta.get("annotations") or {})
    annotations[REFRESH_ANNOTATION] = "hard"
    spec_view = _spec_view(app.get("spec") or {}, desired)
    operation = _operation(ctx, app.get("spec") or {})

    def modify(live: dict[str, Any]) -> None:
        # What was read first decides the annotations, sources and operation; the live
        # object keeps every field Kargo's model does not know.
        live.setdefault("metadata", {})["annotations"] = dict(annotations)
        live["spec"] = _merge(spec_view, live.get("spec"))
        live["operation"] = copy.deepcopy(operation)
        if isinstance(live.get("status"), dict):
            # Argo CD's API server clears it when it starts an operation; writing
            # .operation directly bypasses it (argo-cd#20875).
            live["status"]["operationState"] = None

    try:
        written = update_application(apps, namespace, name, modify)
    except ArgoCDError as error:
        raise step_error(
            error,
            f"error syncing {_describe(app)}: error patching Argo CD Application {go_quote(name)}",
        ) from None
    ctx.log.info(f"argocd-update: started a sync of {_describe(app)}")
    _record_event(ctx, apps, written, _sync_message(app, desired))


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


def _authorized_applications(
    ctx: StepContext, apps: ArgoCDApplications, update: AppUpdate
) -> list[dict[str, Any]]:
    """The Applications ``update`` names that allow this Stage to change them."""
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
            ctx.log.info(f"argocd-update: skipping unauthorized {_describe(app)}: {problem}")
            problems.append(problem)
        else:
            authorized.append(app)
    if authorized:
        return authorized
    stage = f"{ctx.promotion.project}:{ctx.promotion.stage}"
    if update.selector is None:
        raise TerminalStepError(
            f"{_describe(found[0])} is not authorized for Stage {stage}: {problems[0]}; "
            + _authorization_hint(ctx)
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


def _process(
    ctx: StepContext, apps: ArgoCDApplications, update: AppUpdate, app: dict[str, Any]
) -> tuple[str, str]:
    """Sync the app if it needs it; its phase, and what the step waits for if anything."""
    decision = _decide(ctx, update, app)
    if not decision.must_update:
        if decision.phase in ("Failed", "Error"):
            op_state = (app.get("status") or {}).get("operationState") or {}
            raise TerminalStepError(f"{_describe(app)} failed with: {op_state.get('message', '')}")
        return decision.phase, f"{_describe(app)}: {decision.reason or 'operation running'}"
    if decision.reason:
        ctx.log.info(f"argocd-update: updating {_describe(app)}: {decision.reason}")
    try:
        desired = build_desired_sources(update, app)
    except ValueError as error:
        raise TerminalStepError(
            f"error building desired sources for {_describe(app)}: {error}"
        ) from None
    _sync(ctx, apps, app, desired)
    return "Running", f"{_describe(app)}: sync started"


def _aggregate(phases: Sequence[str]) -> str:
    """The step's status for the apps' phases (Kargo's operationPhaseToPromotionStepStatus)."""
    if not phases:
        return ""
    first = min(phases, key=lambda p: (_PHASE_ORDER.get(p, len(_PHASE_ORDER)), p))
    if first in ("Running", "Terminating"):
        return "Running"
    if first in ("Failed", "Error"):
        return "Errored"
    return "Succeeded" if first == "Succeeded" else ""


class ArgoCDUpdate(StepKind[Config]):
    """Update and sync Argo CD Applications, then wait for the sync to finish."""

    name = "argocd-update"
    config_model = Config
    default_timeout: ClassVar[timedelta | None] = timedelta(minutes=5)

    def run(self, ctx: StepContext, config: Config) -> StepOutput:
        """Look at every Application once: sync it, wait for it, or see it done."""
        apps = argocd_connection(ctx, self.name)
        phases: list[str] = []
        waiting: list[str] = []
        health_apps: list[dict[str, Any]] = []
        refs: list[dict[str, str]] = []
        for update in config.apps:
            matched = _authorized_applications(ctx, apps, update)
            if update.sources:
                _check_applicable(update, matched)
            for app in matched:
                ref = app_ref(app)
                health_apps.append({**ref, "desiredRevisions": desired_revisions(update, app)})
                refs.append(ref)
                phase, note = _process(ctx, apps, update, app)
                if phase:
                    phases.append(phase)
                    if phase not in OPERATION_COMPLETED:
                        waiting.append(note)
        status = _aggregate(phases)
        if status == "Running":
            raise StepPendingError(
                "waiting for Argo CD: " + "; ".join(waiting), retry_after=apps.poll_interval
            )
        if status != "Succeeded":
            raise RetryableStepError(
                "could not determine promotion step status from operation phases: "
                + _go_list(phases)
            )
        ctx.report(HEALTH_CHECK_DETAIL, {"kind": self.name, "apps": health_apps})
        return {"apps": refs}


STEP = ArgoCDUpdate()
