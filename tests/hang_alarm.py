"""A hang alarm for tests of code that must end: no timing assertion, only a bound on hanging.

What a test asserts must not depend on how busy the machine is, so tests that check that
something stops (a deadline, a budget, a loader on hostile input) assert on what it reports,
and bound only how long it may run before the test counts it as hung.
"""

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Hung(Exception):
    """The code under the alarm ran past it."""


@contextmanager
def hang_alarm(seconds: float, what: str = "the code under test") -> Iterator[None]:
    """Raises :class:`Hung` in the code under test if it runs longer than ``seconds``.

    Only in the main thread (where pytest, and each xdist worker, runs tests).
    """

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Hung(f"{what} still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
