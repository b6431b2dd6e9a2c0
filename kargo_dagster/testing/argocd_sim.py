"""An Argo CD application controller simulator for the fake Kubernetes API server.

:class:`ArgoCDSimulator` plays Argo CD's part for ``argoproj.io/v1alpha1`` Applications
stored in a :class:`~kargo_dagster.testing.kube_api.FakeKubeAPI`. It deploys nothing: it
moves each Application's ``status`` and ``operation`` through the states a real controller
(Argo CD v3.5) writes, so that code starting syncs through the Kubernetes API (as Kargo's
``argocd-update`` does) and reading health (Kargo's health checks, ``argocd-wait``) can be
tested end to end. Its two loops mirror the controller's:

**Refresh** (when the ``argocd.argoproj.io/refresh`` annotation is set, after every
operation, when the spec's sources or destination differ from ``status.sync.comparedTo``,
or when the app was never reconciled): resolves each source's ``targetRevision`` to a
revision, sets ``status.sync`` (``Synced`` when the deployed revisions and sources are the
resolved ones, else ``OutOfSync``; ``revision`` or ``revisions``, ``comparedTo``),
``status.resources`` and ``status.reconciledAt``, and removes the annotation. A revision it
cannot resolve gives a ``ComparisonError`` condition and sync status ``Unknown``. Apps with
``spec.syncPolicy.automated`` get an automated operation when they are OutOfSync at a
revision not yet attempted.

**Operation** (when ``.operation`` is set): ``operationState`` goes ``Running`` (step 1),
gets its ``syncResult`` with the synced revision(s) and resources (step 2), then ends
``Succeeded`` with ``finishedAt``, ``.operation`` removed and a ``status.history`` entry
(not for dry runs or partial syncs), or ``Failed``/``Error`` when a failure is injected
(with the operation's ``retry.limit``: ``Running`` with ``finishedAt`` and
``Retrying attempt #n``, re-run on the next step, and ``(retried n times).`` at the limit).
The refresh that follows a successful sync reports health ``Progressing``; a later step
sets the final health (``Healthy`` unless configured otherwise). An ``OperationCompleted``
Event is recorded as Argo CD does. A ``Terminating`` operation ends ``Failed`` with
``Operation terminated``; an Application being deleted loses Argo CD's finalizers.

Revisions come from :meth:`ArgoCDSimulator.set_revision` (repository URL and target
revision to commit SHA), from the target revision itself when it is a full SHA or a Helm
chart version, or, for repositories on this machine (``file://`` URLs, paths, and
``http(s)://`` on 127.0.0.1 or localhost, as served by
:class:`~kargo_dagster.testing.git_remote.GitRemote` and
:class:`~kargo_dagster.testing.git_remote.GitHTTPServer`), from the real repository with
``git ls-remote``.

Failures to inject, per Application: :meth:`~ArgoCDSimulator.fail_next_sync` (a sync ends
Failed or Error), :meth:`~ArgoCDSimulator.slow_syncs` (operations stay Running for more
steps), :meth:`~ArgoCDSimulator.stall_refresh` (refreshes do not happen, leaving
``reconciledAt`` behind ``finishedAt``), :meth:`~ArgoCDSimulator.start_foreign_sync` (an
operation someone else started is in progress), :meth:`~ArgoCDSimulator.conflict_on_next_write`
(the next client write gets 409), :meth:`~ArgoCDSimulator.set_health` and
:meth:`~ArgoCDSimulator.health_after_sync` (Degraded, Suspended, Missing...), and
:meth:`~ArgoCDSimulator.remove_app` (the app is missing).

The transitions follow Argo CD's ``controller/appcontroller.go``, ``controller/state.go``
and ``controller/sync.go``. What the simulator cannot show: real manifests and resource
health, hooks and waves, sync windows, selfHeal, and the races of a real controller.

How to use::

    with FakeKubeAPI() as api:
        api.add(application("guestbook", "https://github.com/acme/deploy.git", "main"))
        argocd = ArgoCDSimulator(api)
        argocd.set_revision("https://github.com/acme/deploy.git", "main", "1" * 40)
        argocd.settle()  # reconciled: Synced or OutOfSync at 111...
        ...  # code under test patches .operation and the refresh annotation
        argocd.settle()  # refreshed, synced, Healthy
        # or, for code that polls:
        with argocd.running():
            run_code_under_test()
"""

