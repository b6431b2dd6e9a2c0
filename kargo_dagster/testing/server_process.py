"""Stopping the server processes the test fakes start (registries, sshd)."""

import subprocess

__all__ = ["stop_process"]


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
