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

This module holds the controller loop and the knobs. The parts live beside it: the
Application manifest in :mod:`~kargo_dagster.testing.argocd_application`, revision
resolution in :mod:`~kargo_dagster.testing.argocd_revisions`, the per-app state in
:mod:`~kargo_dagster.testing.argocd_app_state`, and the two loops in
:mod:`~kargo_dagster.testing.argocd_refresh` and :mod:`~kargo_dagster.testing.argocd_sync`.

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
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from kargo_dagster.testing.argocd_app_state import (
    COMPLETED,
    SUCCESS_MESSAGE,
    AppState,
    Behaviour,
    Outcome,
    Plan,
    Transition,
    health,
    live_from_status,
)
from kargo_dagster.testing.argocd_application import (
    APPLICATION_FINALIZERS,
    AUTHORIZED_STAGE_ANNOTATION,
    REFRESH_ANNOTATION,
    app_sources,
    application,
)
from kargo_dagster.testing.argocd_refresh import needs_refresh, refresh
from kargo_dagster.testing.argocd_revisions import RevisionTable, UnresolvableRevision
from kargo_dagster.testing.argocd_sync import (
    complete_operation,
    run_operation,
    start_operation,
)
from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.testing.kube_store import KubeAPIError, timestamp
from kargo_dagster.testing.simulated_controller import SimulatedController

__all__ = [
    "APPLICATION_FINALIZERS",
    "AUTHORIZED_STAGE_ANNOTATION",
    "REFRESH_ANNOTATION",
    "ArgoCDSimulator",
    "application",
]

_CONTROLLER = "argocd-application-controller"


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
        self._revisions = RevisionTable()
        self._behaviour: dict[tuple[str, str], Behaviour] = {}
        self._states: dict[tuple[str, str], AppState] = {}
        self._knobs = threading.Lock()

    # Knobs ---------------------------------------------------------------------------------

    def set_revision(self, repo_url: str, target_revision: str, sha: str) -> None:
        """Resolve ``target_revision`` (a branch, tag or ``HEAD``) of ``repo_url`` to ``sha``.

        Takes effect at the next refresh; moving a branch is calling this again.
        """
        self._revisions.set(repo_url, target_revision, sha)

    def _resolve(self, source: Mapping[str, Any]) -> str:
        return self._revisions.resolve(source, local_git=self.resolve_local_git)

    def _tune(self, name: str, namespace: str) -> Behaviour:
        return self._behaviour.setdefault((namespace, name), Behaviour())

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
                Outcome(phase, message) for _ in range(times)
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
            app.setdefault("status", {})["health"] = health(status, message, self.clock)
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
        if phase not in COMPLETED:
            raise ValueError(f"an operation ends Succeeded, Failed or Error, not {phase!r}")
        outcome = Outcome(
            phase,
            message
            or (SUCCESS_MESSAGE if phase == "Succeeded" else "one or more objects failed to apply"),
        )
        with self._step_lock:
            app = self.store.get(self._apps, namespace, name)
            sources, multi = app_sources(app["spec"])
            sync: dict[str, Any] = {"syncStrategy": {"hook": {}}}
            try:
                revisions = [self._resolve(source) for source in sources]
            except UnresolvableRevision:
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
            state.plan, state.op_steps = Plan(steps, outcome), 0

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

    def _state(self, app: Mapping[str, Any]) -> AppState:
        meta = app["metadata"]
        key = (meta.get("namespace", ""), meta["name"])
        state = self._states.get(key)
        if state is None or state.uid != meta.get("uid"):
            state = AppState(uid=str(meta.get("uid")), live=live_from_status(app))
            self._states[key] = state
        return state

    def _behaviour_for(self, app: Mapping[str, Any]) -> Behaviour:
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
        if needs_refresh(app, state):
            stalled = behaviour.stalled_refreshes
            if stalled is None:
                pass  # stalled until resumed: the operation loop still runs
            elif stalled > 0:
                with self._knobs:
                    behaviour.stalled_refreshes = stalled - 1
                return 1
            else:
                self._record(
                    app,
                    refresh(app, state, behaviour, resolve=self._resolve, clock=self.clock),
                )
                return 1
        op_state = status.get("operationState")
        operation = app.get("operation")
        if operation is not None and (op_state is None or op_state.get("phase") in COMPLETED):
            self._record(
                app,
                start_operation(app, state, behaviour, clock=self.clock, knobs=self._knobs),
            )
            return 1
        if op_state is not None and op_state.get("phase") == "Terminating":
            terminated = Outcome("Failed", "Operation terminated")
            self._record(
                app, complete_operation(app, state, terminated, clock=self.clock, retry=False)
            )
            return 1
        if op_state is not None and op_state.get("phase") == "Running":
            transition = run_operation(
                app,
                state,
                behaviour,
                clock=self.clock,
                knobs=self._knobs,
                resolve=self._resolve,
            )
            if transition is not None:
                self._record(app, transition)
            return 1
        if state.health_wait is not None:
            state.health_wait -= 1
            if state.health_wait > 0:
                return 1
            state.health_wait = None
            status["health"] = health(behaviour.health, behaviour.health_message, self.clock)
            self._write(app, f"health {behaviour.health}")
            return 1
        return 0

    # Writing -------------------------------------------------------------------------------

    def _record(self, app: dict[str, Any], transition: Transition) -> None:
        self._write(app, transition.what)
        if transition.event is not None:
            self._event(app, *transition.event)

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