import copy
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kargo_dagster.clients.git_command import GitCommand
from kargo_dagster.errors import RepositoryError
from kargo_dagster.redaction import redact_url
from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.testing.kube_store import KubeAPIError, timestamp
from kargo_dagster.testing.simulated_controller import SimulatedController
from kargo_dagster.urls import normalize_git_url

__all__ = [
    "APPLICATION_FINALIZERS",
    "AUTHORIZED_STAGE_ANNOTATION",
    "REFRESH_ANNOTATION",
    "ArgoCDSimulator",
    "application",
]

REFRESH_ANNOTATION = "argocd.argoproj.io/refresh"
AUTHORIZED_STAGE_ANNOTATION = "kargo.akuity.io/authorized-stage"
APPLICATION_FINALIZERS = (
    "resources-finalizer.argocd.argoproj.io",
    "resources-finalizer.argocd.argoproj.io/background",
    "resources-finalizer.argocd.argoproj.io/foreground",
    "post-delete-finalizer.argoproj.io",
)
_COMPLETED = ("Succeeded", "Failed", "Error")
_SUCCESS_MESSAGE = "successfully synced (all tasks run)"
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_CONTROLLER = "argocd-application-controller"


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


class _Unresolvable(Exception):
    """A source revision the simulator cannot resolve (becomes a ComparisonError)."""


@dataclass
class _Outcome:
    phase: str
    message: str


@dataclass
class _Behaviour:
    """What the simulator does for one Application (set through the knob methods)."""

    sync_steps: int = 0
    failures: list[_Outcome] = field(default_factory=list)
    health: str = "Healthy"
    health_message: str = ""
    progressing_steps: int = 1
    stalled_refreshes: int | None = 0  # None: until resumed


@dataclass
class _Plan:
    """How the operation in progress will go, fixed when it starts."""

    extra_steps: int
    outcome: _Outcome


@dataclass
class _AppState:
    uid: str
    live: tuple[list[str], list[dict[str, Any]]] | None = None
    plan: _Plan | None = None
    op_steps: int = 0
    refresh_after_op: bool = False
    progressing_pending: bool = False
    health_wait: int | None = None


