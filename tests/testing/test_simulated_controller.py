"""Stepping and the background thread shared by the simulators."""

import threading

import pytest

from kargo_dagster.testing.polling import wait_until
from kargo_dagster.testing.simulated_controller import SimulatedController, SimulatorError


class Countdown(SimulatedController):
    """Moves for ``steps`` steps, then settles; fails when told to."""

    name = "countdown"

    def __init__(self, api, steps: int, fail: bool = False) -> None:
        super().__init__(api)
        self.remaining = steps
        self.fail = fail
        self.failed = threading.Event()

    def _step(self) -> int:
        if self.fail:
            self.failed.set()
            raise RuntimeError("boom")
        if self.remaining == 0:
            return 0
        self.remaining -= 1
        return 1


def test_settle_counts_the_steps_that_moved(kube):
    assert Countdown(kube, 3).settle() == 3
    with pytest.raises(SimulatorError, match="countdown simulator did not settle in 5 steps"):
        Countdown(kube, 10).settle(max_steps=5)


def test_running_steps_in_the_background(kube):
    countdown = Countdown(kube, 5)
    with countdown.running(interval=0.001):
        wait_until(lambda: countdown.remaining == 0, what="five steps", interval=0.005)
    assert countdown.remaining == 0


def test_a_failure_on_the_background_thread_is_raised_by_stop(kube):
    failing = Countdown(kube, 1, fail=True)
    failing.start(interval=0.001)
    # Stopping joins the thread, which records the failure on its way out.
    assert failing.failed.wait(timeout=30), "the background thread never stepped"
    with pytest.raises(SimulatorError, match="countdown simulator failed: boom"):
        failing.stop()
