"""Starting and stopping the server processes the test fakes run (docker-registry, sshd).

The fakes written in Python serve from a thread
(:class:`~kargo_dagster.testing.loopback.LoopbackService`); the real servers run as child
processes, and this module is their one start-and-stop: pick a free loopback port, launch,
wait until the server answers (:func:`~kargo_dagster.testing.polling.wait_until`), and stop
the process by its PID.
"""

import functools
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

from kargo_dagster.errors import KargoDagsterError
from kargo_dagster.testing.polling import WaitTimeout, wait_until

__all__ = [
    "RegistryServerError",
    "free_port",
    "start_server_process",
    "stop_process",
]

# A port found free can be taken by another process before the server binds it.
_ATTEMPTS = 3


class RegistryServerError(KargoDagsterError):
    """A test server could not be started."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server_process(
    launch: Callable[[int], "subprocess.Popen[bytes]"],
    answers: Callable[[int], bool],
    *,
    what: str,
    log: Path,
    port: int | None = None,
    startup_timeout: float = 10.0,
) -> "tuple[subprocess.Popen[bytes], int]":
    """Launch a server on ``port`` (default: a free one) and wait until it answers.

    A server that exits or does not answer in time is stopped and, on a free port, launched
    again on another one, three times in all: the port may have been taken in between.

    Args:
        launch: Starts the server listening on the port given.
        answers: Whether the server on the port given answers as it should; it must not
            raise when nothing listens yet.
        what: The server's name, for the error.
        log: Where the server writes its log, whose end the error quotes.
        port: A fixed port; default: any free one.
        startup_timeout: Seconds to wait for one launch to answer.

    Returns:
        The running process and its port.

    Raises:
        RegistryServerError: The server did not come up.
    """
    for _ in range(1 if port else _ATTEMPTS):
        chosen = port or free_port()
        process = launch(chosen)
        try:
            wait_until(
                functools.partial(answers, chosen),
                what=f"{what} to answer",
                timeout=startup_timeout,
                interval=0.02,
                process=process,
            )
        except WaitTimeout:
            stop_process(process)
            continue
        return process, chosen
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RegistryServerError(f"{what} did not start; its log ends:\n{tail}")


def stop_process(process: "subprocess.Popen[bytes] | None", *, grace: float = 5.0) -> None:
    """Ask ``process`` to stop, kill it after ``grace`` seconds, and reap it; None: nothing."""
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)