def _sources(spec: Mapping[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """The app's sources and whether it is a multi-source app."""
    if spec.get("sources"):
        return [dict(s) for s in spec["sources"]], True
    return ([dict(spec["source"])] if spec.get("source") else []), False


def _is_sha(revision: str) -> bool:
    return len(revision) == 40 and all(c in "0123456789abcdef" for c in revision.lower())


def _kitchen(when: datetime) -> str:
    # Go's time.Kitchen layout, "3:04PM", which Argo CD uses in retry messages.
    return f"{when.hour % 12 or 12}:{when:%M%p}"


class ArgoCDSimulator(SimulatedController):
    """Drives Application status in a :class:`FakeKubeAPI` as Argo CD's controller would.

    Args:
        api: The running fake API server holding the Applications.
        namespace: Only Applications in this namespace (default: every namespace).
        clock: The time written into timestamps (default: the API server's clock).
        resolve_local_git: Resolve revisions of repositories on this machine with
            ``git ls-remote`` when the revision table has no entry.

    Attributes:
        log: One line per transition (``argocd/guestbook: sync Succeeded``), oldest first.
    """

    name = "argocd"

    def __init__(
        self,
        api: FakeKubeAPI,
        *,
        namespace: str | None = None,
        clock: Callable[[], datetime] | None = None,
        resolve_local_git: bool = True,
    ) -> None:
        super().__init__(api)
        self.namespace = namespace
        self.clock = clock or api.store.clock
        self.resolve_local_git = resolve_local_git
        self.log: list[str] = []
        self._apps = api.resource("argoproj.io/v1alpha1", "Application")
        self._events = api.resource("v1", "Event")
        self._revisions: dict[tuple[str, str], str] = {}
        self._behaviour: dict[tuple[str, str], _Behaviour] = {}
        self._states: dict[tuple[str, str], _AppState] = {}
        self._knobs = threading.Lock()

    # Knobs ---------------------------------------------------------------------------------

    def set_revision(self, repo_url: str, target_revision: str, sha: str) -> None:
        """Resolve ``target_revision`` (a branch, tag or ``HEAD``) of ``repo_url`` to ``sha``.

        Takes effect at the next refresh; moving a branch is calling this again.
        """
        with self._knobs:
            self._revisions[(normalize_git_url(repo_url), target_revision or "HEAD")] = sha

    def _tune(self, name: str, namespace: str) -> _Behaviour:
        return self._behaviour.setdefault((namespace, name), _Behaviour())

    def fail_next_sync(
        self,
        name: str,
        namespace: str = "argocd",
        *,
        phase: str = "Failed",
        message: str | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` sync attempts of the app end in ``phase`` (Failed or Error)."""
        if phase not in ("Failed", "Error"):
            raise ValueError(f"a failed sync ends Failed or Error, not {phase!r}")
        if message is None:
            message = (
                "one or more objects failed to apply, reason: Deployment.apps "
                f'"{name}" is invalid: spec.template.spec.containers[0].image: Required value'
                if phase == "Failed"
                else "ComparisonError: failed to load target state"
            )
        with self._knobs:
            self._tune(name, namespace).failures.extend(
                _Outcome(phase, message) for _ in range(times)
            )

    def slow_syncs(self, name: str, namespace: str = "argocd", *, steps: int = 3) -> None:
        """Operations on the app stay Running ``steps`` more steps after applying."""
        with self._knobs:
            self._tune(name, namespace).sync_steps = steps

    def stall_refresh(
        self, name: str, namespace: str = "argocd", *, steps: int | None = None
    ) -> None:
        """Skip the app's next ``steps`` refreshes (all until :meth:`resume_refresh` if None).

        The refresh annotation stays and ``reconciledAt`` falls behind an operation's
        ``finishedAt``: the stale state Kargo's health check and ``argocd-wait`` guard
        against.
        """
        with self._knobs:
            self._tune(name, namespace).stalled_refreshes = steps

    def resume_refresh(self, name: str, namespace: str = "argocd") -> None:
        """Undo :meth:`stall_refresh`."""
        with self._knobs:
            self._tune(name, namespace).stalled_refreshes = 0

    def health_after_sync(
        self,
        name: str,
        namespace: str = "argocd",
        *,
        status: str,
        message: str = "",
        progressing_steps: int = 1,
    ) -> None:
        """The health the app reaches after its next syncs (after ``Progressing``)."""
        with self._knobs:
            behaviour = self._tune(name, namespace)
            behaviour.health, behaviour.health_message = status, message
            behaviour.progressing_steps = progressing_steps

    def set_health(
        self, name: str, namespace: str = "argocd", *, status: str, message: str = ""
    ) -> None:
        """Write the app's health now (and keep it as the health after later syncs).

        Raises:
            KubeAPIError: The app does not exist, or a concurrent write won (409).
        """
        self.health_after_sync(name, namespace, status=status, message=message)
        with self._step_lock:
            app = self.store.get(self._apps, namespace, name)
            app.setdefault("status", {})["health"] = self._health(status, message)
            self._write(app, f"health {status}")

    def conflict_on_next_write(
        self, name: str, namespace: str = "argocd", *, times: int = 1
    ) -> None:
        """The next ``times`` client writes (update or patch) of the app get 409 Conflict."""
        self.api.fail_next("write", "applications", name, namespace, code=409, times=times)

    def remove_app(self, name: str, namespace: str = "argocd") -> None:
        """Delete the app outright (finalizers ignored): the "app missing" case."""
        with self._step_lock:
            app = self.store.find(self._apps, namespace, name)
            if app is None:
                return
            if app["metadata"].get("finalizers"):
                app["metadata"]["finalizers"] = []
                app = self.store.replace(self._apps, namespace, name, app)
            self.store.delete(self._apps, namespace, name)
            self._states.pop((namespace, name), None)
            self.log.append(f"{namespace}/{name}: removed")

    def start_foreign_sync(
        self,
        name: str,
        namespace: str = "argocd",
        *,
        username: str = "admin",
        steps: int = 2,
        phase: str = "Succeeded",
        message: str | None = None,
    ) -> None:
        """Start an operation someone else requested, already Running.

        It applies on the next step, stays Running ``steps`` more steps, then ends in
        ``phase``. It carries no ``kargo.akuity.io/promotion`` info, so Kargo waits for it.

        Raises:
            KubeAPIError: The app does not exist, or a concurrent write won (409).
            ValueError: ``phase`` is not Succeeded, Failed or Error.
        """
        if phase not in _COMPLETED:
            raise ValueError(f"an operation ends Succeeded, Failed or Error, not {phase!r}")
        outcome = _Outcome(
            phase,
            message
            or (
                _SUCCESS_MESSAGE if phase == "Succeeded" else "one or more objects failed to apply"
            ),
        )
        with self._step_lock:
            app = self.store.get(self._apps, namespace, name)
            sources, multi = _sources(app["spec"])
            sync: dict[str, Any] = {"syncStrategy": {"hook": {}}}
            try:
                revisions = [self._resolve(source) for source in sources]
            except _Unresolvable:
                revisions = []
            if revisions:
                sync["revisions" if multi else "revision"] = revisions if multi else revisions[0]
            operation = {"sync": sync, "initiatedBy": {"username": username}}
            app["operation"] = operation
            app.setdefault("status", {})["operationState"] = {
                "operation": copy.deepcopy(operation),
                "phase": "Running",
                "startedAt": timestamp(self.clock()),
            }
            self._write(app, f"operation by {username} Running")
            state = self._state(app)
            state.plan, state.op_steps = _Plan(steps, outcome), 0

    # Stepping ------------------------------------------------------------------------------

    def _step(self) -> int:
        moved = 0
        for app in self.store.list_objects(self._apps, self.namespace):
            key = (app["metadata"].get("namespace", ""), app["metadata"]["name"])
            state = copy.deepcopy(self._state(app))
            with self._knobs:
                behaviour = copy.deepcopy(self._tune(key[1], key[0]))
            try:
                moved += self._advance(app)
            except KubeAPIError as error:
                if error.code not in (404, 409):
                    raise
                # A concurrent write or delete won: forget this step's progress and try
                # again on the next one, as the controller requeues the app.
                self._states[key] = state
                with self._knobs:
                    self._behaviour[key] = behaviour
                moved += 1
        return moved

    def _state(self, app: Mapping[str, Any]) -> _AppState:
        meta = app["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        state = self._states.get(key)
        if state is None or state.uid != meta.get("uid"):
            state = _AppState(uid=str(meta.get("uid")), live=self._live_from_status(app))
            self._states[key] = state
        return state

    def _live_from_status(
        self, app: Mapping[str, Any]
    ) -> tuple[list[str], list[dict[str, Any]]] | None:
        # A recorded app that is Synced is deployed at the revision it reports.
        sync = (app.get("status") or {}).get("sync") or {}
        compared = sync.get("comparedTo") or {}
        if sync.get("status") != "Synced":
            return None
        if sync.get("revisions"):
            return list(sync["revisions"]), [dict(s) for s in compared.get("sources", [])]
        if sync.get("revision"):
            source = compared.get("source")
            return [sync["revision"]], [dict(source)] if source else []
        return None

    def _behaviour_for(self, app: Mapping[str, Any]) -> _Behaviour:
        meta = app["metadata"]
        with self._knobs:
            return self._tune(meta["name"], meta.get("namespace", ""))

    def _advance(self, app: dict[str, Any]) -> int:
        meta = app["metadata"]
        state = self._state(app)
        behaviour = self._behaviour_for(app)
        if meta.get("deletionTimestamp"):
            kept = [f for f in meta.get("finalizers", []) if f not in APPLICATION_FINALIZERS]
            if kept == meta.get("finalizers", []):
                return 0
            meta["finalizers"] = kept
            self._write(app, "finalizers removed")
            return 1
        status = app.setdefault("status", {})
        if self._needs_refresh(app, state):
            stalled = behaviour.stalled_refreshes
            if stalled is None:
                pass  # stalled until resumed: the operation loop still runs
            elif stalled > 0:
                with self._knobs:
                    behaviour.stalled_refreshes = stalled - 1
                return 1
            else:
                self._refresh(app, state, behaviour)
                return 1
        op_state = status.get("operationState")
        operation = app.get("operation")
        if operation is not None and (op_state is None or op_state.get("phase") in _COMPLETED):
            self._start(app, state, behaviour)
            return 1
        if op_state is not None and op_state.get("phase") == "Terminating":
            self._complete(app, state, _Outcome("Failed", "Operation terminated"), retry=False)
            return 1
        if op_state is not None and op_state.get("phase") == "Running":
            return self._run(app, state, behaviour)
        if state.health_wait is not None:
            state.health_wait -= 1
            if state.health_wait > 0:
                return 1
            state.health_wait = None
            status["health"] = self._health(behaviour.health, behaviour.health_message)
            self._write(app, f"health {behaviour.health}")
            return 1
        return 0

    # The refresh loop ----------------------------------------------------------------------

    def _needs_refresh(self, app: Mapping[str, Any], state: _AppState) -> bool:
        annotations = app["metadata"].get("annotations") or {}
        status = app.get("status") or {}
        if REFRESH_ANNOTATION in annotations or state.refresh_after_op:
            return True
        if not status.get("reconciledAt"):
            return True
        return (status.get("sync") or {}).get("comparedTo") != self._compared_to(app["spec"])

    def _compared_to(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        sources, multi = _sources(spec)
        compared: dict[str, Any] = {"destination": dict(spec.get("destination") or {})}
        if multi:
            compared["sources"] = sources
        elif sources:
            compared["source"] = sources[0]
        return compared

    def _resolve(self, source: Mapping[str, Any]) -> str:
        target = str(source.get("targetRevision") or "HEAD")
        repo_url = str(source.get("repoURL", ""))
        if source.get("chart"):
            return target  # a Helm chart's revision is its version
        if _is_sha(target):
            return target.lower()
        with self._knobs:
            known = self._revisions.get((normalize_git_url(repo_url), target))
        if known:
            return known
        if self.resolve_local_git and self._is_local(repo_url):
            found = self._ls_remote(repo_url, target)
            if found:
                return found
        raise _Unresolvable(
            f"rpc error: code = Unknown desc = unable to resolve '{target}' to a commit SHA"
        )

    @staticmethod
    def _is_local(repo_url: str) -> bool:
        if repo_url.startswith("file://") or Path(repo_url).is_absolute():
            return True
        parts = urlsplit(repo_url)
        return parts.scheme in ("http", "https") and parts.hostname in _LOCAL_HOSTS

    @staticmethod
    def _ls_remote(repo_url: str, target: str) -> str | None:
        command = GitCommand(repo_label=redact_url(repo_url), timeout=30)
        try:
            output = command.run(["ls-remote", repo_url], action="listing refs of")
        except RepositoryError:
            return None
        refs: dict[str, str] = {}
        for line in output.decode(errors="replace").splitlines():
            sha, _, ref = line.partition("\t")
            refs[ref] = sha
        if target == "HEAD" or target.startswith("refs/"):
            return refs.get(target)
        # An annotated tag resolves to the commit it points at (the peeled ^{} line).
        for ref in (f"refs/heads/{target}", f"refs/tags/{target}^{{}}", f"refs/tags/{target}"):
            if ref in refs:
                return refs[ref]
        return None

    def _refresh(self, app: dict[str, Any], state: _AppState, behaviour: _Behaviour) -> None:
        spec, status = app["spec"], app["status"]
        sources, multi = _sources(spec)
        now = timestamp(self.clock())
        compared = self._compared_to(spec)
        conditions = [
            c for c in status.get("conditions") or [] if c.get("type") != "ComparisonError"
        ]
        try:
            revisions = [self._resolve(source) for source in sources]
        except _Unresolvable as error:
            revisions = []
            sync: dict[str, Any] = {"status": "Unknown", "comparedTo": compared}
            conditions.append(
                {
                    "type": "ComparisonError",
                    "message": f"Failed to load target state: failed to generate manifest for "
                    f"source 1 of {len(sources)}: {error}",
                    "lastTransitionTime": now,
                }
            )
            summary = "ComparisonError"
        else:
            synced = state.live == (revisions, sources)
            sync = {"status": "Synced" if synced else "OutOfSync", "comparedTo": compared}
            if multi:
                sync["revisions"] = revisions
            elif revisions:
                sync["revision"] = revisions[0]
            summary = f"{sync['status']} {' '.join(r[:7] for r in revisions)}"
        status["sync"] = sync
        if conditions:
            status["conditions"] = conditions
        else:
            status.pop("conditions", None)
        status["reconciledAt"] = now
        if state.progressing_pending:
            state.progressing_pending = False
            status["health"] = self._health("Progressing", "")
            state.health_wait = max(behaviour.progressing_steps, 1)
        elif "health" not in status:
            status["health"] = self._health(
                "Missing" if state.live is None else behaviour.health, ""
            )
        status["resources"] = [
            {
                **resource,
                "status": "Synced" if sync["status"] == "Synced" else "OutOfSync",
                "health": {"status": status["health"]["status"]},
            }
            for resource in self._resources(app)
        ]
        annotations = app["metadata"].get("annotations") or {}
        annotations.pop(REFRESH_ANNOTATION, None)
        app["metadata"]["annotations"] = annotations
        state.refresh_after_op = False
        if sync["status"] == "OutOfSync":
            self._auto_sync(app, revisions, multi)
        self._write(app, f"refresh {summary}")

    def _auto_sync(self, app: dict[str, Any], revisions: list[str], multi: bool) -> None:
        policy = app["spec"].get("syncPolicy") or {}
        automated = policy.get("automated")
        if automated is None or automated.get("enabled") is False or app.get("operation"):
            return
        op_state = app["status"].get("operationState") or {}
        if op_state and op_state.get("phase") not in _COMPLETED:
            return
        result = op_state.get("syncResult") or {}
        attempted = result.get("revisions") if multi else [result.get("revision")]
        if result and attempted == revisions:
            return  # Argo CD does not auto-sync a revision it already tried
        sync: dict[str, Any] = {"prune": bool(automated.get("prune", False))}
        if multi:
            sync["revisions"] = revisions
        else:
            sync["revision"] = revisions[0]
        if policy.get("syncOptions"):
            sync["syncOptions"] = list(policy["syncOptions"])
        operation: dict[str, Any] = {"sync": sync, "initiatedBy": {"automated": True}}
        if policy.get("retry"):
            operation["retry"] = copy.deepcopy(policy["retry"])
        app["operation"] = operation

    # The operation loop --------------------------------------------------------------------

    def _plan(self, state: _AppState, behaviour: _Behaviour) -> _Plan:
        with self._knobs:
            outcome = (
                behaviour.failures.pop(0)
                if behaviour.failures
                else _Outcome("Succeeded", _SUCCESS_MESSAGE)
            )
            state.plan, state.op_steps = _Plan(behaviour.sync_steps, outcome), 0
        return state.plan

    def _start(self, app: dict[str, Any], state: _AppState, behaviour: _Behaviour) -> None:
        operation = copy.deepcopy(app["operation"])
        self._plan(state, behaviour)
        app["status"]["operationState"] = {
            "operation": operation,
            "phase": "Running",
            "startedAt": timestamp(self.clock()),
        }
        if "sync" not in operation:
            self._complete(
                app,
                state,
                _Outcome("Error", "Invalid operation request: no operation specified"),
                retry=False,
            )
            return
        self._write(app, "operation Running")

    def _run(self, app: dict[str, Any], state: _AppState, behaviour: _Behaviour) -> int:
        op_state = app["status"]["operationState"]
        # An operation already Running when the simulator first saw it gets a plan now.
        plan = state.plan or self._plan(state, behaviour)
        if op_state.get("finishedAt"):
            # A failed attempt waiting out its retry backoff: run it again.
            for key in ("finishedAt", "syncResult"):
                op_state.pop(key, None)
            op_state["message"] = ""
            self._plan(state, behaviour)
            self._write(app, "operation retrying")
            return 1
        if "syncResult" not in op_state:
            try:
                self._apply(app)
            except _Unresolvable as error:
                self._complete(app, state, _Outcome("Error", f"ComparisonError: {error}"))
                return 1
            self._write(app, "operation applied")
            return 1
        if state.op_steps < plan.extra_steps:
            state.op_steps += 1
            return 1
        self._complete(app, state, plan.outcome)
        return 1

    def _apply(self, app: dict[str, Any]) -> None:
        op_state = app["status"]["operationState"]
        sync = op_state["operation"].get("sync") or {}
        spec_sources, multi = _sources(app["spec"])
        if multi:
            sources = [dict(s) for s in sync.get("sources") or spec_sources]
            wanted = list(sync.get("revisions") or [])
            revisions = [
                wanted[i] if i < len(wanted) and wanted[i] else self._resolve(source)
                for i, source in enumerate(sources)
            ]
            result: dict[str, Any] = {"revision": "", "revisions": revisions, "sources": sources}
        else:
            source = dict(sync.get("source") or (spec_sources[0] if spec_sources else {}))
            revision = sync.get("revision") or self._resolve(source)
            result = {"revision": revision, "source": source}
        result["resources"] = [
            {
                **resource,
                "status": "Synced",
                "message": f"{resource['kind'].lower()}.{resource['group']}/{resource['name']} "
                "configured",
                "hookPhase": "Running",
                "syncPhase": "Sync",
            }
            for resource in self._resources(app)
        ]
        op_state["syncResult"] = result
        first = result["resources"][0]
        op_state["message"] = (
            f"waiting for healthy state of {first['group']}/{first['kind']}/{first['name']}"
        )

    def _complete(
        self, app: dict[str, Any], state: _AppState, outcome: _Outcome, *, retry: bool = True
    ) -> None:
        status = app["status"]
        op_state = status["operationState"]
        operation = op_state["operation"]
        now = timestamp(self.clock())
        result = op_state.get("syncResult") or {}
        revision = result.get("revision") or ",".join(result.get("revisions") or [])
        if outcome.phase != "Succeeded":
            limit = int((operation.get("retry") or {}).get("limit", 0) or 0)
            count = int(op_state.get("retryCount", 0) or 0)
            for resource in result.get("resources") or []:
                resource["status"] = "SyncFailed"
                resource["message"] = outcome.message
            if retry and limit != 0 and (limit < 0 or count < limit):
                op_state.update(
                    phase="Running",
                    finishedAt=now,
                    retryCount=count + 1,
                    message=f"{outcome.message}. Retrying attempt #{count + 1} at "
                    f"{_kitchen(self.clock())}.",
                )
                self._write(app, f"operation {outcome.phase}, retry #{count + 1}")
                return
            message = outcome.message + (f" (retried {count} times)." if count else "")
            op_state.update(phase=outcome.phase, message=message, finishedAt=now)
            app.pop("operation", None)
            state.refresh_after_op = True
            self._write(app, f"operation {outcome.phase}")
            self._event(app, "Warning", f"Sync operation to {revision} failed: {message}")
            return
        op_state.update(phase="Succeeded", message=outcome.message, finishedAt=now)
        app.pop("operation", None)
        sync = operation.get("sync") or {}
        if not sync.get("dryRun") and not sync.get("resources"):
            self._record_history(app, op_state, result)
            sources = result.get("sources") or ([result["source"]] if result.get("source") else [])
            revisions = result.get("revisions") or [result["revision"]]
            state.live = (list(revisions), [dict(s) for s in sources])
        state.refresh_after_op = True
        state.progressing_pending = True
        self._write(app, "operation Succeeded")
        self._event(app, "Normal", f"Sync operation to {revision} succeeded")

    def _record_history(
        self, app: dict[str, Any], op_state: Mapping[str, Any], result: Mapping[str, Any]
    ) -> None:
        history = list(app["status"].get("history") or [])
        entry: dict[str, Any] = {
            "id": max((int(h.get("id", 0)) for h in history), default=-1) + 1,
            "deployStartedAt": op_state["startedAt"],
            "deployedAt": op_state["finishedAt"],
            "initiatedBy": copy.deepcopy(op_state["operation"].get("initiatedBy") or {}),
        }
        if result.get("revisions"):
            entry["revisions"] = list(result["revisions"])
            entry["sources"] = copy.deepcopy(result.get("sources") or [])
        else:
            entry["revision"] = result.get("revision", "")
            entry["source"] = copy.deepcopy(result.get("source") or {})
        history.append(entry)
        limit = app["spec"].get("revisionHistoryLimit")
        keep = 10 if limit is None else int(limit)
        app["status"]["history"] = history[-keep:] if keep > 0 else []

    # Writing -------------------------------------------------------------------------------

    def _resources(self, app: Mapping[str, Any]) -> list[dict[str, Any]]:
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

    def _health(self, status: str, message: str) -> dict[str, Any]:
        health: dict[str, Any] = {
            "status": status,
            "lastTransitionTime": timestamp(self.clock()),
        }
        if message:
            health["message"] = message
        return health

    def _write(self, app: dict[str, Any], what: str) -> None:
        meta = app["metadata"]
        self.store.replace(self._apps, meta.get("namespace"), meta["name"], app)
        self.log.append(f"{meta.get('namespace')}/{meta['name']}: {what}")

    def _event(self, app: Mapping[str, Any], kind: str, message: str) -> None:
        meta = app["metadata"]
        now = timestamp(self.clock())
        event = {
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta.get("namespace")},
            "involvedObject": {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
            },
            "reason": "OperationCompleted",
            "message": message,
            "type": kind,
            "source": {"component": _CONTROLLER},
            "reportingComponent": _CONTROLLER,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        self.store.create(self._events, meta.get("namespace"), event)
