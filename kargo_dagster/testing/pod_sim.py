"""A kubelet simulator for the fake Kubernetes API server: Pods whose command really runs.

:class:`PodSimulator` plays the kubelet's part for ``v1`` Pods stored in a
:class:`~kargo_dagster.testing.kube_api.FakeKubeAPI`, so that code launching pods (such as
dagster-k8s's ``PipesK8sClient``) sees them start, print and finish as on a cluster. The
image is never pulled: the first container's ``command`` + ``args`` run as a **local**
subprocess, so tests give commands this machine can run, typically
``[sys.executable, "-c", SCRIPT]``.

Each pod not yet finished moves, one transition per step:

1. ``Pending``, every container waiting with reason ``ContainerCreating``;
2. ``Running``: every container ``running`` and ``ready``; the first container's process
   starts in a fresh temporary directory with the container's literal ``env`` values
   (plus this process's ``PATH``, ``HOME`` and ``PYTHONPATH``). Its stdout and stderr both go
   to the pod's log line by line, each line stamped when read
   (:meth:`~kargo_dagster.testing.kube_api.FakeKubeAPI.append_pod_log`), so clients can
   follow the log while it runs. A process that writes to stdout through a pipe buffers it:
   test scripts flush (``print(..., flush=True)``) when they want lines to appear at once;
3. once the process exits: the first container ``terminated`` with its ``exitCode``
   (reason ``Completed`` or ``Error``), the other containers (sidecars) terminated with exit
   code 0 alongside, and the pod ``Succeeded`` or ``Failed``.

A container that cannot start stays waiting, as the kubelet leaves it: ``ErrImagePull`` for
an image set with :meth:`PodSimulator.fail_image_pull`, ``CreateContainerConfigError`` when
its environment uses ``valueFrom`` or ``envFrom`` (nothing resolves them here), and
``RunContainerError`` when it has no ``command``. Init containers are not run. Deleting a pod
kills its process; so do :meth:`PodSimulator.close` and leaving ``running()``.

How to use::

    with FakeKubeAPI() as api, PodSimulator(api) as pods, pods.running():
        ...  # code under test creates pods and follows their logs
    assert pods.runs == [PodRun("kargo-demo", "check", [sys.executable, "-c", "..."], 0)]
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from kargo_dagster.testing.kube_api import FakeKubeAPI
from kargo_dagster.testing.kube_store import KubeAPIError, timestamp
from kargo_dagster.testing.simulated_controller import SimulatedController

__all__ = ["PodRun", "PodSimulator"]

# What a container process inherits from this one, so that Python and its packages work.
_INHERITED_ENV = ("PATH", "HOME", "PYTHONPATH")
# Container runtimes report a process killed by signal N as exit code 128 + N.
_SIGNAL_EXIT_BASE = 128


class PodRun(NamedTuple):
    """One pod's first container that ran to an exit code (or was scripted to).

    Attributes:
        namespace: The pod's namespace.
        name: The pod's name.
        argv: The container's ``command`` followed by its ``args``.
        exit_code: The exit code (137 for a process killed by ``SIGKILL``).
    """

    namespace: str
    name: str
    argv: list[str]
    exit_code: int


@dataclass(frozen=True)
class _Script:
    exit_code: int
    output_lines: tuple[str, ...]


@dataclass
class _Pod:
    """What the simulator knows of one pod (one uid)."""

    namespace: str
    name: str
    stage: Literal["new", "creating", "blocked", "running", "done"] = "new"
    started_at: str = ""
    process: subprocess.Popen[bytes] | None = None
    exit_code: int | None = None
    finished: threading.Event = field(default_factory=threading.Event)


class PodSimulator(SimulatedController):
    """Runs the Pods of a :class:`FakeKubeAPI` as local processes (see the module docstring).

    Args:
        api: The running fake API server holding the pods.

    Attributes:
        runs: Every first container that finished, in the order they finished.
    """

    name = "pod"

    def __init__(self, api: FakeKubeAPI) -> None:
        super().__init__(api)
        self.runs: list[PodRun] = []
        self._pods_type = api.resource("v1", "Pod")
        self._pods: dict[str, _Pod] = {}  # by uid
        self._pull_failures: dict[str, str] = {}
        self._scripts: dict[str, _Script] = {}
        self._lock = threading.Lock()

    # Knobs -------------------------------------------------------------------------------

    def fail_image_pull(self, image: str, message: str = "") -> None:
        """Pods whose first container uses ``image`` stay waiting with ``ErrImagePull``."""
        with self._lock:
            self._pull_failures[image] = message or (
                f'failed to pull and unpack image "{image}": not found'
            )

    def script(self, image: str, exit_code: int = 0, output_lines: Sequence[str] = ()) -> None:
        """Pods whose first container uses ``image`` print ``output_lines`` and exit, no process."""
        with self._lock:
            self._scripts[image] = _Script(exit_code, tuple(output_lines))

    # Lifecycle ---------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the background thread and kill the processes still running."""
        try:
            super().stop()
        finally:
            self._kill_all()

    def close(self) -> None:
        """Stop, and kill the processes still running."""
        self.stop()

    def __enter__(self) -> "PodSimulator":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _kill_all(self) -> None:
        with self._step_lock:
            for pod in list(self._pods.values()):
                _kill(pod)

    # Stepping ----------------------------------------------------------------------------

    def _step(self) -> int:
        moved = 0
        seen: set[str] = set()
        for obj in self.store.list_objects(self._pods_type, None):
            uid = str(obj["metadata"].get("uid") or "")
            seen.add(uid)
            pod = self._pods.get(uid)
            if pod is None:
                if (obj.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
                    continue
                meta = obj["metadata"]
                pod = self._pods[uid] = _Pod(meta.get("namespace") or "", meta["name"])
            if obj["metadata"].get("deletionTimestamp"):
                _kill(pod)  # finalizers hold the object, but the kubelet stops it at once
            try:
                moved += self._advance(obj, pod)
            except KubeAPIError as error:
                if error.code not in (404, 409):
                    raise
                moved += 1  # deleted or written meanwhile: the next step sees the news
        for uid in set(self._pods) - seen:
            # The pod was deleted: the kubelet stops its containers.
            _kill(self._pods.pop(uid))
        return moved

    def _advance(self, obj: dict[str, Any], pod: _Pod) -> int:
        containers = list(obj["spec"].get("containers") or [])
        first = containers[0]
        if pod.stage == "new":
            waiting = {"waiting": {"reason": "ContainerCreating"}}
            self._write(obj, "Pending", [_status(c, waiting) for c in containers])
            pod.stage = "creating"
            return 1
        if pod.stage == "creating":
            problem = self._problem(first)
            if problem is not None:
                waiting = {"waiting": {"reason": problem[0], "message": problem[1]}}
                statuses = [_status(first, waiting)] + [
                    _status(c, {"waiting": {"reason": "ContainerCreating"}}) for c in containers[1:]
                ]
                self._write(obj, "Pending", statuses)
                pod.stage = "blocked"
                return 1
            pod.started_at = timestamp(self.store.clock())
            running = {"running": {"startedAt": pod.started_at}}
            self.api.open_pod_log(pod.namespace, pod.name)
            statuses = [_status(c, running, ready=True) for c in containers]
            self._write(obj, "Running", statuses, start_time=pod.started_at)
            pod.stage = "running"
            self._start(pod, first)
            return 1
        if pod.stage == "running" and pod.finished.is_set():
            assert pod.exit_code is not None
            now = timestamp(self.store.clock())
            code = pod.exit_code
            statuses = [_terminated(first, code, pod.started_at, now)]
            statuses += [_terminated(c, 0, pod.started_at, now) for c in containers[1:]]
            self._write(obj, "Succeeded" if code == 0 else "Failed", statuses)
            pod.stage = "done"
            return 1
        return 0

    def _problem(self, container: Mapping[str, Any]) -> tuple[str, str] | None:
        """Why the container cannot start: (waiting reason, message), or None."""
        with self._lock:
            pull_failure = self._pull_failures.get(container.get("image") or "")
            scripted = (container.get("image") or "") in self._scripts
        if pull_failure is not None:
            return "ErrImagePull", pull_failure
        for variable in container.get("env") or []:
            if "valueFrom" in variable:
                return (
                    "CreateContainerConfigError",
                    f'environment variable "{variable["name"]}" uses valueFrom, which the '
                    "pod simulator does not resolve; give it a literal value",
                )
        if container.get("envFrom"):
            return (
                "CreateContainerConfigError",
                "envFrom is not resolved by the pod simulator; give each variable a literal value",
            )
        if not container.get("command") and not scripted:
            return (
                "RunContainerError",
                "the pod simulator runs the container's command locally and ignores the "
                "image's entrypoint; give the container a command",
            )
        return None

    def _write(
        self,
        obj: dict[str, Any],
        phase: str,
        statuses: list[dict[str, Any]],
        start_time: str | None = None,
    ) -> None:
        status = obj.setdefault("status", {})
        status.update(phase=phase, containerStatuses=statuses)
        if start_time:
            status["startTime"] = start_time
        meta = obj["metadata"]
        self.store.replace(
            self._pods_type, meta.get("namespace"), meta["name"], obj, subresource="status"
        )

    # Processes ---------------------------------------------------------------------------

    def _start(self, pod: _Pod, container: Mapping[str, Any]) -> None:
        argv = [str(a) for a in [*(container.get("command") or []), *(container.get("args") or [])]]
        with self._lock:
            scripted = self._scripts.get(container.get("image") or "")
        if scripted is not None:
            for line in scripted.output_lines:
                self.api.append_pod_log(pod.namespace, pod.name, line)
            self._finish(pod, argv, scripted.exit_code)
            return
        env = {key: os.environ[key] for key in _INHERITED_ENV if key in os.environ}
        env.update({v["name"]: str(v.get("value") or "") for v in container.get("env") or []})
        workdir = tempfile.mkdtemp(prefix=f"pod-{pod.name}-")
        try:
            # A session of its own, so that killing the pod kills the children too.
            pod.process = subprocess.Popen(
                argv,
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            # The runtime could not exec the command (not found, not executable).
            shutil.rmtree(workdir, ignore_errors=True)
            self.api.append_pod_log(pod.namespace, pod.name, f"exec {argv[:1]}: {error}")
            self._finish(pod, argv, _SIGNAL_EXIT_BASE)
            return
        threading.Thread(
            target=self._pump,
            args=(pod, pod.process, argv, workdir),
            name=f"pod-{pod.namespace}-{pod.name}",
            daemon=True,
        ).start()

    def _pump(
        self, pod: _Pod, process: subprocess.Popen[bytes], argv: list[str], workdir: str
    ) -> None:
        """Copy the process's output into the pod's log, then record its exit code."""
        assert process.stdout is not None
        try:
            for raw in process.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip("\n").rstrip("\r")
                self.api.append_pod_log(pod.namespace, pod.name, line)
            code = process.wait()
        finally:
            process.stdout.close()
            shutil.rmtree(workdir, ignore_errors=True)
        self._finish(pod, argv, code if code >= 0 else _SIGNAL_EXIT_BASE - code)

    def _finish(self, pod: _Pod, argv: list[str], exit_code: int) -> None:
        with self._lock:
            self.runs.append(PodRun(pod.namespace, pod.name, argv, exit_code))
        pod.exit_code = exit_code
        pod.finished.set()


def _kill(pod: _Pod) -> None:
    process = pod.process
    if process is None or process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    pod.finished.wait(timeout=10)


def _status(
    container: Mapping[str, Any], state: Mapping[str, Any], *, ready: bool = False
) -> dict[str, Any]:
    """A ``containerStatuses`` entry with the fields the ``kubernetes`` client requires."""
    return {
        "name": container.get("name") or "",
        "image": container.get("image") or "",
        "imageID": "",
        "ready": ready,
        "started": "running" in state,
        "restartCount": 0,
        "state": dict(state),
    }


def _terminated(container: Mapping[str, Any], code: int, started: str, now: str) -> dict[str, Any]:
    reason = "Completed" if code == 0 else "Error"
    state = {"exitCode": code, "reason": reason, "startedAt": started, "finishedAt": now}
    return _status(container, {"terminated": state})
