"""The stepping and threading shared by the controller simulators.

A simulator stands in for a Kubernetes controller (Argo CD's application controller, Argo
Rollouts' analysis controller): it reads objects from a
:class:`~kargo_dagster.testing.kube_api.FakeKubeAPI` and writes their status back through
the same store the HTTP clients use, so its writes get resourceVersions, conflicts and
schema validation like anyone else's.

Two ways to drive one:

* **stepped**, for deterministic tests: each :meth:`SimulatedController.step` moves every
  object by at most one transition; :meth:`SimulatedController.settle` steps until nothing
  moves;
* **in the background**, for code that polls: ``with simulator.running():`` steps on a
  thread whenever the store changes, and at least every ``interval`` seconds (slow
  operations count steps, so they last ``steps * interval`` seconds of wall time).
"""

import contextlib
import threading
from collections.abc import Iterator

from kargo_dagster.errors import KargoDagsterError
from kargo_dagster.testing.kube_api import FakeKubeAPI

__all__ = ["SimulatedController", "SimulatorError"]


class SimulatorError(KargoDagsterError):
    """A simulator that could not settle, or failed on its background thread."""


class SimulatedController:
    """Base class: subclasses implement :meth:`_step`.

    Args:
        api: The fake API server whose objects the simulator drives.
    """

    name = "controller"

    def __init__(self, api: FakeKubeAPI) -> None:
        self.api = api
        self.store = api.store
        self._step_lock = threading.RLock()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._failure: BaseException | None = None

    def _step(self) -> int:
        raise NotImplementedError

    def step(self) -> int:
        """Move every object by at most one transition; how many moved (or counted a step)."""
        with self._step_lock:
            return self._step()

    def settle(self, max_steps: int = 200) -> int:
        """Step until a step moves nothing; the number of steps that moved something.

        Raises:
            SimulatorError: Still moving after ``max_steps`` steps.
        """
        for taken in range(max_steps):
            if self.step() == 0:
                return taken
        raise SimulatorError(f"the {self.name} simulator did not settle in {max_steps} steps")

    def start(self, interval: float = 0.02) -> None:
        """Step on a background thread until :meth:`stop`."""
        if self._thread is not None:
            return
        self._stopping.clear()
        self._failure = None
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name=f"{self.name}-simulator", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop the background thread.

        Raises:
            SimulatorError: The thread failed; the original exception is the cause.
        """
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stopping.set()
        thread.join(timeout=10)
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise SimulatorError(f"the {self.name} simulator failed: {failure}") from failure

    @contextlib.contextmanager
    def running(self, interval: float = 0.02) -> Iterator["SimulatedController"]:
        """Run in the background for the duration of a ``with`` block."""
        self.start(interval)
        try:
            yield self
        finally:
            self.stop()

    def _loop(self, interval: float) -> None:
        while not self._stopping.is_set():
            seen = self.store.revision
            try:
                moved = self.step()
            except Exception as error:  # noqa: BLE001 - reported by stop()
                self._failure = error
                return
            if moved:
                self._stopping.wait(interval)
            else:
                self.store.wait_for_change(seen, timeout=interval)
