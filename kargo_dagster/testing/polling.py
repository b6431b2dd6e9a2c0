"""Waiting for a condition: the one polling loop the fakes, the tests and the benchmarks share.

A server started in another process, a run picked up by the daemon, a sensor's next tick:
each is awaited by asking again until the answer is truthy. Waiting on a condition rather
than sleeping a fixed time keeps fast machines fast and slow machines correct, and a process
that dies while awaited ends the wait at once, with what it printed, instead of at the
timeout.
"""

import os
import subprocess
import time
from collections.abc import Callable
from typing import IO, Any, TypeVar

__all__ = ["WaitTimeout", "wait_until"]

T = TypeVar("T")

# How much of an exited process's output the error quotes: its end, where the reason is.
_OUTPUT_TAIL = 4000


class WaitTimeout(TimeoutError):
    """A condition did not hold in time, or the process it depended on exited."""


def wait_until(
    condition: Callable[[], T | None],
    *,
    what: str | Callable[[], str],
    timeout: float = 30.0,
    interval: float = 0.1,
    process: "subprocess.Popen[bytes] | subprocess.Popen[str] | None" = None,
) -> T:
    """Call ``condition`` until it answers something truthy, and return that answer.

    Args:
        condition: Asked repeatedly; an exception it raises ends the wait with that error.
        what: What is awaited, for the error (``"the webserver to answer"``); a callable is
            asked only when the wait fails, so that the error can tell where things stood.
        timeout: Seconds to wait before giving up.
        interval: Seconds between two questions.
        process: A process the condition depends on; its exit ends the wait.

    Raises:
        WaitTimeout: ``condition`` was still falsy after ``timeout`` seconds, or ``process``
            exited first.
    """
    deadline = time.monotonic() + timeout
    while True:
        answer = condition()
        if answer:
            return answer
        if process is not None and process.poll() is not None:
            raise WaitTimeout(
                f"gave up waiting for {_said(what)}: the process exited with "
                f"{process.returncode}{_output(process)}"
            )
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"gave up waiting for {_said(what)} after {timeout:g} s")
        time.sleep(interval)


def _said(what: str | Callable[[], str]) -> str:
    return what if isinstance(what, str) else what()


def _output(process: "subprocess.Popen[bytes] | subprocess.Popen[str]") -> str:
    """What an exited process printed on the pipes it was given, when it was captured."""
    printed = b"".join(_available(stream) for stream in (process.stdout, process.stderr))
    text = printed.decode(errors="replace")
    return f"; its output ended:\n{text[-_OUTPUT_TAIL:]}" if text else ""


def _available(stream: "IO[Any] | None") -> bytes:
    """What can be read from ``stream`` now, without waiting for it to close.

    The process has exited, but a child it started may still hold the pipe open: reading to
    the end would wait for that child too.
    """
    if stream is None or stream.closed:
        return b""
    fd = stream.fileno()
    chunks: list[bytes] = []
    os.set_blocking(fd, False)
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    except BlockingIOError:
        pass
    finally:
        # Whoever reads the rest (``communicate()``, say) expects a blocking pipe.
        os.set_blocking(fd, True)
    return b"".join(chunks)
