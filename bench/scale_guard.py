"""Measurements that cannot hang the bench: forked children and processes with a time limit.

:class:`Guard` runs a function in a child forked from the process holding the opened instance
(so the child starts from the same warm state), counting the SQL statements it executes
(SQLAlchemy's ``before_cursor_execute`` on every ``Engine``) and the database connections it
opens (``connect`` on every ``Pool``; Dagster's PostgreSQL storages open one per use). A child
that has not answered within the timeout is killed, and whatever it left running in the
database is cancelled. :func:`run_process` times a command in a new session, killed with its
process group after the timeout.
"""

import gc
import multiprocessing
import os
import signal
import statistics
import subprocess
import time
import traceback
from collections.abc import Callable
from typing import Any

from scale_database import cancel_queries

__all__ = ["Guard", "median", "rounded", "run_process"]


def _child(function: Callable[[], Any], pipe: Any) -> None:
    """In the forked child: count statements and connections around ``function``."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    counts = {"statements": 0, "connections": 0}

    def statement(*_: Any, **__: Any) -> None:
        counts["statements"] += 1

    def connection(*_: Any, **__: Any) -> None:
        counts["connections"] += 1

    event.listen(Engine, "before_cursor_execute", statement)
    event.listen(Pool, "connect", connection)
    try:
        started = time.perf_counter()
        result = function()
        seconds = time.perf_counter() - started
        pipe.send(("ok", seconds, counts, result))
    except BaseException:  # noqa: BLE001 - reported to the parent
        pipe.send(("error", None, counts, traceback.format_exc()))
    finally:
        pipe.close()


class Guard:
    """Runs measurements in forked children, each abandoned after ``timeout`` seconds."""

    def __init__(self, timeout: float, database: str):
        self.timeout = timeout
        self.database = database
        self._fork = multiprocessing.get_context("fork")

    def measure(self, what: str, function: Callable[[], Any]) -> tuple[float | None, dict, Any]:
        """Seconds, ``{"statements", "connections"}`` and the function's (picklable) result;
        seconds and result are None when it failed or outlived the timeout."""
        receiver, sender = self._fork.Pipe(duplex=False)
        child = self._fork.Process(target=_child, args=(function, sender), daemon=True)
        # The child's garbage collector would otherwise walk, and so copy, every page of this
        # process's heap on its first collection: tens of milliseconds billed to the function.
        gc.freeze()
        try:
            child.start()
        finally:
            gc.unfreeze()
        sender.close()
        try:
            if not receiver.poll(self.timeout):
                print(f"{what}: no answer after {self.timeout:.0f} s, abandoned", flush=True)
                return None, {"statements": None, "connections": None}, None
            try:
                outcome, seconds, counts, result = receiver.recv()
            except EOFError:
                outcome, seconds, result = "error", None, "the child died"
                counts = {"statements": None, "connections": None}
        finally:
            if child.is_alive():
                child.kill()
                cancel_queries(self.database)
            child.join()
            receiver.close()
        if outcome != "ok":
            print(f"{what}: failed\n{result}", flush=True)
            return None, counts, None
        return seconds, counts, result


def run_process(
    command: list[str], env: dict[str, str], timeout: float
) -> tuple[float | None, str]:
    """Wall time and output of ``command``; None after ``timeout`` (its process group is
    killed) or on failure."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return None, f"no answer after {timeout:.0f} s"
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        return None, err[-2000:]
    return seconds, out


def median(values: list[float | None], digits: int = 3) -> float | None:
    """The median, or None when any sample is missing."""
    present = [v for v in values if v is not None]
    return round(statistics.median(present), digits) if len(present) == len(values) else None


def rounded(value: float | None, digits: int = 3) -> float | None:
    """``value`` rounded, or None."""
    return None if value is None else round(value, digits)
